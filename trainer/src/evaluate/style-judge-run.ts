/**
 * `gan train-classifier --judge`: renders every emoji group, trains the style judge on its training
 * split, measures it on the held-out split (all groups, and the emoji model's groups alone), and saves
 * it with its card (README.md: per-style accuracy and the confusion matrix).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Sfc32 } from '@gan/core/prng';
import { DEFAULT_EMOJI_GROUPS } from '../data/emoji.ts';
import { STYLE_SPLIT_RULE, loadStyleData, styleSubset } from './style-data.ts';
import { STYLE_JUDGE_ID, type StyleJudgeShape, buildStyleJudge, judgeAccuracy, trainStyleJudge } from './style-judge.ts';
import { judgeNoiseRobustness } from './judge-robustness.ts';
import { realSplits } from './real-data.ts';
import { type ClassifierInfo, defaultClassifiersDir, saveClassifier, trainingRecord, updateClassifierInfo } from './store.ts';

export interface StyleJudgeRunOptions {
  imageSize: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  maxShift: number;
  /** Largest σ of the pixel-noise augmentation, in 8-bit levels (0: none). */
  pixelNoise: number;
  /** Share of training images snapped to a random palette first (0: none). */
  paletteSnap: number;
  seed: string;
  backend: string;
  shape: StyleJudgeShape;
  cacheDir?: string;
  out?: string;
  log?: (line: string) => void;
}

type Measured = ReturnType<typeof judgeAccuracy>;

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

/** The confusion matrix as a markdown table. */
export function confusionTable(m: { matrix: number[][]; byClass: Record<string, number> }, classNames: string[]): string[] {
  return [
    `| true ↓ / judged → | ${classNames.join(' | ')} | accuracy |`,
    `| --- | ${classNames.map(() => '---:').join(' | ')} | ---: |`,
    ...classNames.map((name, c) => `| ${name} | ${m.matrix[c].join(' | ')} | ${pct(m.byClass[name])} |`),
  ];
}

/** The noise levels the card reports the judge's figures at (0: the clean renders, for comparison). */
export const ROBUSTNESS_LEVELS = [0, 2, 4];

function robustnessTable(info: ClassifierInfo): string[] {
  if (!info.noiseRobustness) return [];
  return [
    `## Pixel noise nobody sees: the model's held-out renders with N(0, σ²) 8-bit levels on every value`,
    '',
    "Scored as if they were samples (`gan evaluate --extractor judge`'s figures): a judge that measures drawings gives them",
    "nearly the clean renders' figures; one that measures pixel noise calls them far from real.",
    '',
    '| σ (levels) | FD / floor | style agreement | within-style precision / recall |',
    '| ---: | ---: | ---: | --- |',
    ...info.noiseRobustness.map(
      (r) => `| ${r.levels} | ${r.fdRatio.toFixed(2)}× | ${pct(r.agreement)} | ${r.precision.toFixed(2)} / ${r.recall.toFixed(2)} |`,
    ),
    '',
  ];
}

function card(info: ClassifierInfo, all: Measured, model: Measured, command: string): string {
  return [
    `# ${info.id}: the emoji style judge`,
    '',
    'Tells the eight styles of the `emoji` model apart; its 64-feature penultimate layer is the feature space of',
    '`gan evaluate --extractor judge`, and it judges style agreement for emoji models. It never enters training or',
    'sampling: a network something was trained against is no longer a measure of it.',
    '',
    `- version ${info.version}, ${info.imageSize} px, inputs: the image and ${info.statistics} statistics (trainer/src/evaluate/style-statistics.ts)`,
    `- trained on ${info.trainCount} renders of every Unicode group, ${info.training.epochs} epochs, ${info.training.seconds} s on ${info.training.backend}${info.training.pixelNoise ? `, each training image with pixel noise of σ up to ${info.training.pixelNoise} levels` : ''}${info.training.paletteSnap ? `, ${Math.round(info.training.paletteSnap * 100)} % of them first snapped to 8–32 colours` : ''}`,
    `- held-out split (fixed; never trained on by the judge or, for the model's groups, the generator): ${info.split}`,
    `- reproduce: \`${command}\``,
    '',
    `## Held-out accuracy: ${pct(all.accuracy)} of ${all.count} real renders (every group)`,
    '',
    ...confusionTable(all, info.classNames),
    '',
    `## On the emoji model's groups (${DEFAULT_EMOJI_GROUPS.join(', ')}): ${pct(model.accuracy)} of ${model.count}`,
    '',
    ...confusionTable(model, info.classNames),
    '',
    ...robustnessTable(info),
  ].join('\n');
}

