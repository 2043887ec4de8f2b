import { mkdtemp, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REFERENCE_CONFIG } from '@gan/core/config';
import { type CheckpointInput, loadLatestCheckpoint, saveCheckpoint } from '@gan/trainer/train/checkpoint';

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
