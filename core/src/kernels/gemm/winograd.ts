/**
 * Winograd's F(2×2, 2×2) on the matrix module (the `winograd*` exports of core/asm/winograd.ts): the
 * 2×2 convolutions of the serving generator's sub-pixel stages, stride-2 convolutions as 2×2 ones
 * over their four input phases, and the filter gradient of those, each split over the helper threads
 * of its Gemm (gemm.ts) by images or by column blocks when large enough.
 */
import { BOUNDS_CHECKED } from './module-loading.ts';
import type { ConvInput, Gemm } from './gemm.ts';
import { OP_ADD } from './gemm.ts';
import { columnRanges } from './parallel.ts';

interface WinogradFilter {
  packed: number;
  n: number;
  bias: number;
  relu: boolean;
}

interface ConvOutput {
  offset: number;
  ldc: number;
  groupStride: number;
}

/** The arguments both Winograd convolution exports end with: the filter, the output from `outRow` on, the buffers. */
function filterAndOutput(
  filter: WinogradFilter,
  out: ConvOutput,
  outRow: number,
  scratch: number,
  work: number,
  splitA: boolean,
): number[] {
  return [
    filter.packed,
    filter.n,
    filter.bias,
    filter.relu ? 1 : 0,
    out.offset + 4 * outRow * out.groupStride,
    out.ldc,
    out.groupStride,
    scratch,
    work,
    splitA ? 1 : 0,
  ];
}

/** The phased input's geometry and phase table, as both phased exports take them after the image count. */
function phasedGeometry(x: PhasedInput, table: number): number[] {
  return [x.height, x.width, x.channels, x.pixelStride, x.rowStride, x.imageStride, x.phases.length, table];
}

export class Winograd {
  constructor(readonly gemm: Gemm) {}

  /** Floats that `prepack` writes for a [2, 2, cin, n] filter. */
  floats(cin: number, n: number): number {
    return 9 * this.gemm.packedFloats(cin, n);
  }

  /**
   * Transforms a [2, 2, cin, n] filter (its values) into Winograd F(2×2, 2×2)'s 9 planes U = G F Gᵀ
   * (G = [1 0; 1 1; 0 1]) and packs each for `conv` into `dst` (floats(cin, n) floats).
   */
  prepack(filter: Float32Array, cin: number, n: number, dst: number): void {
    const plane = cin * n;
    this.gemm.withBuffer(4 * plane * 4, (taps) => {
      this.gemm.floats(taps, 4 * plane).set(filter);
      const offsets = [0, 1, 2, 3].map((i) => taps + i * plane * 4);
      this.prepackTaps(offsets, { row: n, col: 1 }, cin, n, dst);
    });
  }

  /**
   * `prepack` for a filter already in the backend's memory: tap (u, v) is the cin × n block at
   * byte offset `taps[2u + v]`, element (c, j) at 4·(c·layout.row + j·layout.col) bytes into it (so a
   * block stored transposed is read as its transpose, without a copy); each block is cin·n contiguous
   * floats. The sums run on the module (one single-precision add each, as the JavaScript form rounded
   * them), the packing reads the blocks in place.
   */
  prepackTaps(taps: number[], layout: { row: number; col: number }, cin: number, n: number, dst: number): void {
    const plane = cin * n;
    const [g00, g01, g10, g11] = taps;
    this.gemm.withBuffer(5 * plane * 4, (sums) => {
      const add = (a: number, b: number, out: number) => this.gemm.exports.binary(OP_ADD, a, 1, b, 1, out, 1, plane);
      const [p1, p3, p4, p5, p7] = [0, 1, 2, 3, 4].map((i) => sums + i * plane * 4);
      // G g: rows g0, g0 + g1, g1 (g's rows are u = 0, 1); then the same along v.
      add(g00, g01, p1);
      add(g00, g10, p3);
      add(g01, g11, p5);
      add(p3, p5, p4);
      add(g10, g11, p7);
      const packed = this.gemm.packedFloats(cin, n) * 4;
      [g00, p1, g01, p3, p4, p5, g10, p7, g11].forEach((plane, xi) => {
        this.gemm.prepack({ offset: plane, row: layout.row, col: layout.col }, cin, n, dst + xi * packed);
      });
    });
  }

