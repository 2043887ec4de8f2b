/** A folder checked for a recipe before training: the scan, what stops training, and its report. */
import { scanFolder } from '../data/folder-scan.ts';
import { parseBackground } from '../data/pixels.ts';
import { type StepTiming, formatFolderReport, recipeProblems } from './folder-report.ts';
import type { Recipe } from './recipes.ts';

/** Every recipe trains 32×32 colour models. */
export const RECIPE_IMAGE_SIZE = 32;

export async function checkFolder(root: string, recipe: Recipe, options: { background: string; steps?: number }) {
  const scan = await scanFolder(root, { imageSize: RECIPE_IMAGE_SIZE, channels: 3, background: parseBackground(options.background) });
  const problems = [...scan.problems, ...recipeProblems(scan, recipe)];
  const report = (timing?: StepTiming) =>
    formatFolderReport(scan, recipe, {
      imageSize: RECIPE_IMAGE_SIZE,
      background: options.background,
      problems,
      timing,
      steps: options.steps,
    });
  return { scan, problems, report, labelled: scan.classes.length > 0 };
}
