/**
 * A trained scorer as it ships: `scorer.json` (its architecture, how it was trained, and a tfjs
 * weights manifest) and `scorer.bin` (float32 weights, the spectral normalisation applied), written
 * by `gan train-scorer` and copied into a model version by `gan derive`. The worker reads the same
 * two files through core's sampler loader.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SCORER_JSON, SCORER_WEIGHTS, type ScorerFileJson, parseScorerJson } from '@gan/core/sampling';
import { writeDirectoryAtomically } from '../atomic-write.ts';

/** Training facts recorded in scorer.json and, by `gan derive`, in the manifest and card. */
export interface ScorerTraining {
  model: { name: string; version: string };
  data: string;
  steps: number;
  batchSize: number;
  seed: string;
  seconds: number;
  loss: 'bce';
  augment: string[];
  /** Validation on real training images the scorer never saw and fresh samples (see train-scorer.ts). */
  validation?: Record<string, number>;
}

/** Writes (or replaces) a scorer directory with exactly these files. */
export function writeScorerDirectory(dir: string, files: Map<string, Uint8Array>): Promise<void> {
  return writeDirectoryAtomically(dir, files);
}

/** A scorer directory's files and its parsed scorer.json. */
export async function readScorerDirectory(dir: string): Promise<{ files: Map<string, Uint8Array>; json: ScorerFileJson }> {
  const files = new Map<string, Uint8Array>();
  for (const name of [SCORER_JSON, SCORER_WEIGHTS]) files.set(name, new Uint8Array(await readFile(path.join(dir, name))));
  return { files, json: parseScorerJson(new TextDecoder().decode(files.get(SCORER_JSON)!)) };
}
