/**
 * The run's record: one JSON object per step in `<run>/metrics.jsonl`, and the watch for the classic
 * failures (NaN, a discriminator that has won).
 */
import { existsSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../atomic-write.ts';

export interface MetricsRow {
  step: number;
  epoch: number;
  /** BCE(D(x), 1) + BCE(D(G(z)), 0). */
  d_loss: number;
  /** BCE(D(G(z)), 1). */
  g_loss: number;
  /** Mean D score on the real batch. */
  d_x: number;
  /** Mean D score on G's batch during D's step (before D's update). */
  d_g_z: number;
  /** Mean D score on G's batch during G's step (after D's update). */
  d_g_z2: number;
  /** The vision-aided heads' hinge loss (runs with a vision-aided discriminator only). */
  dv_loss?: number;
  /** Real images per second through this iteration (both steps), wall clock. */
  images_per_s: number;
  /** CPU seconds this process spent on the iteration: with images_per_s, shows how contended the machine was. */
  cpu_s: number;
  /** Training seconds since the run began (summed over resumes). */
  seconds: number;
  time: string;
}

/** Rows of a metrics file; a torn last line (killed mid-write) is ignored. */
export async function readMetrics(file: string): Promise<MetricsRow[]> {
  if (!existsSync(file)) return [];
  const rows: MetricsRow[] = [];
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    try {
      rows.push(JSON.parse(line) as MetricsRow);
    } catch {
      // a line cut short by a crash
    }
  }
  return rows;
}

export class MetricsLog {
  private constructor(
    readonly file: string,
    readonly rows: MetricsRow[],
  ) {}

  /**
   * Opens the log of a run that continues after `step`: rows past it (written after the checkpoint
   * the run resumes from) are dropped, so every step appears once.
   */
  static async open(file: string, step: number): Promise<MetricsLog> {
    const all = await readMetrics(file);
    const kept: MetricsRow[] = [];
    const seen = new Set<number>();
    for (const row of all) {
      if (row.step <= step && !seen.has(row.step)) {
        kept.push(row);
        seen.add(row.step);
      }
    }
    if (kept.length !== all.length || existsSync(file)) {
      await writeFileAtomically(file, kept.map((r) => JSON.stringify(r) + '\n').join(''));
    }
    return new MetricsLog(file, kept);
  }

  async append(row: MetricsRow): Promise<void> {
    this.rows.push(row);
    await appendFile(this.file, JSON.stringify(row) + '\n');
  }
}

export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
}

export interface WatchOptions {
  /** Consecutive steps with D(x) > 0.99 and D(G(z)) < 0.01 before warning. */
  overpowerSteps: number;
}

/** Watches each step's numbers; returns a warning the first time a failure pattern sets in. */
export class FailureWatch {
  private overpowered = 0;
  private warned = false;

  constructor(private readonly options: WatchOptions = { overpowerSteps: 100 }) {}

  /** Throws TrainingDivergedError on NaN or infinite losses; returns a warning line or undefined. */
  check(row: Pick<MetricsRow, 'step' | 'd_loss' | 'g_loss' | 'd_x' | 'd_g_z' | 'dv_loss'>): string | undefined {
    // dv_loss only where the run has vision-aided heads: heads gone to NaN poison G once its weight ramps in.
    const bad = (['d_loss', 'g_loss', 'd_x', 'd_g_z', 'dv_loss'] as const).filter((k) => k in row && !Number.isFinite(row[k]));
    if (bad.length) {
      throw new TrainingDivergedError(
        `step ${row.step}: ${bad.join(', ')} became NaN or infinite; training stopped (the last checkpoint is intact). ` +
          'Try a lower learning rate or check the data.',
      );
    }
    if (row.d_x > 0.99 && row.d_g_z < 0.01) this.overpowered++;
    else {
      this.overpowered = 0;
      this.warned = false;
    }
    if (this.overpowered >= this.options.overpowerSteps && !this.warned) {
      this.warned = true;
      return (
        `warning: step ${row.step}: the discriminator is overpowering the generator (D(x) > 0.99 and D(G(z)) < 0.01 ` +
        `for ${this.overpowered} steps); G gets almost no gradient. Consider a lower --lr-d, a higher --lr-g, or restarting from an earlier checkpoint.`
      );
    }
    return undefined;
  }
}
