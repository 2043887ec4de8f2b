/**
 * Which candidate sampler (sampler.ts) a loaded generator renders its cells with. A model version's
 * sampling is part of the version: loadGenerator attaches the sampler its manifest describes to the
 * generator it builds, so every reader of that version (the worker from R2 or from its bundle,
 * `gan sample`, `gan walk`, the export's sample) renders the same cells the same way without passing
 * it along. A generator with nothing attached renders each seed's own latent, as before sampling existed.
 */
import type { FastGenerator } from './inference.ts';
import type { GridCell } from './prng.ts';

/** A generator input: a latent and, on conditional models, the class input (render.ts's InputPoint). */
export interface SampledPoint {
  latent: Float32Array;
  classWeights?: Float32Array;
}

/** Chooses the input point of each cell. */
export interface CellSampler {
  /** Latents drawn per cell (the version's K). */
  readonly candidates: number;
  points(generator: FastGenerator, cells: readonly GridCell[], truncation: number): SampledPoint[];
}

const attached = new WeakMap<FastGenerator, CellSampler>();

/** Renders `generator`'s cells with `sampler` from now on (loadGenerator does this for versions with `sampling`). */
export function attachSampler(generator: FastGenerator, sampler: CellSampler): void {
  attached.set(generator, sampler);
}

/** The sampler attached to `generator`, if any. */
export function samplerOf(generator: FastGenerator): CellSampler | undefined {
  return attached.get(generator);
}
