/** What the kernel tests share: seeded inputs, and running one computation on a backend leak-free. */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** Deterministic values in [-1, 1). */
export function values(size: number, seed: number): Float32Array {
  let s = seed * 2654435761 + 1;
  return Float32Array.from({ length: size }, () => {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) | 0;
    return ((s >>> 8) / (1 << 24)) * 2 - 1;
  });
}

/** A tensor of `shape` holding `values(size, seed)`. */
export function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(
    values(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
}

/** Runs `f` on a backend and returns its result's values; checks that it frees what it allocates. */
export async function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const tensors = tf.memory().numTensors;
  const dataIds = tf.engine().backend.numDataIds();
  const result = f();
  const out = result.dataSync() as Float32Array;
  result.dispose();
  expect(tf.memory().numTensors).toBe(tensors);
  expect(tf.engine().backend.numDataIds()).toBe(dataIds);
  return out;
}
