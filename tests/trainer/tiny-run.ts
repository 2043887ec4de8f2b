/** The smallest real training run the trainer tests use: 16 px mnist, widths 4, a checkpoint every 2 steps. */
import os from 'node:os';
import path from 'node:path';
import type { TrainOptions } from '@gan/trainer/train/run';
import { ARTICLE_ADAM } from '@gan/trainer/train/step';

/** Prepared data sets shared by the trainer tests (mnist is decoded once per machine). */
export const testCacheDir = path.join(os.tmpdir(), 'gan-test-cache');

/** `gan train` flags for one quiet step on the cpu backend into `outDir`, with the tests' data cache. */
export const oneQuietStep = (outDir: string) => [
  '--steps',
  '1',
  '--backend',
  'cpu',
  '--progress',
  'quiet',
  '--cache-dir',
  testCacheDir,
  '--out',
  outDir,
];

export function tinyRun(backend: string, outDir: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    data: 'mnist',
    imageSize: 16,
    batchSize: 8,
    latentSize: 8,
    generatorWidth: 4,
    discriminatorWidth: 4,
    generatorAdam: ARTICLE_ADAM,
    discriminatorAdam: ARTICLE_ADAM,
    seed: 'test',
    backend,
    outDir,
    cacheDir: testCacheDir,
    checkpointEvery: 2,
    previewEvery: 2,
    progress: 'quiet',
    info: () => {},
    warn: () => {},
    ...extra,
  };
}
