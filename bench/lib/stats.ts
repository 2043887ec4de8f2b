/** Small statistics and table helpers for the benchmarks (they print; nothing here asserts). */

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

export const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

/** A Markdown table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Milliseconds of CPU this process has used (all its threads), which other work on the same cores inflates less than wall time. */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Milliseconds of this process's CPU that one run of `fn` used. */
export function cpuMsOf(fn: () => void): number {
  const start = processCpuMs();
  fn();
  return processCpuMs() - start;
}

/** Wall-clock and CPU milliseconds of each of `reps` runs. */
export interface Timings {
  ms: number[];
  cpuMs: number[];
}

/** Times `fn` `reps` times (synchronously reading its result): wall-clock and this process's CPU milliseconds. */
export function timeSyncCpu(fn: () => void, reps: number): Timings {
  const out: Timings = { ms: [], cpuMs: [] };
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const c0 = processCpuMs();
    fn();
    out.cpuMs.push(processCpuMs() - c0);
    out.ms.push(performance.now() - t0);
  }
  return out;
}

/** Times `fn` `reps` times (synchronously reading its result), returning milliseconds. */
export function timeSync(fn: () => void, reps: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

export async function timeAsync(fn: () => Promise<void>, reps: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * Runs every contender for `rounds` rounds, interleaved (A B C … A B C …), so drift in machine load
 * hits all of them alike; returns all samples per contender.
 */
export async function interleaved<T = number>(
  contenders: { name: string; run: () => Promise<T[]> }[],
  rounds: number,
): Promise<Map<string, T[]>> {
  const samples = new Map(contenders.map((c) => [c.name, [] as T[]]));
  for (let r = 0; r < rounds; r++) for (const c of contenders) samples.get(c.name)!.push(...(await c.run()));
  return samples;
}
