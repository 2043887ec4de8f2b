/**
 * How a GEMM call is split over helper threads (./threads.ts runs the parts): the parts, and when a
 * call is worth splitting.
 */

/**
 * Helper threads for the GEMM (./threads.ts, Node only): `run` calls export `name` once per part,
 * part 0 through `here` on the calling thread and the others on helpers, and returns when all are done.
 */
export interface GemmParallel {
  readonly count: number;
  run(name: GemmParallelExport, parts: number[][], here: (args: number[]) => void): void;
}

/** The exports a call can be split into parts of. */
export type GemmParallelExport = 'gemm' | 'winograd' | 'winogradPhases' | 'winogradFilterGradient';

/** Columns 0 … n−1 cut into `parts` ranges [j0, j1) of whole 8-column blocks (the GEMM's tile width). */
export function columnRanges(n: number, parts: number): [number, number][] {
  const blocks = Math.ceil(n / 8);
  return Array.from({ length: parts }, (_, i) => [
    8 * Math.floor((blocks * i) / parts),
    Math.min(n, 8 * Math.floor((blocks * (i + 1)) / parts)),
  ]);
}

/** Products smaller than this many multiply-adds run on the calling thread alone (waking a helper costs ~0.1 ms). */
export const PARALLEL_MIN_MACS = 1 << 22;
