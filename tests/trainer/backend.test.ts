/**
 * The trainer's automatic backend choice (trainer/src/backend.ts): the fastest backend that is
 * present and works. tfjs-node is never part of the default install, so here it is absent for real;
 * "present but unusable" (installed without its native addon, as `npm install --ignore-scripts
 * @tensorflow/tfjs-node` leaves it) and "present and working" are injected as module mocks.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterEach, describe, expect, it, vi } from 'vitest';

const nodeBackendInstalled = (() => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

/** backend.ts afresh, so the node packages are imported again (mocked or not). */
const loadBackendModule = async () => {
  vi.resetModules();
  return import('@gan/trainer/backend');
};

afterEach(() => {
  vi.doUnmock('@tensorflow/tfjs-node');
});

describe('automatic backend choice', () => {
  it.skipIf(nodeBackendInstalled)(
    'without tfjs-node (the default install) picks wasm, saying why the node backends were skipped',
    async () => {
      const { selectBackend } = await loadBackendModule();
      const selection = await selectBackend('auto', { threads: 1 });
      expect(selection.name).toBe('wasm');
      expect(tf.getBackend()).toBe('wasm');
      expect(selection.skipped).toEqual([
        { name: 'tensorflow-gpu', reason: 'not installed' },
        { name: 'tensorflow', reason: 'not installed' },
      ]);
    },
  );

  it('with tfjs-node present but unusable (no native addon) falls through to wasm with the reason', async () => {
    vi.doMock('@tensorflow/tfjs-node', () => {
      throw new Error('Cannot find module .../lib/napi-v8/tfjs_binding.node');
    });
    const { selectBackend, BackendUnavailableError } = await loadBackendModule();
    const selection = await selectBackend('auto', { threads: 1 });
    expect(selection.name).toBe('wasm');
    expect(selection.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
    // Skipped for the import's failure (vitest words the mock's error its own way), not as absent.
    expect(selection.skipped[1].reason).not.toBe('not installed');
    expect(selection.skipped[1].reason.length).toBeGreaterThan(0);
    // Asked for by name, the same failure is an error rather than a fallback.
    await expect(selectBackend('tensorflow')).rejects.toThrow(BackendUnavailableError);
  });

  it('with a working tfjs-node picks it ahead of wasm', async () => {
    // What the package does on import: register the 'tensorflow' backend (a CPU one stands in).
    vi.doMock('@tensorflow/tfjs-node', () => {
      if (!tf.findBackendFactory('tensorflow')) tf.registerBackend('tensorflow', () => new MathBackendCPU());
      return {};
    });
    const { selectBackend } = await loadBackendModule();
    const selection = await selectBackend('auto', { threads: 1 });
    expect(selection).toMatchObject({ name: 'tensorflow', threads: 1 });
    expect(tf.getBackend()).toBe('tensorflow');
    expect(selection.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu']);
    tf.removeBackend('tensorflow');
  });

  it('refuses an unknown GAN_KERNELS rather than placing every kernel or falling back', async () => {
    vi.stubEnv('GAN_KERNELS', 'matmull');
    try {
      const { selectBackend } = await loadBackendModule();
      await expect(selectBackend('auto', { threads: 1 })).rejects.toThrow(/GAN_KERNELS must be one of all, gemm, matmul, tfjs/);
      await expect(selectBackend('wasm', { threads: 1 })).rejects.toThrow(/not "matmull"/);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
