/**
 * Measures the time of a training step with a recipe on this machine: a few steps of a throw-away
 * run, the first left out (it compiles kernels and fills caches), the median of the rest.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readMetrics } from '../train/metrics.ts';
import type { StepTiming } from './folder-report.ts';

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/** `train(args)` runs `gan train` with the given extra flags; `trainFlags` are the recipe's and the data's. */
export async function measureStepTime(
  train: (args: string[]) => Promise<number>,
  trainFlags: string[],
  options: { steps?: number; backend: string },
): Promise<StepTiming> {
  const steps = options.steps ?? 3;
  const dir = await mkdtemp(path.join(tmpdir(), 'gan-step-timing-'));
  try {
    const code = await train([
      ...trainFlags,
      '--steps',
      String(steps),
      '--out',
      dir,
      '--checkpoint-every',
      '1000000',
      '--preview-every',
      '1000000',
      '--progress',
      'quiet',
    ]);
    if (code !== 0) throw new Error(`the timing run ended with exit code ${code}`);
    const rows = await readMetrics(path.join(dir, 'metrics.jsonl'));
    if (rows.length < 2) throw new Error('the timing run recorded too few steps');
    // `seconds` is the run's training time so far: its differences are each step's wall time.
    const timed = rows.slice(1).map((r, i) => ({ wall: r.seconds - rows[i].seconds, cpu: r.cpu_s }));
    return {
      wallSeconds: median(timed.map((t) => t.wall)),
      cpuSeconds: median(timed.map((t) => t.cpu)),
      steps: timed.length,
      backend: options.backend,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
