/** `gan train-classifier`: train and save the feature extractor that `gan evaluate` uses for a data set. */
import { type Command, Option } from 'commander';
import { IMAGE_SIZES } from '@gan/core';
import { trainExtractor } from '../evaluate/run.ts';
import { DEFAULT_JUDGE_SHAPE } from '../evaluate/style-judge.ts';
import { trainAndSaveStyleJudge } from '../evaluate/style-judge-run.ts';
import { STATISTICS_VERSIONS, type StatisticsVersion } from '../evaluate/style-statistics.ts';
import {
  UsageError,
  activateBackend,
  backendOption,
  threadsOption,
  info,
  integer,
  fraction,
  nonNegativeNumber,
  oneOf,
  positiveNumber,
  type BackendFlags,
} from './common.ts';

interface ClassifierFlags extends BackendFlags {
  data?: string;
  judge: boolean;
  judgeStatistics: StatisticsVersion;
  judgeFilters: string;
  imageSize: 8 | 16 | 32 | 64;
  epochs: number;
  batchSize: number;
  lr: number;
  maxShift: number;
  pixelNoise: number;
  paletteSnap: number;
  seed: string;
  background: string;
  labels: 'classes' | 'instances';
  out?: string;
}

/** `24,48,96` → three filter counts. */
function judgeFilters(text: string): [number, number, number] {
  const parts = text.split(',').map((p) => Number(p));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 1 || p > 512))
    throw new UsageError('--judge-filters', 'three filter counts, e.g. 24,48,96');
  return parts as [number, number, number];
}

export function register(program: Command): void {
  program
    .command('train-classifier')
    .description(
      "Train the evaluation feature extractor: a small CNN on the data set's own labels (training split), tested on the held-out split, " +
        'saved with its accuracy and version in models/classifiers/<dataset>-<image size>.',
    )
    .option('--data <spec>', 'mnist, twemoji (categories as labels) or folder:<path> (sub-folders as labels)')
    .option(
      '--judge',
      'instead of --data: the emoji style judge (every Unicode group in the eight styles, a fixed held-out split by icon name, ' +
        'colour and gradient statistics beside the CNN), saved as models/classifiers/emoji-style-32',
      false,
    )
    .addOption(
      new Option('--judge-statistics <version>', 'with --judge: the colour and gradient statistics beside the CNN')
        .choices(Object.keys(STATISTICS_VERSIONS))
        .default(DEFAULT_JUDGE_SHAPE.statistics),
    )
    .option('--judge-filters <a,b,c>', "with --judge: filters of the CNN's three stages", DEFAULT_JUDGE_SHAPE.filters.join(','))
    .option('--image-size <n>', 'image edge in pixels: the size of the models it will evaluate', oneOf(...IMAGE_SIZES), 32)
    .option('--epochs <n>', 'passes over the training split', integer(1, 1000), 8)
    .option('--batch-size <n>', 'images per step', integer(1, 4096), 64)
    .option('--lr <x>', 'Adam learning rate', positiveNumber, 1e-3)
    .option('--max-shift <n>', 'augmentation: random translations of up to n pixels', integer(0, 8), 2)
    .option(
      '--pixel-noise <levels>',
      'with --judge: augmentation: Gaussian noise on every pixel, σ up to this many 8-bit levels (random per image), so that differences nobody sees do not move the judge; 0 = none',
      nonNegativeNumber,
      0,
    )
    .option(
      '--palette-snap <share>',
      'with --judge: augmentation: this share of training images, in [0, 1), is first snapped to a random palette of 8–32 colours, so that a palette snap does not pass for a better drawing; 0 = none',
      fraction,
      0,
    )
    .option('--seed <s>', 'seed of the initial weights, batch order and augmentation', 'classifier')
    .addOption(
      new Option(
        '--labels <kind>',
        "what the classifier learns: the data set's classes, or instances (each training image its own class; for weakly labelled data such as twemoji)",
      )
        .choices(['classes', 'instances'])
        .default('classes'),
    )
    .option('--background <colour>', 'colour under transparent pixels: white, black or #rrggbb (as the generator was trained)', 'white')
    .option('--out <dir>', 'output directory (default: models/classifiers/<dataset>-<image size>)')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (flags: ClassifierFlags) => {
      if ((flags.data === undefined) === !flags.judge) throw new UsageError('--data', 'give either --data or --judge');
      if (!flags.judge && flags.pixelNoise > 0) throw new UsageError('--pixel-noise', 'is an augmentation of the style judge: add --judge');
      if (!flags.judge && flags.paletteSnap > 0)
        throw new UsageError('--palette-snap', 'is an augmentation of the style judge: add --judge');
      const backend = await activateBackend(flags, info);
      if (flags.judge) {
        const { dir, info: saved } = await trainAndSaveStyleJudge({
          imageSize: flags.imageSize,
          epochs: flags.epochs,
          batchSize: flags.batchSize,
          learningRate: flags.lr,
          maxShift: flags.maxShift,
          pixelNoise: flags.pixelNoise,
          paletteSnap: flags.paletteSnap,
          seed: flags.seed,
          backend,
          shape: { statistics: flags.judgeStatistics, filters: judgeFilters(flags.judgeFilters) },
          out: flags.out,
          log: info,
        });
        info(
          `saved ${saved.id} version ${saved.version} to ${dir}: held-out accuracy ${(saved.heldOutAccuracy * 100).toFixed(2)} % (${saved.heldOutCount} images)`,
        );
        return;
      }
      const { dir, info: saved } = await trainExtractor({
        data: flags.data!,
        imageSize: flags.imageSize,
        epochs: flags.epochs,
        batchSize: flags.batchSize,
        learningRate: flags.lr,
        maxShift: flags.maxShift,
        seed: flags.seed,
        background: flags.background,
        labels: flags.labels,
        backend,
        out: flags.out,
        log: info,
      });
      const nearest = saved.heldOutNearestNeighbourAccuracy;
      info(
        `saved ${saved.id} version ${saved.version} to ${dir}: held-out accuracy ${(saved.heldOutAccuracy * 100).toFixed(2)} % (${saved.heldOutCount} images` +
          `${nearest !== undefined ? `; 1-NN class accuracy ${(nearest * 100).toFixed(2)} %` : ''})`,
      );
    });
}
