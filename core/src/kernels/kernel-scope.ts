/**
 * Runs other kernels of one backend from inside a kernel, and frees every intermediate result.
 *
 * A kernel function receives and returns TensorInfo (data ids owned by the backend), not tensors, so
 * tf.tidy cannot track what it allocates. KernelScope records each result and, in `keep`, disposes all
 * of them but the one returned. Reshape results share their input's data id with a raised reference
 * count, so disposing both the reshaped and the original info is exactly right.
 *
 * Only Conv2D and BatchMatMul (XNNPACK) and plain block copies (Transpose up to rank 4, Concat, Pad,
 * Reshape) are fast in the WASM backend. StridedSlice, GatherV2, DepthToSpace, Tile and rank-6
 * transposes do per-element index arithmetic, and Slice first copies its whole input out of the
 * heap: they move a few million elements per second, so nothing here leans on them.
 */
import * as tf from '@tensorflow/tfjs-core';

type Info = tf.TensorInfo;

/** Marks a BatchMatMul kernel function that runs transposed operands as fast as plain ones. */
export const FAST_TRANSPOSED_MATMUL = Symbol.for('gan-edge.fast-transposed-matmul');
export type Pads = [[number, number], [number, number], [number, number], [number, number]];

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

  /** Disposes every intermediate except `results`, which the caller now owns. */
  keepAll(results: Info[]): Info[] {
    const kept = new Set(results);
    for (const t of this.owned) if (!kept.has(t)) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
    return results;
  }

  /** Disposes everything (on failure). */
  disposeAll(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
  }

  /** A float32 constant owned by the scope. */
  constant(values: Float32Array, shape: number[]): Info {
    const t: Info = { dataId: this.backend.write(values, shape, 'float32'), shape, dtype: 'float32' };
    this.owned.push(t);
    return t;
  }

  /**
   * Rows `indices` of a 2-D tensor, as a product with a one-hot selection matrix: XNNPACK packs x once
   * (its operator is cached on x) and each selection is a tiny GEMM, where GatherV2 and Slice are
   * per element or copy all of x out of the heap. Exact for finite values. Index −1 gives a zero row.
   */
  rows(x: Info, indices: number[]): Info {
    const [height, width] = x.shape;
    const select = new Float32Array(indices.length * height);
    indices.forEach((row, i) => {
      if (row >= 0) select[i * height + row] = 1;
    });
    const product = this.matMul(this.constant(select, [1, indices.length, height]), this.reshape(x, [1, height, width]));
    return this.reshape(product, [indices.length, width]);
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

  concat(xs: Info[], axis: number): Info {
    if (xs.length === 1) return xs[0];
    return this.run('Concat', xs, { axis });
  }

  /** [B, M, K] × [B, K, N]; the WASM backend uses XNNPACK only without transposes and with B = 1. */
  matMul(a: Info, b: Info): Info {
    return this.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
  }

  /**
   * Whether the BatchMatMul in place takes transposed operands at full speed (a kernel marked with
   * FAST_TRANSPOSED_MATMUL, like the trainer's GEMM); tfjs's own runs them as scalar loops, so callers
   * transpose explicitly when this is false.
   */
  get transposedMatMulIsFast(): boolean {
    const kernel = tf.getKernel('BatchMatMul', this.backendName)?.kernelFunc as { [FAST_TRANSPOSED_MATMUL]?: true } | undefined;
    return kernel?.[FAST_TRANSPOSED_MATMUL] === true;
  }

  /** op(a) × op(b), [B, ·, ·] each, op transposing the last two axes where asked. */
  matMulTransposed(a: Info, b: Info, transposeA: boolean, transposeB: boolean): Info {
    return this.run('BatchMatMul', { a, b }, { transposeA, transposeB });
  }

  /** Convolution (XNNPACK), NHWC, explicit padding; dilation or stride (not both). */
  conv2d(x: Info, filter: Info, pad: Pads, dilations: [number, number] = [1, 1], strides: [number, number] = [1, 1]): Info {
    return this.run('Conv2D', { x, filter }, { strides, pad, dataFormat: 'NHWC', dilations });
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

/**
 * Values derived from a tensor's data (e.g. a filter rewritten for another kernel), kept while that
 * data lives: the backend's disposeData is wrapped once so that freeing the source frees what was
 * derived from it. Reusing them also keeps XNNPACK's operators (cached per filter data id) warm.
 */
export class DerivedCache {
  private static readonly perBackend = new WeakMap<tf.KernelBackend, DerivedCache>();
  private readonly entries = new Map<object, Map<string, Info[]>>();

  private constructor(private readonly backend: tf.KernelBackend) {
    const dispose = backend.disposeData.bind(backend);
    this.free = dispose;
    backend.disposeData = (dataId: object, force?: boolean) => {
      const freed = dispose(dataId, force);
      if (freed) this.drop(dataId);
      return freed;
    };
  }

  private readonly free: (dataId: object) => boolean;

  static of(backend: tf.KernelBackend): DerivedCache {
    let cache = DerivedCache.perBackend.get(backend);
    if (!cache) {
      cache = new DerivedCache(backend);
      DerivedCache.perBackend.set(backend, cache);
    }
    return cache;
  }

  /** The values derived from `source` under `key`, made by `make` (run in a scope) on first use. */
  get(source: Info, key: string, backendName: string, make: (s: KernelScope) => Info[]): Info[] {
    let forSource = this.entries.get(source.dataId);
    const hit = forSource?.get(key);
    if (hit) return hit;
    const scope = new KernelScope(this.backend, backendName);
    let made: Info[];
    try {
      made = scope.keepAll(make(scope));
    } catch (e) {
      scope.disposeAll();
      throw e;
    }
    if (!forSource) {
      forSource = new Map();
      this.entries.set(source.dataId, forSource);
    }
    forSource.set(key, made);
    return made;
  }

  /** Number of source tensors with derived values (for tests). */
  get size(): number {
    return this.entries.size;
  }

  private drop(dataId: object): void {
    const forSource = this.entries.get(dataId);
    if (!forSource) return;
    this.entries.delete(dataId);
    for (const infos of forSource.values()) for (const t of infos) this.free(t.dataId);
  }
}
