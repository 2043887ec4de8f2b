/** Progress of a run: a bar with ETA on a terminal, plain lines elsewhere (CI logs), or nothing. */
import cliProgress from 'cli-progress';
import type { MetricsRow } from './metrics.ts';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'quiet';

export interface ProgressReporter {
  start(total: number, done: number): void;
  update(row: MetricsRow): void;
  /** A line that must not be garbled by the bar (warnings, notices). */
  log(line: string): void;
  stop(): void;
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : String(v));

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  seconds = Math.round(seconds);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

export function createProgress(
  mode: ProgressMode,
  logEvery: number,
  out: { info: (l: string) => void; warn: (l: string) => void },
): ProgressReporter {
  const resolved = mode === 'auto' ? (process.stderr.isTTY && !process.env.CI ? 'bar' : 'lines') : mode;
  if (resolved === 'bar') {
    const bar = new cliProgress.SingleBar(
      {
        format:
          'step {value}/{total} [{bar}] {percentage}% | ETA {eta_formatted} | D {d_loss} G {g_loss} D(x) {d_x} D(G(z)) {d_g_z} | {ips} img/s',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 20,
        stream: process.stderr,
        // Asked for explicitly on a non-terminal: draw anyway (one line per redraw).
        noTTYOutput: !process.stderr.isTTY,
        notTTYSchedule: 10_000,
      },
      cliProgress.Presets.shades_classic,
    );
    return {
      start: (total, done) => bar.start(total, done, { d_loss: '-', g_loss: '-', d_x: '-', d_g_z: '-', ips: '-' }),
      update: (row) =>
        bar.update(row.step, {
          d_loss: fmt(row.d_loss),
          g_loss: fmt(row.g_loss),
          d_x: fmt(row.d_x),
          d_g_z: fmt(row.d_g_z),
          ips: row.images_per_s.toFixed(1),
        }),
      // Clear the bar's line, print, and let the next update redraw the bar below.
      log: (line) => process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}${line}\n`),
      stop: () => bar.stop(),
    };
  }
  let total = 0;
  let startedAt = 0;
  let firstStep = 0;
  return {
    start: (t, done) => {
      total = t;
      firstStep = done;
      startedAt = performance.now();
    },
    update: (row) => {
      if (resolved === 'quiet') return;
      if (row.step % logEvery !== 0 && row.step !== total) return;
      const elapsed = (performance.now() - startedAt) / 1000;
      const eta = ((total - row.step) * elapsed) / Math.max(1, row.step - firstStep);
      out.info(
        `step ${row.step}/${total} epoch ${row.epoch} d_loss=${fmt(row.d_loss)} g_loss=${fmt(row.g_loss)} ` +
          `d_x=${fmt(row.d_x)} d_g_z=${fmt(row.d_g_z)}/${fmt(row.d_g_z2)} ${row.images_per_s.toFixed(1)} img/s eta ${formatEta(eta)}`,
      );
    },
    log: (line) => out.warn(line),
    stop: () => {},
  };
}
