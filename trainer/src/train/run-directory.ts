/**
 * What a run writes besides its checkpoints (checkpoint.ts):
 *
 *   <run>/run.json          the run's settings and architecture, for people and tools to read
 *   <run>/metrics.jsonl     one row per step
 *   <run>/previews/         step-NNNNNN.png and latest.png (the fixed latents), loss.svg
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from '../atomic-write.ts';
import { MetricsLog } from './metrics.ts';
import type { RunSettings } from './settings.ts';

/** Creates the run directory, records its settings and opens its metrics log continuing after `step`. */
export async function openRunDirectory(runDir: string, settings: RunSettings, stepsPerEpoch: number, step: number): Promise<MetricsLog> {
  await mkdir(runDir, { recursive: true });
  await writeFileAtomically(path.join(runDir, 'run.json'), JSON.stringify({ ...settings, stepsPerEpoch }, null, 2));
  return MetricsLog.open(path.join(runDir, 'metrics.jsonl'), step);
}

/** The preview grid of `step` (also as latest.png) and the loss curve so far. */
export async function writePreviews(runDir: string, step: number, grid: Uint8Array, lossSvg: string): Promise<void> {
  const dir = path.join(runDir, 'previews');
  await mkdir(dir, { recursive: true });
  await writeFileAtomically(path.join(dir, `step-${String(step).padStart(6, '0')}.png`), grid);
  await writeFileAtomically(path.join(dir, 'latest.png'), grid);
  await writeFileAtomically(path.join(dir, 'loss.svg'), lossSvg);
}
