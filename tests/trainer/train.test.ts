import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decode as decodePng } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@gan/trainer/backend';
import { loadLatestCheckpoint } from '@gan/trainer/train/checkpoint';
import { FailureWatch, TrainingDivergedError, readMetrics } from '@gan/trainer/train/metrics';
import { RunExistsError, runTraining } from '@gan/trainer/train/run';
import { tinyRun as tiny } from './tiny-run.ts';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gan-train-'));
});

async function checkpointTensors(runDir: string) {
  const { checkpoint } = await loadLatestCheckpoint(runDir);
  if (!checkpoint) throw new Error(`no checkpoint in ${runDir}`);
  return checkpoint;
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('failure watch', () => {
  it('stops on NaN losses', () => {
    expect(() => new FailureWatch().check({ step: 3, d_loss: NaN, g_loss: 1, d_x: 0.5, d_g_z: 0.5 })).toThrow(TrainingDivergedError);
  });

  it('warns once when D overpowers G for long, again only after a recovery', () => {
    const watch = new FailureWatch({ overpowerSteps: 3 });
    const won = (step: number) => watch.check({ step, d_loss: 0.01, g_loss: 6, d_x: 0.999, d_g_z: 0.001 });
    expect([won(1), won(2)]).toEqual([undefined, undefined]);
    expect(won(3)).toMatch(/discriminator is overpowering/);
    expect(won(4)).toBeUndefined();
    expect(watch.check({ step: 5, d_loss: 1.3, g_loss: 0.7, d_x: 0.5, d_g_z: 0.5 })).toBeUndefined();
    expect([won(6), won(7), won(8)].filter(Boolean)).toHaveLength(1);
  });
});

describe.each(['cpu', 'wasm'])('training on the %s backend', (backend) => {
  let full: string; // 5 uninterrupted steps
  let tensorsAtStart: number;

  beforeAll(async () => {
    await selectBackend(backend as 'cpu' | 'wasm');
    tensorsAtStart = tf.memory().numTensors;
    full = path.join(root, `${backend}-full`);
    await runTraining(tiny(backend, full, { steps: 5 }));
  });

  afterAll(() => {
    // Nothing of the runs stays in memory.
    expect(tf.memory().numTensors).toBe(tensorsAtStart);
  });

  it('records steps 1..5 with the article quantities, and the losses and weights move', async () => {
    const rows = await readMetrics(path.join(full, 'metrics.jsonl'));
    expect(rows.map((r) => r.step)).toEqual([1, 2, 3, 4, 5]);
    for (const r of rows) {
      for (const k of ['d_loss', 'g_loss', 'd_x', 'd_g_z', 'd_g_z2', 'images_per_s', 'cpu_s'] as const)
        expect(Number.isFinite(r[k])).toBe(true);
      expect(r.d_x).toBeGreaterThan(0);
      expect(r.d_x).toBeLessThan(1);
    }
    expect(new Set(rows.map((r) => r.d_loss)).size).toBe(5);
    expect(new Set(rows.map((r) => r.g_loss)).size).toBe(5);

    const end = await checkpointTensors(full);
    expect(end.state.step).toBe(5);
    // Step 0 weights: a 0-step run of the same seed would be the initialisation; compare with step 4's
    // checkpoint (kept as the previous one) instead, which must differ from step 5 for G and D alike.
    const index = JSON.parse(await readFile(path.join(full, 'checkpoints', 'index.json'), 'utf8'));
    expect(index.checkpoints.map((c: { step: number }) => c.step)).toEqual([5, 4]);
    const { readCheckpoint } = await import('@gan/trainer/train/checkpoint');
    const previous = await readCheckpoint(path.join(full, 'checkpoints', index.checkpoints[1].dir));
    for (const name of ['generator/up1/kernel', 'generator/to_image/kernel', 'discriminator/down1/kernel', 'discriminator/score/kernel']) {
      expect(maxDifference(end.tensors.get(name)!.data, previous.tensors.get(name)!.data), name).toBeGreaterThan(0);
    }
    // Both Adam states are saved: iteration count and two moments per trainable weight.
    const adamG = [...end.tensors.keys()].filter((k) => k.startsWith('adam_g/'));
    expect(end.tensors.get(adamG[0])!.data[0]).toBe(5);
    expect(adamG.length).toBeGreaterThan(2);
  });

  it('writes a preview grid of the fixed latents and a loss plot', async () => {
    const files = await readdir(path.join(full, 'previews'));
    expect(files).toEqual(expect.arrayContaining(['step-000002.png', 'step-000004.png', 'step-000005.png', 'latest.png', 'loss.svg']));
    const grid = decodePng(await readFile(path.join(full, 'previews', 'latest.png')));
    // Conditional on 10 digits: one row per class, 8 latents per row, 16 px cells, 2 px padding.
    expect([grid.width, grid.height]).toEqual([8 * 16 + 9 * 2, 10 * 16 + 11 * 2]);
    const svg = await readFile(path.join(full, 'previews', 'loss.svg'), 'utf8');
    expect(svg).toMatch(/^<svg[\s\S]*D loss[\s\S]*<path d="M/);
  });

  it('is deterministic: the same seed gives the same run', async () => {
    const again = path.join(root, `${backend}-again`);
    await runTraining(tiny(backend, again, { steps: 5 }));
    const a = await readMetrics(path.join(full, 'metrics.jsonl'));
    const b = await readMetrics(path.join(again, 'metrics.jsonl'));
    expect(b.map((r) => [r.d_loss, r.g_loss, r.d_x, r.d_g_z])).toEqual(a.map((r) => [r.d_loss, r.g_loss, r.d_x, r.d_g_z]));
    const [ca, cb] = [await checkpointTensors(full), await checkpointTensors(again)];
    for (const [name, t] of ca.tensors) expect(maxDifference(t.data, cb.tensors.get(name)!.data), name).toBe(0);
    // A different seed is a different run.
    const other = path.join(root, `${backend}-other`);
    await runTraining(tiny(backend, other, { steps: 1, seed: 'other' }));
    expect((await readMetrics(path.join(other, 'metrics.jsonl')))[0].d_loss).not.toBe(a[0].d_loss);
  });

  it('resumes exactly: 3 steps, then --resume to 5 equals 5 uninterrupted steps, each step recorded once', async () => {
    const dir = path.join(root, `${backend}-resumed`);
    const first = await runTraining(tiny(backend, dir, { steps: 3 }));
    expect(first.step).toBe(3);
    // A crash after step 4's metrics line but before its checkpoint: the line must not be duplicated.
    const rows = await readFile(path.join(dir, 'metrics.jsonl'), 'utf8');
    await writeFile(path.join(dir, 'metrics.jsonl'), rows + rows.split('\n')[0].replace('"step":1', '"step":4') + '\n{"step":5,"d_lo');
    await expect(runTraining(tiny(backend, dir, { steps: 5 }))).rejects.toThrow(RunExistsError);
    const second = await runTraining(tiny(backend, dir, { steps: 5, resume: true }));
    expect(second.resumedFrom).toBe(3);
    expect(second.step).toBe(5);
    const metrics = await readMetrics(path.join(dir, 'metrics.jsonl'));
    expect(metrics.map((r) => r.step)).toEqual([1, 2, 3, 4, 5]);
    const reference = await readMetrics(path.join(full, 'metrics.jsonl'));
    metrics.forEach((r, i) => {
      expect(r.d_loss).toBe(reference[i].d_loss);
      expect(r.g_loss).toBe(reference[i].g_loss);
    });
    const [resumed, uninterrupted] = [await checkpointTensors(dir), await checkpointTensors(full)];
    // Bit for bit: the weights, both Adam states (its β powers included) and the noise stream.
    for (const [name, t] of uninterrupted.tensors) expect(maxDifference(t.data, resumed.tensors.get(name)!.data), name).toBe(0);
  });

  it('stops after the current step when aborted, with a checkpoint to resume from', async () => {
    const dir = path.join(root, `${backend}-aborted`);
    const controller = new AbortController();
    const result = await runTraining(
      tiny(backend, dir, {
        steps: 50,
        checkpointEvery: 100,
        info: (line) => {
          if (line.startsWith('step 2/')) controller.abort();
        },
        progress: 'lines',
        logEvery: 1,
        signal: controller.signal,
      }),
    );
    expect(result.interrupted).toBe(true);
    expect(result.step).toBe(2);
    expect((await checkpointTensors(dir)).state.step).toBe(2);
    // "continue with --resume": a resume naming no target goes on to the 50 steps the run was given.
    const resumed = await runTraining(tiny(backend, dir, { steps: undefined, resume: true, checkpointEvery: 100 }));
    expect(resumed.totalSteps).toBe(50);
    expect(resumed.step).toBe(50);
    expect(JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')).targetSteps).toBe(50);
  });

  it('falls back to the previous checkpoint when the newest is truncated', async () => {
    const dir = path.join(root, `${backend}-corrupt`);
    await runTraining(tiny(backend, dir, { steps: 4 }));
    const newest = path.join(dir, 'checkpoints', 'step-000004', 'tensors.bin');
    await truncate(newest, 100);
    const warnings: string[] = [];
    const resumed = await runTraining(tiny(backend, dir, { steps: 5, resume: true, warn: (l) => warnings.push(l) }));
    expect(warnings.join('\n')).toMatch(/skipping checkpoint step-000004: .*corrupt or truncated/);
    expect(resumed.resumedFrom).toBe(2);
    expect((await readMetrics(path.join(dir, 'metrics.jsonl'))).map((r) => r.step)).toEqual([1, 2, 3, 4, 5]);
    const [a, b] = [await checkpointTensors(dir), await checkpointTensors(full)];
    for (const [name, t] of b.tensors) expect(maxDifference(t.data, a.tensors.get(name)!.data), name).toBeLessThan(1e-5);
  });

  it('--dry-run runs one batch and writes nothing', async () => {
    const dir = path.join(root, `${backend}-dry`);
    const result = await runTraining(tiny(backend, dir, { steps: 100, dryRun: true }));
    expect(result.step).toBe(1);
    expect(Number.isFinite(result.last!.d_loss)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });
});
