/**
 * What a run writes besides its checkpoints (checkpoint.ts):
 *
 *   <run>/run.json          the run's settings and architecture, for people and tools to read, and the
 *                           step it was last asked to reach (`targetSteps`: a bare --resume continues to it)
 *   <run>/metrics.jsonl     one row per step
 *   <run>/previews/         step-NNNNNN.png and latest.png (the fixed latents), loss.svg
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from '../atomic-write.ts';
import { MetricsLog } from './metrics.ts';
import type { RunSettings } from './settings.ts';

/** Creates the run directory, records its settings and target, and opens its metrics log continuing after `step`. */
export async function openRunDirectory(
  runDir: string,
  settings: RunSettings,
  stepsPerEpoch: number,
  step: number,
  targetSteps: number,
): Promise<MetricsLog> {
  await mkdir(runDir, { recursive: true });
  await writeFileAtomically(path.join(runDir, 'run.json'), JSON.stringify({ ...settings, stepsPerEpoch, targetSteps }, null, 2));
  return MetricsLog.open(path.join(runDir, 'metrics.jsonl'), step);
}

/** The step a run was last asked to reach, from its run.json; undefined for runs from before it was recorded. */
export async function recordedTargetSteps(runDir: string): Promise<number | undefined> {
  try {
    const { targetSteps } = JSON.parse(await readFile(path.join(runDir, 'run.json'), 'utf8')) as { targetSteps?: unknown };
    return typeof targetSteps === 'number' && Number.isInteger(targetSteps) && targetSteps > 0 ? targetSteps : undefined;
  } catch {
    return undefined;
  }
}

/** The preview grid of `step` (also as latest.png) and the loss curve so far. */
export async function writePreviews(runDir: string, step: number, grid: Uint8Array, lossSvg: string): Promise<void> {
  const dir = path.join(runDir, 'previews');
  await mkdir(dir, { recursive: true });
  await writeFileAtomically(path.join(dir, `step-${String(step).padStart(6, '0')}.png`), grid);
  await writeFileAtomically(path.join(dir, 'latest.png'), grid);
  await writeFileAtomically(path.join(dir, 'loss.svg'), lossSvg);
}
