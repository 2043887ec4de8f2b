import { mkdtemp, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { REFERENCE_CONFIG } from '@gan/core/config';
import type { Dataset } from '@gan/trainer/data/index';
import { type CheckpointInput, loadLatestCheckpoint, saveCheckpoint } from '@gan/trainer/train/checkpoint';
import { type RunSettings, newRunSettings } from '@gan/trainer/train/settings';
import { ResumeMismatchError, TrainingState } from '@gan/trainer/train/state';
import { ARTICLE_ADAM, discriminatorStep } from '@gan/trainer/train/step';

const input = (step: number): CheckpointInput => ({
  step,
  config: REFERENCE_CONFIG,
  settings: { seed: 's' },
  noiseRng: [1, 2, 3, step],
  data: { epoch: 0, position: step },
  seconds: step,
  tensors: [
    { name: 'generator/up1/kernel', shape: [2, 3], data: Float32Array.from({ length: 6 }, (_, i) => i + step) },
    { name: 'adam_g/0000', shape: [], data: new Float32Array([step]) },
  ],
});

async function runWith(...steps: number[]) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gan-ckpt-'));
  for (const s of steps) await saveCheckpoint(dir, input(s));
  return dir;
}

describe('checkpoints', () => {
  it('round-trip tensors and state, keeping the newest two and no temporary files', async () => {
    const dir = await runWith(1, 2, 3);
    expect((await readdir(path.join(dir, 'checkpoints'))).sort()).toEqual(['index.json', 'step-000002', 'step-000003']);
    const { checkpoint, rejected } = await loadLatestCheckpoint(dir);
    expect(rejected).toEqual([]);
    expect(checkpoint!.state.step).toBe(3);
    expect(checkpoint!.state.noiseRng).toEqual([1, 2, 3, 3]);
    expect(Array.from(checkpoint!.tensors.get('generator/up1/kernel')!.data)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(checkpoint!.tensors.get('generator/up1/kernel')!.shape).toEqual([2, 3]);
  });

  it('fall back to the previous one when the newest is truncated or its state is damaged', async () => {
    const truncated = await runWith(1, 2);
    await truncate(path.join(truncated, 'checkpoints', 'step-000002', 'tensors.bin'), 8);
    let result = await loadLatestCheckpoint(truncated);
    expect(result.checkpoint!.state.step).toBe(1);
    expect(result.rejected[0].reason).toMatch(/corrupt or truncated/);

    const damaged = await runWith(1, 2);
    const state = path.join(damaged, 'checkpoints', 'step-000002', 'state.json');
    await writeFile(state, (await readFile(state, 'utf8')).replace('"step":2', '"step":9'));
    result = await loadLatestCheckpoint(damaged);
    expect(result.checkpoint!.state.step).toBe(1);
    expect(result.rejected[0].reason).toMatch(/state\.json is corrupt/);
  });

  it('find the newest verified checkpoint even when the index is lost', async () => {
    const dir = await runWith(1, 2);
    await writeFile(path.join(dir, 'checkpoints', 'index.json'), '{"checkpoi');
    expect((await loadLatestCheckpoint(dir)).checkpoint!.state.step).toBe(2);
    await truncate(path.join(dir, 'checkpoints', 'step-000002', 'tensors.bin'), 0);
    expect((await loadLatestCheckpoint(dir)).checkpoint!.state.step).toBe(1);
  });

  it('report every rejected checkpoint when none is usable, and nothing for a run without any', async () => {
    const dir = await runWith(1, 2);
    for (const s of ['step-000001', 'step-000002']) await truncate(path.join(dir, 'checkpoints', s, 'tensors.bin'), 4);
    const result = await loadLatestCheckpoint(dir);
    expect(result.checkpoint).toBeUndefined();
    expect(result.rejected).toHaveLength(2);
    expect(await loadLatestCheckpoint(path.join(dir, 'nothing-here'))).toEqual({ rejected: [] });
  });
});

describe('a projection discriminator in a checkpoint', () => {
  const styles: Dataset = {
    name: 'styles',
    split: 'train',
    imageSize: 8,
    channels: 3,
    count: 4,
    images: new Float32Array(0),
    labels: new Int32Array(0),
    classNames: ['a', 'b', 'c'],
    licence: { licence: 'MIT' },
    fromCache: true,
  };
  const settingsFor = (conditioning: 'planes' | 'projection'): RunSettings =>
    newRunSettings(
      {
        data: 'styles',
        imageSize: 8,
        batchSize: 2,
        latentSize: 4,
        generatorWidth: 2,
        discriminatorWidth: 4,
        generatorAdam: ARTICLE_ADAM,
        discriminatorAdam: ARTICLE_ADAM,
        recipe: { loss: 'bce', diffAugment: [], ema: null, conditioning },
        seed: 'ckpt',
        backend: 'cpu',
      },
      styles,
    );
  const values = (weights: { read(): tf.Tensor }[]) => weights.map((w) => Array.from(w.read().dataSync()));

  it('restores its weights (class embedding included) and its Adam state exactly, and only into a projection run', async () => {
    await tf.setBackend('cpu');
    const settings = settingsFor('projection');
    const trained = TrainingState.initial(settings);
    const real = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
    await discriminatorStep(trained.models, trained.discriminatorOptimizer, {
      real,
      realLabels: [0, 2],
      noise: new Float32Array(8).fill(0.3),
      fakeLabels: [1, 1],
    });
    trained.step = 1;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gan-ckpt-projection-'));
    await trained.save(dir, settings, 2);
    const { checkpoint } = await loadLatestCheckpoint(dir);
    expect(checkpoint!.tensors.get('discriminator/class_embedding/kernel')!.shape).toEqual([3, 4 * 4 * 4]); // 8 px: one stage, 4 channels at 4x4

    const resumed = TrainingState.initial(settings);
    expect(values(resumed.models.discriminator.weights)).not.toEqual(values(trained.models.discriminator.weights));
    await resumed.restore(checkpoint!);
    expect(values(resumed.models.discriminator.weights)).toEqual(values(trained.models.discriminator.weights));
    const adam = async (state: TrainingState) =>
      (await state.discriminatorOptimizer.getWeights()).slice(1).map((w) => Array.from(w.tensor.dataSync()));
    expect(await adam(resumed)).toEqual(await adam(trained));

    // A class-planes D has other weights: the checkpoint does not fit it.
    const planes = TrainingState.initial(settingsFor('planes'));
    await expect(planes.restore(checkpoint!)).rejects.toThrow(ResumeMismatchError);
    for (const state of [trained, resumed, planes]) state.dispose();
    real.dispose();
  });
});
