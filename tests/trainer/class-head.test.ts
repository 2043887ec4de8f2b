/**
 * `gan class-head`: the share of held-out real images D's class head puts in their class, of G's
 * images it puts in the class asked for, and (with the generated class) of G's it calls generated.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '@gan/core/config';
import { buildDiscriminator, buildGenerator } from '@gan/core/model';
import type { Dataset } from '@gan/trainer/data/index';
import { NoClassHeadError, classHeadReport } from '@gan/trainer/evaluate/class-head';
import { runTraining } from '@gan/trainer/train/run';
import { ARTICLE_RECIPE } from '@gan/trainer/train/settings';
import type { GanModels } from '@gan/trainer/train/step';
import { ganInProcess as gan } from './gan-in-process.ts';
import { testCacheDir, tinyRun } from './tiny-run.ts';

const tiny: ModelConfig = { imageSize: 16, channels: 1, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 3 };

/** Held-out images of three classes: 4, 3 and 2 of them. */
function heldout(): Dataset {
  const labels = Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1, 0]);
  const pixels = 16 * 16;
  const images = Float32Array.from({ length: labels.length * pixels }, (_, i) => Math.sin(i * 0.37));
  return {
    name: 'three',
    split: 'heldout',
    imageSize: 16,
    channels: 1,
    count: labels.length,
    images,
    labels,
    classNames: ['a', 'b', 'c'],
    licence: {} as Dataset['licence'],
    fromCache: false,
  };
}

/** A projection D with a class head whose logits are its bias alone: it puts every image in `favourite`. */
function models(favourite: number, fakeClass = false): GanModels {
  const discriminator = buildDiscriminator(tiny, 1, 'projection', { classHead: true, fakeClass });
  for (const w of discriminator.weights) {
    const shape = w.shape as number[];
    if (w.originalName === 'class_logits/kernel') w.write(tf.zeros(shape));
    if (w.originalName === 'class_logits/bias')
      w.write(tf.tensor1d(Array.from({ length: shape[0] }, (_, k) => (k === favourite ? 100 : 0))));
  }
  return { config: tiny, generator: buildGenerator(tiny, 1), discriminator, conditioning: 'projection' };
}

const options = { samplesPerClass: 5, realPerClass: 3, batchSize: 4, seed: 'test' };
const dispose = (m: GanModels) => {
  m.generator.dispose();
  m.discriminator.dispose();
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe("D's class head on real and generated images", () => {
  it('counts what the head puts in each class, at most realPerClass real images of each, and leaves both networks as it found them', async () => {
    const m = models(1);
    const statistics = () =>
      [...m.generator.nonTrainableWeights, ...m.discriminator.nonTrainableWeights].map((w) => Array.from(w.read().dataSync()));
    const held = statistics();
    const before = tf.memory().numTensors;
    const report = classHeadReport(m, heldout(), options);
    expect(tf.memory().numTensors).toBe(before);
    // Training mode moved the batch-norm moving averages; the report puts them back.
    expect(statistics()).toEqual(held);
    expect(report.generatedClass).toBe(false);
    expect(report.real.counts).toEqual([3, 3, 2]);
    expect(report.real.inClass).toEqual([0, 1, 0]);
    expect(report.real.overall).toBeCloseTo(3 / 8, 10);
    expect(report.generated).toEqual({ perClass: 5, inClass: [0, 1, 0], overall: 1 / 3 });
    dispose(m);
  });

  it("with the generated class, says how many of G's images of each class it calls generated", async () => {
    const m = models(3, true);
    const report = classHeadReport(m, heldout(), options);
    expect(report.generatedClass).toBe(true);
    expect(report.real.inClass).toEqual([0, 0, 0]);
    expect(report.generated.inClass).toEqual([0, 0, 0]);
    expect(report.generated.calledGenerated).toEqual([1, 1, 1]);
    dispose(m);
  });

  it('refuses a D without a class head', async () => {
    const m: GanModels = {
      config: tiny,
      generator: buildGenerator(tiny, 1),
      discriminator: buildDiscriminator(tiny, 1, 'projection'),
      conditioning: 'projection',
    };
    expect(() => classHeadReport(m, heldout(), options)).toThrow(NoClassHeadError);
    dispose(m);
  });
});

describe('gan class-head', () => {
  it("reports a class-loss run's head, and refuses a run without one, naming --run", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'gan-class-head-'));
    const withHead = path.join(root, 'with-head');
    await runTraining(
      tinyRun('cpu', withHead, { recipe: { ...ARTICLE_RECIPE, conditioning: 'projection', classLoss: 1 }, steps: 2, seed: 'class-head' }),
    );
    const json = path.join(root, 'report.json');
    const ok = await gan(
      'class-head',
      '--run',
      withHead,
      '--backend',
      'cpu',
      '--real-per-class',
      '4',
      '--samples-per-class',
      '2',
      '--cache-dir',
      testCacheDir,
      '--json',
      json,
    );
    expect(ok.code).toBe(0);
    const report = JSON.parse(await readFile(json, 'utf8'));
    expect(report.run).toMatchObject({ run: 'with-head', step: 2 });
    expect(report.real.counts).toEqual(new Array(10).fill(4));
    expect(report.generated.inClass).toHaveLength(10);

    const without = path.join(root, 'without');
    await runTraining(tinyRun('cpu', without, { steps: 2 }));
    const refused = await gan('class-head', '--run', without, '--backend', 'cpu', '--cache-dir', testCacheDir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/error: --run: this run trained without --class-loss/);
  }, 120_000);
});
