/**
 * The AssemblyScript matrix product (core/asm/gemm.ts, built into the `.wasm` files next to this one)
 * instantiated on the memory of a tfjs WASM backend, so it reads and writes tensors in place.
 *
 * Node only (reads the `.wasm` files from disk): the trainer's kernels use it; the worker does not.
 *
 * Variant: relaxed SIMD (fused multiply-add where the CPU has it) when the engine validates that
 * module, plain SIMD otherwise. Node 20 validates it only after `enableRelaxedSimd()`.
 */
import { readFileSync } from 'node:fs';
import * as v8 from 'node:v8';
import type * as tf from '@tensorflow/tfjs-core';

export type GemmVariant = 'relaxed-simd' | 'simd';

export class GemmUnavailableError extends Error {
  override name = 'GemmUnavailableError';
}

/** What the kernels need of tfjs's BackendWasm (its fields are not in its public types). */
export interface WasmBackendInternals {
  wasm: {
    wasmMemory?: WebAssembly.Memory; // threaded build: the glue creates the shared memory
    asm?: { memory?: WebAssembly.Memory }; // single-threaded build: the module exports it
    _malloc(bytes: number): number;
    _free(offset: number): void;
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
}

interface GemmExports {
  SCRATCH_BYTES: WebAssembly.Global;
  gemm(
    m: number,
    n: number,
    k: number,
    a: number,
    aRow: number,
    aCol: number,
    b: number,
    bRow: number,
    bCol: number,
    c: number,
    ldc: number,
    accumulate: number,
    scratch: number,
    aDepthOffsets: number,
  ): void;
}

const fileOf = (variant: GemmVariant, shared: boolean) => new URL(`./gemm-${variant}${shared ? '-shared' : ''}.wasm`, import.meta.url);
const bytes = new Map<string, Uint8Array<ArrayBuffer>>();
function moduleBytes(variant: GemmVariant, shared: boolean): Uint8Array<ArrayBuffer> {
  const file = fileOf(variant, shared);
  let b = bytes.get(file.href);
  if (!b) {
    b = new Uint8Array(readFileSync(file));
    bytes.set(file.href, b);
  }
  return b;
}

/**
 * Lets Node 20's V8 compile relaxed SIMD (on by default from Node 22). Must run before the module is
 * compiled; harmless where relaxed SIMD is already on.
 */
export function enableRelaxedSimd(): void {
  if (!WebAssembly.validate(moduleBytes('relaxed-simd', false))) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
}

/** The best variant this engine compiles. */
export function bestGemmVariant(): GemmVariant {
  return WebAssembly.validate(moduleBytes('relaxed-simd', false)) ? 'relaxed-simd' : 'simd';
}

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
    private readonly exports: GemmExports,
    private readonly scratch: number,
  ) {}

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
    const binary = moduleBytes(variant, shared);
    if (!WebAssembly.validate(binary)) throw new GemmUnavailableError(`this engine cannot compile the ${variant} matrix kernel`);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(binary), { env: { memory } });
    const exports = instance.exports as unknown as GemmExports;
    // Never freed: it lives as long as the backend.
    const scratch = backend.wasm._malloc(exports.SCRATCH_BYTES.value as number) >>> 0;
    gemm = new Gemm(variant, backend, memory, exports, scratch);
    forBackend.set(variant, gemm);
    return gemm;
  }

  /** C[m×n] (row-major, `ldc` floats per row, at byte offset `c`) = A·B, or C + A·B when `accumulate`. */
  run(m: number, n: number, k: number, a: Operand, b: Operand, c: number, ldc: number, accumulate = false): void {
    this.exports.gemm(m, n, k, a.offset, a.row, a.col, b.offset, b.row, b.col, c, ldc, accumulate ? 1 : 0, this.scratch, 0);
  }

  /**
   * Runs `body` with a table of `length` int32s in the backend's memory (freed afterwards): `set`
   * writes it, `offset` is its byte offset.
   */
  withTable(length: number, body: (table: { offset: number; set(values: Int32Array): void }) => void): void {
    const offset = this.backend.wasm._malloc(length * 4) >>> 0;
    try {
      body({ offset, set: (values) => new Int32Array(this.memory.buffer, offset, length).set(values) });
    } finally {
      this.backend.wasm._free(offset);
    }
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
    this.exports.gemm(m, n, k, a, 1, 0, b.offset, b.row, b.col, c, ldc, accumulate ? 1 : 0, this.scratch, depthOffsets);
  }
}
