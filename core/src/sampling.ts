/**
 * What a model version says about how its seeds become images, when it says anything: the manifest's
 * optional `sampling` section and the scorer's own file (`scorer.json`). A version without `sampling`
 * renders each seed's latent as it always has. Pure schemas, no tensors.
 */
import { z } from 'zod';
import { type NamedWeight, encodeWeightShards } from './export-format.ts';
import { type ScorerArchitecture, ScorerArchitectureSchema } from './scorer.ts';

/** The scorer's description and weights manifest, and its float32 weights. */
export const SCORER_JSON = 'scorer.json';
export const SCORER_WEIGHTS = 'scorer.bin';

/** Most candidates a version may draw per image (bounds the work a request can ask for). */
export const MAX_CANDIDATES = 16;

/**
 * The manifest's `sampling` section. `candidates` is a constant of the version: a pinned URL draws
 * the same candidates and keeps the same one forever. The scorer's files are listed (size and
 * sha256) in the manifest's `files`, and verified before use like the generator's.
 */
export const SamplingSchema = z
  .object({
    /** K: latents drawn per image from its seed; the scorer's favourite is rendered. 1 = plain sampling. */
    candidates: z.number().int().min(1).max(MAX_CANDIDATES),
    scorer: z
      .object({
        /** Always scorer.json (it names scorer.bin in its weights manifest). */
        file: z.literal(SCORER_JSON),
        architecture: ScorerArchitectureSchema,
      })
      .strict(),
    /** How the scorer was made, for people (the card repeats it). */
    training: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type Sampling = z.infer<typeof SamplingSchema>;

/** scorer.json: the scorer's architecture, how it was trained, and where its weights are. */
export const ScorerFileJsonSchema = z.object({
  format: z.literal('gan-scorer'),
  architecture: ScorerArchitectureSchema,
  training: z.record(z.string(), z.unknown()),
  weightsManifest: z
    .array(
      z.object({
        paths: z.array(z.string()),
        weights: z.array(z.object({ name: z.string(), shape: z.array(z.number().int()), dtype: z.literal('float32') }).passthrough()),
      }),
    )
    .length(1),
});
export type ScorerFileJson = z.infer<typeof ScorerFileJsonSchema>;

export class ScorerFileError extends Error {
  override name = 'ScorerFileError';
}

export function parseScorerJson(text: string): ScorerFileJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ScorerFileError(`${SCORER_JSON} is not JSON`);
  }
  const parsed = ScorerFileJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ScorerFileError(`${SCORER_JSON} is invalid (${issue.path.join('.') || 'root'}: ${issue.message})`);
  }
  return parsed.data;
}

/** scorer.json and scorer.bin for a scorer's architecture, training record and (already normalised) weights. */
export function encodeScorerFiles(
  architecture: ScorerArchitecture,
  training: Record<string, unknown>,
  weights: NamedWeight[],
): Map<string, Uint8Array> {
  const { weightsManifest, shards } = encodeWeightShards(weights, { shardBytes: Number.MAX_SAFE_INTEGER });
  const json: ScorerFileJson = {
    format: 'gan-scorer',
    architecture,
    training,
    weightsManifest: [{ paths: [SCORER_WEIGHTS], weights: weightsManifest[0].weights.map((w) => ({ ...w, dtype: 'float32' as const })) }],
  };
  return new Map<string, Uint8Array>([
    [SCORER_JSON, new TextEncoder().encode(JSON.stringify(json))],
    [SCORER_WEIGHTS, shards[0].bytes],
  ]);
}

/** Images generated (and scored) per cell drawn from a seed: K on a version with sampling, else 1. */
export function candidatesPerCell(sampling: Sampling | undefined): number {
  return sampling?.candidates ?? 1;
}
