/**
 * What the GEMM module (core/asm/gemm.ts) exports and what it needs of tfjs's WASM backend: the
 * signatures the kernels call, all offsets in bytes of the backend's memory.
 */
import type * as tf from '@tensorflow/tfjs-core';

export type GemmVariant = 'relaxed-simd' | 'simd';

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

/** The module's element-wise and per-channel kernels (core/asm/elementwise.ts); byte offsets throughout. */
export interface ElementwiseExports {
  binary(op: number, a: number, aFull: number, b: number, bFull: number, out: number, rows: number, c: number): void;
  greater(a: number, aFull: number, b: number, bFull: number, out: number, rows: number, c: number): void;
  select(condition: number, a: number, b: number, out: number, n: number): void;
  unary(kind: number, x: number, out: number, n: number, alpha: number): void;
  channelSums(x: number, rows: number, c: number, divisor: number, out: number): void;
  batchNorm(
    x: number,
    rows: number,
    c: number,
    mean: number,
    variance: number,
    offset: number,
    scale: number,
    epsilon: number,
    out: number,
    work: number,
    zeros: number,
  ): void;
}

export interface GemmExports extends ElementwiseExports {
  SCRATCH_BYTES: WebAssembly.Global;
  packedBFloats(k: number, n: number): number;
  prepackB(b: number, bRow: number, bCol: number, k: number, n: number, dst: number): void;
  convScratchBytes(k: number, n: number): number;
  winogradScratchBytes(cin: number, cout: number): number;
  winograd(
    x: number,
    batch: number,
    h: number,
    w: number,
    cin: number,
    padTop: number,
    padLeft: number,
    packedU: number,
    n: number,
    bias: number,
    relu: number,
    c: number,
    ldc: number,
    groupStride: number,
    scratch: number,
    work: number,
    splitA: number,
  ): void;
  winogradPhases(
    x: number,
    batch: number,
    h: number,
    w: number,
    cin: number,
    pixelStride: number,
    rowStride: number,
    imageStride: number,
    phases: number,
    phaseTable: number,
    packedU: number,
    n: number,
    bias: number,
    relu: number,
    c: number,
    ldc: number,
    groupStride: number,
    scratch: number,
    work: number,
    splitA: number,
  ): void;
  winogradFilterGradientScratchBytes(depth: number, nc: number): number;
  winogradFilterGradient(
    x: number,
    batch: number,
    h: number,
    w: number,
    cin: number,
    pixelStride: number,
    rowStride: number,
    imageStride: number,
    phases: number,
    phaseTable: number,
    dy: number,
    ldy: number,
    nc: number,
    m: number,
    ldm: number,
    scratch: number,
    work: number,
  ): void;
  conv(
    x: number,
    batch: number,
    h: number,
    w: number,
    cin: number,
    kh: number,
    kw: number,
    padTop: number,
    padLeft: number,
    outH: number,
    outW: number,
    packed: number,
    n: number,
    bias: number,
    relu: number,
    c: number,
    ldc: number,
    groupStride: number,
    scratch: number,
    patches: number,
    splitA: number,
  ): void;
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
