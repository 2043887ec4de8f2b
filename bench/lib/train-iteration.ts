/** One training iteration of the reference architecture (the trainer's D step then G step), on synthetic data. */
import * as tf from '@tensorflow/tfjs-core';
import { buildDiscriminator, buildGenerator } from '@gan/core/model';
import { ARTICLE_ADAM, createAdam, discriminatorStep, generatorStep } from '../../trainer/src/train/step.ts';
import { CONFIG, values } from './models.ts';

/** Standard normal noise (Box–Muller over a seeded hash sequence). */
function normal(size: number, seed: number): Float32Array {
  const u = values(2 * size, seed).map((v) => (v + 1) / 2);
  return Float32Array.from({ length: size }, (_, i) => Math.sqrt(-2 * Math.log(u[2 * i] + 1e-12)) * Math.cos(2 * Math.PI * u[2 * i + 1]));
}

/** A function that runs one iteration of a freshly built pair of networks at `batch` on `backend`. */
export async function trainer(backend: 'wasm' | 'cpu', batch: number) {
  await tf.setBackend(backend);
  const models = { config: CONFIG, generator: buildGenerator(CONFIG, 1), discriminator: buildDiscriminator(CONFIG, 1) };
  const dOpt = createAdam(ARTICLE_ADAM);
  const gOpt = createAdam(ARTICLE_ADAM);
  const real = tf.tensor4d(values(batch * 32 * 32 * 3, 21), [batch, 32, 32, 3]);
  let step = 0;
  return async () => {
    if (tf.getBackend() !== backend) await tf.setBackend(backend);
    step++;
    await discriminatorStep(models, dOpt, { real, noise: normal(batch * CONFIG.latentSize, 2 * step) });
    await generatorStep(models, gOpt, { noise: normal(batch * CONFIG.latentSize, 2 * step + 1) });
  };
}