export async function trainAndSaveStyleJudge(options: StyleJudgeRunOptions): Promise<{ dir: string; info: ClassifierInfo }> {
  const log = options.log ?? (() => {});
  const data = await loadStyleData({ imageSize: options.imageSize, cacheDir: options.cacheDir, log });
  const train = styleSubset(data, (i) => !i.heldOut);
  const heldOut = styleSubset(data, (i) => i.heldOut);
  const heldOutModel = styleSubset(data, (i) => i.heldOut && DEFAULT_EMOJI_GROUPS.includes(i.group));
  log(`style judge: ${train.count} training and ${heldOut.count} held-out renders (${heldOutModel.count} in the model's groups)`);
  // The robustness figures are measured against the generator's own splits of its groups, as `gan evaluate
  // --extractor judge` measures; read before training, so that a missing data set fails before a judge is saved.
  const real = await realSplits(
    'emoji',
    { imageSize: options.imageSize, channels: 3, background: 'white' },
    { cacheDir: options.cacheDir, log },
  );
  const model = buildStyleJudge(
    options.imageSize,
    data.classNames.length,
    Sfc32.fromSeed(`weights:${options.seed}`).nextInt(1 << 20),
    options.shape,
  );
  const started = performance.now();
  try {
    trainStyleJudge(model, train, {
      ...options,
      statistics: options.shape.statistics,
      onEpoch: (epoch, loss) => {
        const m = judgeAccuracy(model, heldOut);
        log(
          `epoch ${epoch}/${options.epochs}: loss ${loss.toFixed(4)}, held-out accuracy ${pct(m.accuracy)}, ${((performance.now() - started) / 1000).toFixed(0)} s`,
        );
      },
    });
    const seconds = Math.round((performance.now() - started) / 1000);
    const all = judgeAccuracy(model, heldOut);
    const inModel = judgeAccuracy(model, heldOutModel);
    const dir = options.out ?? path.join(defaultClassifiersDir(), STYLE_JUDGE_ID);
    const saved = await saveClassifier(dir, model, {
      id: STYLE_JUDGE_ID,
      dataset: 'emoji',
      imageSize: options.imageSize,
      channels: 3,
      classNames: data.classNames,
      background: 'white',
      labels: 'classes',
      heldOutAccuracy: all.accuracy,
      trainCount: train.count,
      heldOutCount: heldOut.count,
      statistics: options.shape.statistics,
      split: STYLE_SPLIT_RULE,
      heldOutAccuracyByClass: all.byClass,
      confusion: all.matrix,
      modelGroups: {
        groups: [...DEFAULT_EMOJI_GROUPS],
        heldOutCount: inModel.count,
        heldOutAccuracy: inModel.accuracy,
        heldOutAccuracyByClass: inModel.byClass,
        confusion: inModel.matrix,
      },
      training: trainingRecord(options, seconds),
      createdAt: new Date().toISOString(),
    });
    const noiseRobustness = judgeNoiseRobustness({ model, info: saved }, real, ROBUSTNESS_LEVELS);
    for (const r of noiseRobustness)
      log(
        `pixel noise σ ${r.levels} levels: FD ${r.fdRatio.toFixed(2)}× floor, agreement ${pct(r.agreement)}, precision / recall ${r.precision.toFixed(2)} / ${r.recall.toFixed(2)}`,
      );
    const info = await updateClassifierInfo(dir, { ...saved, noiseRobustness });
    const command =
      `npx gan train-classifier --judge --epochs ${options.epochs} --batch-size ${options.batchSize} --lr ${options.learningRate} ` +
      `--max-shift ${options.maxShift}${options.pixelNoise > 0 ? ` --pixel-noise ${options.pixelNoise}` : ''}${options.paletteSnap > 0 ? ` --palette-snap ${options.paletteSnap}` : ''} --seed ${options.seed} --judge-statistics ${options.shape.statistics} --judge-filters ${options.shape.filters.join(',')} --backend ${options.backend}`;
    await writeFile(path.join(dir, 'README.md'), card(info, all, inModel, command));
    return { dir, info };
  } finally {
    model.dispose();
  }
}
