/**
 * Candidate sampling: a seed draws K latents and the cell renders the one the version's scorer likes
 * best (Discriminator Rejection Sampling, Azadi et al. 2019, in its best-of-K form).
 *
 * - Candidate 0 is the seed's own latent (latentFromSeed); candidate k is the k-th further draw of
 *   the same sfc32 stream, each candidate starting a fresh Box–Muller pair. So K = 1 is plain
 *   sampling, and the truncation scales every candidate as it scales the one latent.
 * - All candidates of a request run through the generator together (in render.ts's passes) at the
 *   model's own size; each becomes 8-bit pixels, which scorer.ts scores in plain double-precision
 *   JavaScript. The pick therefore follows from the image bytes alone: the same in Node and in
 *   workerd, and the same whatever size or filter the request asks for.
 * - The highest score wins; a tie goes to the lowest index, and a NaN score never wins.
 * - The chosen latent is then rendered like any other (the request's size, filter, walk or morph).
 */
import { type CellSampler, type SampledPoint, attachSampler } from './cell-sampler.ts';
import { toPixels } from './image.ts';
import type { FastGenerator } from './inference.ts';
import { type Manifest, type ModelFileSource, readVerifiedFile } from './manifest.ts';
import { type GridCell, Sfc32 } from './prng.ts';
import { forEachPass, oneHot } from './render.ts';
import { SCORER_JSON, parseScorerJson } from './sampling.ts';
import { type ScorerArchitecture, type ScorerWeights, scoreImages, scorerWeightsFrom } from './scorer.ts';
import { decodeWeights } from './weights.ts';

/** The K candidate latents of a seed, candidate 0 being latentFromSeed(seed, latentSize, truncation). */
export function candidateLatents(seed: string, latentSize: number, candidates: number, truncation = 1): Float32Array[] {
  if (!(truncation > 0 && truncation <= 1)) throw new RangeError('truncation must be in (0, 1]');
  const rng = Sfc32.fromSeed(seed);
  return Array.from({ length: candidates }, () => rng.fillNormal(new Float32Array(latentSize), truncation));
}

/** Index (from 0) of the highest of scores[start … start + count - 1]; ties to the lowest, NaN never wins. */
export function bestIndex(scores: ArrayLike<number>, start: number, count: number): number {
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < count; k++) {
    const s = scores[start + k];
    if (s > bestScore) {
      best = k;
      bestScore = s;
    }
  }
  return best;
}

/** Picks each cell's latent among K candidates by a scorer's verdict on their images. */
export class CandidateSampler implements CellSampler {
  constructor(
    readonly candidates: number,
    readonly architecture: ScorerArchitecture,
    readonly weights: ScorerWeights,
  ) {
    if (!(Number.isInteger(candidates) && candidates >= 1)) throw new RangeError('candidates must be a whole number from 1');
  }

  /** Every candidate of every cell, cell by cell, and their scores. */
  score(generator: FastGenerator, cells: readonly GridCell[], truncation = 1): { points: SampledPoint[]; scores: Float64Array } {
    const { config } = generator;
    const { architecture: a } = this;
    if (a.imageSize !== config.imageSize || a.channels !== config.channels || a.numClasses !== config.numClasses) {
      throw new RangeError('the scorer does not fit this generator');
    }
    const points: SampledPoint[] = [];
    const classes: (number | undefined)[] = [];
    for (const cell of cells) {
      const classWeights = config.numClasses > 0 ? oneHot(config.numClasses, cell.classIndex ?? 0) : undefined;
      for (const latent of candidateLatents(cell.seed, config.latentSize, this.candidates, truncation)) {
        points.push(classWeights ? { latent, classWeights } : { latent });
        classes.push(config.numClasses > 0 ? (cell.classIndex ?? 0) : undefined);
      }
    }
    const imageBytes = config.imageSize * config.imageSize * config.channels;
    const pixels = new Uint8Array(points.length * imageBytes);
    forEachPass(generator, points, config.imageSize, (images, start) => {
      pixels.set(toPixels(images).data, start * imageBytes);
    });
    return { points, scores: scoreImages(a, this.weights, pixels, points.length, classes) };
  }

  points(generator: FastGenerator, cells: readonly GridCell[], truncation = 1): SampledPoint[] {
    const k = this.candidates;
    if (k === 1) {
      // Plain sampling: the seed's own latent, nothing to score.
      return cells.map((cell) => {
        const [latent] = candidateLatents(cell.seed, generator.config.latentSize, 1, truncation);
        const n = generator.config.numClasses;
        return n > 0 ? { latent, classWeights: oneHot(n, cell.classIndex ?? 0) } : { latent };
      });
    }
    const { points, scores } = this.score(generator, cells, truncation);
    return cells.map((_, i) => points[i * k + bestIndex(scores, i * k, k)]);
  }
}

/**
 * The sampler a manifest's `sampling` section describes (undefined without one), from its scorer
 * files, each verified against the manifest first as the generator's are.
 */
export async function loadSampler(model: string, manifest: Manifest, source: ModelFileSource): Promise<CandidateSampler | undefined> {
  const sampling = manifest.sampling;
  if (!sampling) return undefined;
  const json = parseScorerJson(new TextDecoder().decode(await readVerifiedFile(model, manifest, SCORER_JSON, source)));
  if (JSON.stringify(json.architecture) !== JSON.stringify(sampling.scorer.architecture)) {
    throw new RangeError(`${SCORER_JSON} describes another scorer than the manifest`);
  }
  const shards = new Map<string, Uint8Array>();
  for (const path of json.weightsManifest[0].paths) shards.set(path, await readVerifiedFile(model, manifest, path, source));
  const tensors = await decodeWeights(json, async (path) => {
    const bytes = shards.get(path)!;
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  });
  const named: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(tensors)) {
    named[name] = { shape: t.shape, data: t.dataSync() as Float32Array };
    t.dispose();
  }
  return new CandidateSampler(sampling.candidates, json.architecture, scorerWeightsFrom(json.architecture, named));
}

/** Attaches the version's sampler (if its manifest has one) to a generator just built from it. */
export async function attachVersionSampler(
  model: string,
  manifest: Manifest,
  source: ModelFileSource,
  generator: FastGenerator,
): Promise<void> {
  const sampler = await loadSampler(model, manifest, source);
  if (sampler) attachSampler(generator, sampler);
}
