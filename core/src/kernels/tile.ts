/**
 * Tile as block copies (Concat of repeated inputs), for the WASM backend whose Tile kernel computes
 * every element's source index. Training hits it in batch norm's gradient, which tiles per-channel
 * vectors [1, 1, 1, C] up to the activation's shape [N, H, W, C]: there this is N + H + W copies of
 * contiguous blocks instead of N·H·W·C indexed reads.
 *
 * Axes are tiled from the innermost outwards: at axis i, the tensor viewed as [outer, inner] (split
 * before i) repeated r times along the second axis is the tile along axis i. Tiles needing many small
 * copies (large `outer`) go to the original kernel.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { withScope } from './kernel-scope.ts';

/** Above this many block copies, the original kernel is no slower. */
const MAX_BLOCKS = 1 << 14;

export function tileKernel(backendName: string, original?: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const reps = (attrs as unknown as { reps: number[] }).reps;
    let blocks = 0;
    let outer = 1;
    for (let i = 0; i < x.shape.length; i++) {
      if (reps[i] > 1) blocks += outer * reps[i];
      outer *= x.shape[i];
    }
    if (x.dtype === 'string' || blocks > MAX_BLOCKS || reps.every((r) => r === 1) || x.shape.some((d) => d === 0)) {
      if (!original) throw new Error(`Tile on ${backendName}: unsupported input`);
      return original(args);
    }
    return withScope(backend as tf.KernelBackend, backendName, (s) => {
      let current = x;
      const shape = [...x.shape];
      for (let i = shape.length - 1; i >= 0; i--) {
        if (reps[i] === 1) continue;
        const before = shape.slice(0, i).reduce((a, b) => a * b, 1);
        const inner = shape.slice(i).reduce((a, b) => a * b, 1);
        const flat = s.reshape(current, [before, inner]);
        const tiled = s.concat(
          Array.from({ length: reps[i] }, () => flat),
          1,
        );
        shape[i] *= reps[i];
        current = s.reshape(tiled, shape);
      }
      return current;
    });
  };
}
