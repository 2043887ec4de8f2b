/**
 * The AssemblyScript matrix product (core/asm/gemm.ts, built into the `.wasm` files next to this one)
 * instantiated on the memory of a tfjs WASM backend, so it reads and writes tensors in place.
 * Serving always uses the plain-SIMD variant (see the determinism note in core/asm/gemm.ts).
 *
 * Beside this file: the module's signatures (module-types.ts), where the module comes from and which
 * variant runs (module-loading.ts), how a call splits over helper threads (parallel.ts, threads.ts),
 * the Winograd convolutions on the same module (winograd.ts).
 */
import { BOUNDS_CHECKED, bestGemmVariant, gemmModule } from './module-loading.ts';
import { PartBuffers } from './part-buffers.ts';
import type { ElementwiseExports, GemmExports, GemmVariant, WasmBackendInternals } from './module-types.ts';
import { type GemmParallel, type GemmParallelExport, PARALLEL_MIN_MACS, columnRanges } from './parallel.ts';
import { Winograd } from './winograd.ts';

export { bestGemmVariant, enableRelaxedSimd, provideGemmModule } from './module-loading.ts';
export type { ElementwiseExports, GemmVariant, WasmBackendInternals } from './module-types.ts';
export type { GemmParallel, GemmParallelExport } from './parallel.ts';
export type { PhasedInput } from './winograd.ts';

export class GemmUnavailableError extends Error {
  override name = 'GemmUnavailableError';
}

/** core/asm/elementwise.ts's OP_ADD, for `binary`. */
export const OP_ADD = 0;

/** Row-major strides of a stored matrix, as (row, column) strides of the operand used. */
export interface Operand {
  offset: number; // bytes, in the backend's memory
  row: number; // floats between operand rows
  col: number; // floats between operand columns
}

export class Gemm {
  private static readonly perBackend = new WeakMap<object, Map<GemmVariant, Gemm>>();

  private constructor(
    readonly variant: GemmVariant,
    private readonly backend: WasmBackendInternals,
    private readonly memory: WebAssembly.Memory,
    /** The module's exports: what the convolution forms built on it (winograd.ts) call. */
    readonly exports: GemmExports,
    scratch: number,
    private readonly module: WebAssembly.Module,
  ) {
    this.buffers = new PartBuffers(backend.wasm, exports.SCRATCH_BYTES.value as number, scratch);
  }

  private parallel?: GemmParallel;
  /** Each part's scratch and work buffer (part 0: this thread; part i: helper thread i). */
  readonly buffers: PartBuffers;
  /** Winograd's F(2×2, 2×2) convolutions and their filter gradient, on this module and its threads. */
  readonly winograd: Winograd = new Winograd(this);

  /** The kernel on `backend`'s memory (one instance per backend and variant, scratch allocated once). */
  static of(backend: WasmBackendInternals, variant: GemmVariant = bestGemmVariant()): Gemm {
    let forBackend = Gemm.perBackend.get(backend);
    if (!forBackend) {
      forBackend = new Map();
      Gemm.perBackend.set(backend, forBackend);
    }
    let gemm = forBackend.get(variant);
    if (gemm) return gemm;
    const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
    if (!memory) throw new GemmUnavailableError('the wasm backend does not expose its memory');
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const module = gemmModule(variant, shared);
    if (!module)
      throw new GemmUnavailableError(`the ${variant} matrix kernel for ${shared ? 'shared' : 'unshared'} memory is not available here`);
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const exports = instance.exports as unknown as GemmExports;
    // Never freed: it lives as long as the backend.
    const scratch = backend.wasm._malloc(exports.SCRATCH_BYTES.value as number) >>> 0;
    gemm = new Gemm(variant, backend, memory, exports, scratch, module);
    forBackend.set(variant, gemm);
    return gemm;
  }

  /** C[m×n] (row-major, `ldc` floats per row, at byte offset `c`) = A·B, or C + A·B when `accumulate`. */
  run(m: number, n: number, k: number, a: Operand, b: Operand, c: number, ldc: number, accumulate = false): void {
    this.product(m, n, k, a.offset, a.row, a.col, b, c, ldc, accumulate, 0);
  }

  /** The same module's element-wise kernels. */
  get elementwise(): ElementwiseExports {
    return this.exports;
  }

  /** `bytes` of the backend's memory for the duration of `body` (its byte offset). */
  withBuffer<T>(bytes: number, body: (offset: number) => T): T {
    const offset = this.backend.wasm._malloc(bytes) >>> 0;
    try {
      return body(offset);
    } finally {
      this.backend.wasm._free(offset);
    }
  }

