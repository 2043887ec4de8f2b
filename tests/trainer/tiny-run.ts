/** The smallest real training run the trainer tests use: 16 px mnist, widths 4, a checkpoint every 2 steps. */
import os from 'node:os';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '@gan/core/config';
import { buildDiscriminator, buildGenerator } from '@gan/core/model';
import type { TrainOptions } from '@gan/trainer/train/run';
import { ARTICLE_ADAM, type GanModels, createAdam } from '@gan/trainer/train/step';

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

/** A freshly initialised G and D of `config` (D with class planes) and one Adam, for single-step tests; `dispose` frees all three. */
export function freshModels(config: ModelConfig): { models: GanModels; optimizer: tf.Optimizer; dispose: () => void } {
  const models: GanModels = {
    config,
    generator: buildGenerator(config, 1),
    discriminator: buildDiscriminator(config, 1, 'planes'),
    conditioning: 'planes',
  };
  const optimizer = createAdam(ARTICLE_ADAM);
  return {
    models,
    optimizer,
    dispose: () => {
      models.generator.dispose();
      models.discriminator.dispose();
      optimizer.dispose();
    },
  };
}