  /**
   * `Gemm.conv` for a 2×2 filter prepacked by `prepack`, by Winograd's F(2×2, 2×2) (see
   * `winograd` in core/asm/gemm.ts): output height and width equal the input's and are even, and
   * the channel counts are multiples of 4.
   */
  conv(x: ConvInput, filter: WinogradFilter, out: ConvOutput, splitA = BOUNDS_CHECKED): void {
    const args = (b0: number, images: number, scratch: number, work: number) => [
      x.offset + 4 * b0 * x.height * x.width * x.channels,
      images,
      x.height,
      x.width,
      x.channels,
      x.padTop,
      x.padLeft,
      ...filterAndOutput(filter, out, b0 * x.height, scratch, work, splitA),
    ];
    const macs = x.batch * x.height * x.width * x.channels * filter.n * 4;
    this.byImages('winograd', x.batch, macs, this.gemm.exports.winogradScratchBytes(x.channels, filter.n), args);
  }

  /**
   * `conv` summed over input phases (see `winogradPhases` in core/asm/gemm.ts): a stride-2
   * convolution as 2×2 convolutions of its four input phases, their filters prepacked together by
   * `prepack` as one [2, 2, phases·channels, n] filter. Strides and phase offsets in floats.
   */
  convPhases(x: PhasedInput, filter: WinogradFilter, out: ConvOutput, splitA = BOUNDS_CHECKED): void {
    const phases = x.phases.length;
    this.withPhaseTable(x, (table) => {
      const args = (b0: number, images: number, scratch: number, work: number) => [
        x.offset + 4 * b0 * x.imageStride,
        images,
        ...phasedGeometry(x, table),
        ...filterAndOutput(filter, out, b0 * x.height, scratch, work, splitA),
      ];
      const macs = x.batch * x.height * x.width * phases * x.channels * filter.n * 4;
      this.byImages('winogradPhases', x.batch, macs, this.gemm.exports.winogradScratchBytes(phases * x.channels, filter.n), args);
    });
  }

  /**
   * The filter gradient of `convPhases` (see `winogradFilterGradient` in core/asm/gemm.ts): the 9
   * planes M_ξ [phases·channels, dy.n] at byte offset `m`, split by column blocks of 8 over the helper
   * threads when large enough. The caller maps them to the filter gradient.
   */
  filterGradient(x: PhasedInput, dy: { offset: number; n: number }, m: number): void {
    const phases = x.phases.length;
    const depth = phases * x.channels;
    this.withPhaseTable(x, (table) => {
      const args = (j0: number, nc: number, part: number) => [
        x.offset,
        x.batch,
        ...phasedGeometry(x, table),
        dy.offset + 4 * j0,
        dy.n,
        nc,
        m + 4 * j0,
        dy.n,
        this.gemm.buffers.scratch(part),
        this.gemm.buffers.work(part, this.gemm.exports.winogradFilterGradientScratchBytes(depth, nc)),
      ];
      const macs = x.batch * x.height * x.width * depth * dy.n * 4;
      const ranges = columnRanges(dy.n, this.gemm.partsFor(macs, Math.floor(dy.n / 8)));
      this.gemm.runParts(
        'winogradFilterGradient',
        ranges.map(([j0, j1], i) => args(j0, j1 - j0, i)),
      );
    });
  }

  /** `body` with x's phases as the module's phase table (offset, padTop, padLeft per phase, int32). */
  private withPhaseTable(x: PhasedInput, body: (table: number) => void): void {
    this.gemm.withTable(3 * x.phases.length, (table) => {
      table.set(Int32Array.from(x.phases.flatMap((p) => [p.offset, p.padTop, p.padLeft])));
      body(table.offset);
    });
  }

  /** Runs a Winograd export over `batch` images, split by images over the helper threads when large enough. */
  private byImages(
    name: 'winograd' | 'winogradPhases',
    batch: number,
    macs: number,
    workBytes: number,
    args: (b0: number, images: number, scratch: number, work: number) => number[],
  ): void {
    const parts = this.gemm.partsFor(macs, batch);
    const calls = Array.from({ length: parts }, (_, i) => {
      const b0 = Math.floor((batch * i) / parts);
      const b1 = Math.floor((batch * (i + 1)) / parts);
      return args(b0, b1 - b0, this.gemm.buffers.scratch(i), this.gemm.buffers.work(i, workBytes));
    });
    this.gemm.runParts(name, calls);
  }
}

/** Input phases of a strided convolution for `convPhases`: strides and phase offsets in floats. */
export interface PhasedInput {
  offset: number; // bytes
  batch: number;
  height: number; // of each phase image, and of the output
  width: number;
  channels: number; // per phase
  pixelStride: number;
  rowStride: number;
  imageStride: number;
  phases: { offset: number; padTop: number; padLeft: number }[];
}