  /** The float32 view of the backend's memory now (re-take it after any allocation). */
  floats(offset: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, offset, length);
  }

  /** The module and memory this instance runs on (for helper threads' instances). */
  instanceParts(): { module: WebAssembly.Module; memory: WebAssembly.Memory } {
    return { module: this.module, memory: this.memory };
  }

  /** Runs large products and Winograd convolutions on these helper threads too (undefined: this thread only). */
  useParallel(parallel: GemmParallel | undefined): void {
    this.parallel = parallel;
  }

  /** The export `gemm`, split by column blocks of 8 over the helper threads when it is large enough. */
  private product(
    m: number,
    n: number,
    k: number,
    a: number,
    aRow: number,
    aCol: number,
    b: Operand,
    c: number,
    ldc: number,
    accumulate: boolean,
    depthOffsets: number,
  ): void {
    const args = (j0: number, nj: number, scratch: number) => [
      m,
      nj,
      k,
      a,
      aRow,
      aCol,
      b.offset + 4 * j0 * b.col,
      b.row,
      b.col,
      c + 4 * j0,
      ldc,
      accumulate ? 1 : 0,
      scratch,
      depthOffsets,
    ];
    const ranges = columnRanges(n, this.partsFor(m * n * k, Math.floor(n / 8)));
    this.runParts(
      'gemm',
      ranges.map(([j0, j1], i) => args(j0, j1 - j0, this.buffers.scratch(i))),
    );
  }

  /** How many parts a call of `macs` multiply-adds splits into, at most `units` (1 without helpers or when small). */
  partsFor(macs: number, units: number): number {
    return this.parallel && macs >= PARALLEL_MIN_MACS ? Math.max(1, Math.min(this.parallel.count, units)) : 1;
  }

  /** Calls export `name` once per part: here alone for one part, else part 0 here and the rest on helpers. */
  runParts(name: GemmParallelExport, calls: number[][]): void {
    const call = (values: number[]) => (this.exports[name] as (...a: number[]) => void)(...values);
    if (calls.length === 1) call(calls[0]);
    else this.parallel!.run(name, calls, call);
  }

  /**
   * Runs `body` with a table of `length` int32s in the backend's memory (freed afterwards): `set`
   * writes it, `offset` is its byte offset.
   */
  withTable(length: number, body: (table: { offset: number; set(values: Int32Array): void }) => void): void {
    this.withBuffer(length * 4, (offset) =>
      body({ offset, set: (values) => new Int32Array(this.memory.buffer, offset, length).set(values) }),
    );
  }

  /**
   * C[m×n] = Aᵀ·B with A gathered: A(i, p) is the float at byte offset `a` + 4·(depthOffsets[p] + i),
   * zero where depthOffsets[p] < 0. `depthOffsets` is the byte offset of k int32s in the memory.
   */
  runGathered(
    m: number,
    n: number,
    k: number,
    a: number,
    depthOffsets: number,
    b: Operand,
    c: number,
    ldc: number,
    accumulate = false,
  ): void {
    this.product(m, n, k, a, 1, 0, b, c, ldc, accumulate, depthOffsets);
  }

  /** Floats that `prepack` writes for a k×n B. */
  packedFloats(k: number, n: number): number {
    return this.exports.packedBFloats(k, n);
  }

  /** Packs B (k×n) once into `dst` (packedFloats(k, n) floats at that byte offset), for `conv`. */
  prepack(b: Operand, k: number, n: number, dst: number): void {
    this.exports.prepackB(b.offset, b.row, b.col, k, n, dst);
  }

  /**
   * A stride-1 NHWC convolution as GEMMs on a prepacked [kh, kw, cin, n] filter, with bias and ReLU
   * (see `conv` in core/asm/gemm.ts). Output row (b, oh, ow) at c + 4·((b·outH + oh)·groupStride +
   * ow·ldc). Byte offsets throughout.
   */
  conv(
    x: ConvInput,
    filter: { packed: number; kh: number; kw: number; n: number; bias: number; relu: boolean },
    out: { offset: number; ldc: number; groupStride: number },
    splitA = BOUNDS_CHECKED,
  ): void {
    const k = filter.kh * filter.kw * x.channels;
    const patches = this.buffers.work(0, this.exports.convScratchBytes(k, filter.n));
    this.exports.conv(
      x.offset,
      x.batch,
      x.height,
      x.width,
      x.channels,
      filter.kh,
      filter.kw,
      x.padTop,
      x.padLeft,
      x.outHeight,
      x.outWidth,
      filter.packed,
      filter.n,
      filter.bias,
      filter.relu ? 1 : 0,
      out.offset,
      out.ldc,
      out.groupStride,
      this.buffers.scratch(0),
      patches,
      splitA ? 1 : 0,
    );
  }
}

/** A convolution's input image and geometry (byte offset in the backend's memory). */
export interface ConvInput {
  offset: number;
  batch: number;
  height: number;
  width: number;
  channels: number;
  padTop: number;
  padLeft: number;
  outHeight: number;
  outWidth: number;
}
