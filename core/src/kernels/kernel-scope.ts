/**
 * Runs other kernels of one backend from inside a kernel, and frees every intermediate result.
 *
 * A kernel function receives and returns TensorInfo (data ids owned by the backend), not tensors, so
 * tf.tidy cannot track what it allocates. KernelScope records each result and, in `keep`, disposes all
 * of them but the one returned. Reshape results share their input's data id with a raised reference
 * count, so disposing both the reshaped and the original info is exactly right.
 */
import * as tf from '@tensorflow/tfjs-core';

type Info = tf.TensorInfo;
type Pads = [[number, number], [number, number], [number, number], [number, number]];

export class KernelScope {
  private readonly owned: Info[] = [];

  constructor(
    readonly backend: tf.KernelBackend,
    readonly backendName: string,
  ) {}

  run(kernelName: string, inputs: tf.NamedTensorInfoMap | Info[], attrs: tf.NamedAttrMap = {}): Info {
    const kernel = tf.getKernel(kernelName, this.backendName);
    if (!kernel) throw new Error(`kernel ${kernelName} is not registered for backend ${this.backendName}`);
    const out = kernel.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`kernel ${kernelName} returned several tensors`);
    this.owned.push(out);
    return out;
  }

  /** Disposes every intermediate except `result`, which the caller now owns. */
  keep(result: Info): Info {
    for (const t of this.owned) if (t !== result) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
    return result;
  }

  /** Disposes everything (on failure). */
  disposeAll(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
  }

  reshape(x: Info, shape: number[]): Info {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: Info, perm: number[]): Info {
    return this.run('Transpose', { x }, { perm });
  }

  reverse(x: Info, dims: number[]): Info {
    return this.run('Reverse', { x }, { dims });
  }

  pad(x: Info, paddings: number[][]): Info {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  slice(x: Info, begin: number[], size: number[]): Info {
    if (begin.every((b) => b === 0) && size.every((s, i) => s === x.shape[i])) return x;
    return this.run('Slice', { x }, { begin, size });
  }

  /** Every `strides[i]`-th element from `begin[i]`, `count[i]` of them. */
  stridedSlice(x: Info, begin: number[], count: number[], strides: number[]): Info {
    if (strides.every((s) => s === 1)) return this.slice(x, begin, count);
    const end = begin.map((b, i) => b + (count[i] - 1) * strides[i] + 1);
    return this.run(
      'StridedSlice',
      { x },
      { begin, end, strides, beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 },
    );
  }

  concat(xs: Info[], axis: number): Info {
    if (xs.length === 1) return xs[0];
    return this.run('Concat', xs, { axis });
  }

  /** [B, M, K] × [B, K, N]; the WASM backend uses XNNPACK only without transposes and with B = 1. */
  matMul(a: Info, b: Info): Info {
    return this.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
  }

  conv2d(x: Info, filter: Info, pad: Pads | 'valid'): Info {
    return this.run('Conv2D', { x, filter }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined as unknown as string });
  }

  depthToSpace(x: Info, blockSize: number): Info {
    if (blockSize === 1) return x;
    return this.run('DepthToSpace', { x }, { blockSize, dataFormat: 'NHWC' });
  }
}

/** Runs `body` in a scope, returning its result and freeing everything else, also on failure. */
export function withScope(backend: tf.KernelBackend, backendName: string, body: (s: KernelScope) => Info): Info {
  const scope = new KernelScope(backend, backendName);
  try {
    return scope.keep(body(scope));
  } catch (e) {
    scope.disposeAll();
    throw e;
  }
}
