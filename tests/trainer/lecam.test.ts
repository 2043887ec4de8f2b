/** LeCam regularisation (trainer/src/train/lecam.ts): the term against hand-computed values, the anchors' averages, and the D step that adds it. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '@gan/core/config';
import { Sfc32 } from '@gan/core/prng';
import { LECAM_DECAY, LECAM_TENSOR, LeCamState, lecamPenalty } from '@gan/trainer/train/lecam';
import { discriminatorStep, generatorInputTensor } from '@gan/trainer/train/step';
import { freshModels } from './tiny-run.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('the LeCam term', () => {
  it('is λ·(mean((D(x) − α_fake)²) + mean((D(G(z)) − α_real)²))', () => {
    const value = tf.tidy(
      () =>
        lecamPenalty({ weight: 0.3, anchors: { real: 0.5, fake: -1 } }, tf.tensor2d([[1], [3]]), tf.tensor2d([[-2], [0]])).dataSync()[0],
    );
    // real: ((1 + 1)² + (3 + 1)²) / 2 = 10; fake: ((−2 − 0.5)² + (0 − 0.5)²) / 2 = 3.25
    expect(value).toBeCloseTo(0.3 * 13.25, 6);
  });

  it('is zero where every logit sits on the other side’s anchor, and its gradient pulls the logits towards them', () => {
    const term = { weight: 1, anchors: { real: 2, fake: -2 } };
    const [at, grads] = tf.tidy(() => {
      const real = tf.tensor2d([[-2], [-2]]);
      const fake = tf.tensor2d([[2], [2]]);
      const zero = lecamPenalty(term, real, fake).dataSync()[0];
      const g = tf.grads((r: tf.Tensor, f: tf.Tensor) => lecamPenalty(term, r, f))([tf.tensor2d([[0], [-3]]), tf.tensor2d([[3], [1]])]);
      return [zero, g.map((t) => Array.from(t.dataSync()))];
    });
    expect(at).toBe(0);
    // d/dr mean((r + 2)²) = (r + 2) for two samples: 2 and −1; d/df mean((f − 2)²) = (f − 2): 1 and −1
    expect(grads[0]).toEqual([2, -1]);
    expect(grads[1]).toEqual([1, -1]);
  });
});

describe('the anchors', () => {
  it('start at the first step’s means, then average with decay 0.99 in float32, and survive a checkpoint', () => {
    const state = new LeCamState(0.3);
    expect(state.term()).toBeUndefined();
    expect(state.saved()).toEqual([]);
    state.update(1.5, -2);
    expect(state.term()).toEqual({ weight: 0.3, anchors: { real: 1.5, fake: -2 } });
    state.update(0.5, 0);
    const expected = { real: Math.fround(LECAM_DECAY * 1.5 + 0.01 * 0.5), fake: Math.fround(LECAM_DECAY * -2) };
    expect(state.term()!.anchors).toEqual(expected);
    const [saved] = state.saved();
    expect(saved.name).toBe(LECAM_TENSOR);
    const restored = new LeCamState(0.3);
    restored.restore(new Map([[saved.name, saved]]));
    expect(restored.term()).toEqual(state.term());
  });
});

describe('the discriminator step with a LeCam term', () => {
  const config: ModelConfig = { imageSize: 16, channels: 1, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 0 };
  const N = 4;
  const setup = () => freshModels(config);

  it('adds λ·R of the batch’s logits to D’s loss, moves D differently, reports the mean logits, and leaks nothing', async () => {
    const real = tf.tidy(() => tf.tanh(tf.randomNormal([N, 16, 16, 1], 0, 1, 'float32', 3))) as tf.Tensor4D;
    const noise = Sfc32.fromSeed('lecam-step').fillNormal(new Float32Array(N * config.latentSize));
    const term = { weight: 0.5, anchors: { real: 0.7, fake: -0.4 } };
    // D's logits on this batch before any update, from a third copy (training mode moves its BN statistics).
    const probe = setup();
    const [realLogits, fakeLogits] = tf.tidy(() => {
      const fake = probe.models.generator.apply(generatorInputTensor(config, noise), { training: true }) as tf.Tensor;
      return [real, fake].map((x) => probe.models.discriminator.apply(x, { training: true }) as tf.Tensor);
    });
    const expected = tf.tidy(() => lecamPenalty(term, realLogits, fakeLogits).dataSync()[0]);
    const plain = setup();
    const regularised = setup();
    const a = await discriminatorStep(plain.models, plain.optimizer, { real, noise }, 'bce', 0);
    const b = await discriminatorStep(regularised.models, regularised.optimizer, { real, noise }, 'bce', 0, term);
    expect(b.d_loss - a.d_loss).toBeCloseTo(expected, 5);
    expect(b.realLogit).toBeCloseTo(tf.mean(realLogits).dataSync()[0], 5);
    expect(b.fakeLogit).toBeCloseTo(tf.mean(fakeLogits).dataSync()[0], 5);
    const weights = (s: ReturnType<typeof setup>) => s.models.discriminator.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    expect(weights(regularised)).not.toEqual(weights(plain));

    await discriminatorStep(regularised.models, regularised.optimizer, { real, noise }, 'bce', 0, term);
    const before = tf.memory().numTensors;
    await discriminatorStep(regularised.models, regularised.optimizer, { real, noise }, 'bce', 0, term);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([real, realLogits, fakeLogits]);
    for (const s of [probe, plain, regularised]) s.dispose();
  });
});
