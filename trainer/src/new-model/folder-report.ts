/**
 * The report of a folder before training (`gan new --dry-run`, and the first lines of every
 * `gan new`): images found, each file skipped with its reason, classes and counts, the conversions
 * made (each kind once), what stops training, and the measured time per 1000 steps.
 */
import type { FolderScan } from '../data/folder-scan.ts';
import type { Recipe } from './recipes.ts';

/** What the recipe needs of the data that the folder does not have, one line each. */
export function recipeProblems(scan: FolderScan, recipe: Recipe): string[] {
  const problems: string[] = [];
  if (recipe.minImagesPerClass > 0)
    for (const c of scan.classes)
      if (c.count > 0 && c.count < recipe.minImagesPerClass)
        problems.push(
          `class folder ${c.name}/ has ${c.count} usable image${c.count === 1 ? '' : 's'}; the ${recipe.name} recipe needs at least ${recipe.minImagesPerClass} in each class`,
        );
  if (scan.images.length > 0 && scan.images.length < recipe.minImages)
    problems.push(`${scan.images.length} usable images in all; the ${recipe.name} recipe needs at least ${recipe.minImages}`);
  return problems;
}

export interface StepTiming {
  /** Wall seconds per step, median of the timed steps. */
  wallSeconds: number;
  /** CPU seconds of this process per step (all threads), median of the timed steps. */
  cpuSeconds: number;
  steps: number;
  backend: string;
}

const minutes = (seconds: number) => (seconds < 120 ? `${seconds.toFixed(0)} s` : `${(seconds / 60).toFixed(1)} min`);

export function formatFolderReport(
  scan: FolderScan,
  recipe: Recipe,
  extra: { imageSize: number; background: string; problems: string[]; timing?: StepTiming; steps?: number },
): string {
  const lines: string[] = [];
  const found = scan.images.length + scan.skipped.length;
  lines.push(
    `${scan.root}: ${found} file${found === 1 ? '' : 's'} found, ${scan.images.length} images used, ${scan.skipped.length} skipped`,
  );
  if (scan.classes.length > 0) {
    lines.push(`classes (${scan.classes.length}, the sub-folders):`);
    for (const c of scan.classes) lines.push(`  ${c.name}: ${c.count}`);
  } else lines.push('classes: none (images at the top level): an unconditional model');
  lines.push(
    `each image: composited on ${extra.background} where transparent, centre-cropped to a square, shrunk to ${extra.imageSize}×${extra.imageSize} by area averaging`,
  );
  if (scan.conversions.length > 0) {
    lines.push('accepted and converted:');
    for (const c of scan.conversions) lines.push(`  ${c.kind}: ${c.count} image${c.count === 1 ? '' : 's'}`);
  }
  if (scan.skipped.length > 0) {
    lines.push('skipped:');
    for (const s of scan.skipped) lines.push(`  ${s.file}: ${s.reason}`);
  }
  lines.push(`recipe: ${recipe.name} (${recipe.summary})`);
  if (extra.timing) {
    const t = extra.timing;
    lines.push(
      `time per 1000 steps here: ${minutes(t.wallSeconds * 1000)} (${minutes(t.cpuSeconds * 1000)} of CPU; median of ${t.steps} timed steps on ${t.backend})` +
        (extra.steps ? `; ${extra.steps} steps ≈ ${minutes(t.wallSeconds * extra.steps)}` : ''),
    );
  }
  if (extra.problems.length > 0) {
    lines.push('cannot train on it as it is:');
    for (const p of extra.problems) lines.push(`  ${p}`);
  }
  return lines.join('\n');
}
