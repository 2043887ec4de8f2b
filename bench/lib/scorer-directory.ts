/** A scorer directory (gan train-scorer's <out>/scorer) → a sampler drawing K candidates, for benches. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CandidateSampler, SCORER_JSON, decodeWeights, parseScorerJson, scorerWeightsFrom } from '@gan/core';

export async function samplerFromDirectory(dir: string, candidates: number): Promise<CandidateSampler> {
  const json = parseScorerJson(await readFile(path.join(dir, SCORER_JSON), 'utf8'));
  const tensors = await decodeWeights(json, async (p) => {
    const b = await readFile(path.join(dir, p));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
  const named = Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, { shape: t.shape, data: t.dataSync() as Float32Array }]));
  tf.dispose(Object.values(tensors));
  return new CandidateSampler(candidates, json.architecture, scorerWeightsFrom(json.architecture, named));
}
