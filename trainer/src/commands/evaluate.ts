/**
 * `gan evaluate`: score an exported generator in the features of the data set's own classifier
 * (evaluate/evaluate.ts) or of an ImageNet network (evaluate/colour.ts, the default for colour models
 * of 32 px and more).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { MAX_SEED_LENGTH } from '@gan/core';
import { defaultCacheDir } from '../data/index.ts';
import { DEFAULT_EVAL_SEED, DEFAULT_SAMPLES, formatEvaluation } from '../evaluate/evaluate.ts';
import { evaluateExport, evaluateImageFolder } from '../evaluate/run.ts';
import {
  EXTRACTORS,
  type ExtractorChoice,
  defaultExtractor,
  evaluateExportWithImageNet,
  evaluateImageFolderWithImageNet,
  formatImageNetEvaluation,
} from '../evaluate/colour.ts';
import { loadMobileNetExtractor } from '../evaluate/imagenet.ts';
import { formatJudgeEvaluation } from '../evaluate/judge.ts';
import { evaluateExportWithJudge } from '../evaluate/judge-run.ts';
import { defaultClassifiersDir } from '../evaluate/store.ts';
import { attachEvaluation } from '../export/model-card.ts';
import { UsageError, activateBackend, backendOption, threadsOption, info, integer, oneOf, warn, type BackendFlags } from './common.ts';

interface EvaluateFlags extends BackendFlags {
  model?: string;
  images?: string;
  json: boolean;
  out?: string;
  record: boolean;
  samples: number;
  seed: string;
  classifier?: string;
  extractor?: ExtractorChoice;
  data?: string;
  imageSize?: 8 | 16 | 32 | 64;
  class?: string;
  size?: number;
  truncation?: string;
  imagenet: boolean;
}

/** The extractor asked for; else the classifier when one is named; else what suits the model's images. */
async function chooseExtractor(flags: EvaluateFlags): Promise<ExtractorChoice> {
  if (flags.extractor) return flags.extractor;
  if (flags.classifier !== undefined) return 'classifier';
  if (flags.model === undefined) return flags.data !== undefined ? 'mobilenet' : 'classifier'; // --images: as the flags describe
  const manifest = JSON.parse(await readFile(path.join(flags.model, 'manifest.json'), 'utf8').catch(() => '{}')) as {
    channels?: number;
    imageSize?: number;
    dataset?: { name?: string };
  };
  return defaultExtractor(manifest.channels ?? 1, manifest.imageSize ?? 0, manifest.dataset?.name);
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description(
      'Score an exported model: Fréchet distance (and with mobilenet KID) of its images to held-out real images, each with its real-vs-real floor, ' +
        "in the features of the data set's own classifier or of ImageNet MobileNetV2; for conditional models the share of images classified as the " +
        'requested class. Not comparable to published FIDs.',
    )
    .option('--model <dir>', 'exported model directory (written by gan export)')
    .option(
      '--images <dir>',
      'instead of a model: a folder of PNG/JPEG images made elsewhere (sub-folders named like classes count as generated for that class)',
    )
    .option('--json', 'print the evaluation as JSON (the input of gan gate)', false)
    .option('--out <file>', 'also write the JSON evaluation to this file')
    .option('--record', 'with --model: record the evaluation in the export (manifest metrics.evaluation and the model card)', false)
    .option(
      '--samples <n>',
      'number of generated images (the floor uses as many real ones; with --images: all of them)',
      integer(2, 100_000),
      DEFAULT_SAMPLES,
    )
    .option('--seed <s>', 'seed of the samples: image i uses the latent of "<seed>#i"', DEFAULT_EVAL_SEED)
    .option(
      '--classifier <dir|id>',
      "the data set's classifier: a directory, or an id under models/classifiers such as mnist-32 (default: <dataset>-<image size>); " +
        'the feature extractor with --extractor classifier, the judge of class agreement with mobilenet',
    )
    .addOption(
      new Option(
        '--extractor <name>',
        "features: classifier (the data set's own; default for grey or small models, e.g. mnist), mobilenet " +
          '(ImageNet MobileNetV2 from the nsfwjs package, installed into the cache on first use; default for other colour models of 32 px and more; adds KID) ' +
          'or judge (the emoji style judge, models/classifiers/emoji-style-32, default for emoji models: FD and KID against every render of the ' +
          "model's groups, improved precision and recall, the copy check, style agreement, and flat fill beside them: the share of drawn pixels the colour of their neighbours, samples against real renders)",
      ).choices([...EXTRACTORS]),
    )
    .option('--data <spec>', 'with --images and mobilenet: the real data set to compare with (mnist, twemoji, emoji, folder:<path>)')
    .option(
      '--class <name>',
      'with --model and mobilenet: score only this class of a conditional model, against the real images of that class',
    )
    .option('--image-size <n>', 'with --images and mobilenet: the size to score at (the images are resized to it)', oneOf(8, 16, 32, 64))
    .option(
      '--size <n>',
      "with --model and judge: score the images as the worker serves them at this size (8-bit, bilinear), averaged back down to the judge's",
      integer(8, 512),
    )
    .option('--no-imagenet', "with judge: skip the ImageNet MobileNetV2 FD measured beside the judge's")
    .option('--truncation <t>', 'with --model and judge: score the images as served with this truncation, 0 < t ≤ 1 (default: 1)')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (flags: EvaluateFlags) => {
      if (flags.seed.length === 0 || flags.seed.length > MAX_SEED_LENGTH)
        throw new UsageError('--seed', `must be 1 to ${MAX_SEED_LENGTH} characters`);
      if ((flags.model === undefined) === (flags.images === undefined)) throw new UsageError('--model', 'give either --model or --images');
      const classifier =
        flags.classifier === undefined || existsSync(flags.classifier)
          ? flags.classifier
          : path.join(defaultClassifiersDir(), flags.classifier);
      const extractor = await chooseExtractor(flags);
      if (flags.images !== undefined && extractor === 'classifier' && classifier === undefined) {
        throw new UsageError(
          '--classifier',
          'is required with --images (e.g. --classifier mnist-32), or give --extractor mobilenet --data <spec> --image-size <n>',
        );
      }
      if (flags.class !== undefined && (extractor !== 'mobilenet' || flags.model === undefined)) {
        throw new UsageError('--class', 'works with --model and --extractor mobilenet');
      }
      if (flags.images !== undefined && extractor === 'mobilenet' && (flags.data === undefined || flags.imageSize === undefined)) {
        throw new UsageError(
          '--data',
          'and --image-size are required with --images and --extractor mobilenet (the real data to compare with)',
        );
      }
      const truncation = flags.truncation === undefined ? undefined : Number(flags.truncation);
      if (truncation !== undefined && !(truncation > 0 && truncation <= 1))
        throw new UsageError('--truncation', 'must be a number in (0, 1]');
      if (truncation !== undefined && extractor !== 'judge')
        throw new UsageError('--truncation', 'works with --model and --extractor judge');
      const log = flags.json ? warn : info;
      const backend = await activateBackend(flags, log);
      let evaluation: object;
      let text: string;
      if (extractor === 'judge') {
        if (!flags.model) throw new UsageError('--extractor', 'judge scores a model (--model)');
        if (flags.class !== undefined) throw new UsageError('--class', 'is for mobilenet; the judge measures every style');
        // MobileNetV2 beside the judge by default: its palette statistics can move its FD alone.
        const imagenet = flags.imagenet ? await loadMobileNetExtractor({ cacheDir: defaultCacheDir(), log }) : undefined;
        try {
          const e = await evaluateExportWithJudge(flags.model, {
            samples: flags.samples,
            seed: flags.seed,
            backend,
            classifier,
            size: flags.size,
            truncation,
            log,
            imagenet,
          });
          [evaluation, text] = [e, formatJudgeEvaluation(e)];
        } finally {
          imagenet?.dispose();
        }
      } else if (extractor === 'mobilenet') {
        const e = flags.model
          ? await evaluateExportWithImageNet(flags.model, {
              samples: flags.samples,
              seed: flags.seed,
              backend,
              classifier,
              className: flags.class,
              log,
            })
          : await evaluateImageFolderWithImageNet(flags.images!, {
              seed: flags.seed,
              backend,
              classifier,
              data: flags.data!,
              imageSize: flags.imageSize!,
              log,
            });
        [evaluation, text] = [e, formatImageNetEvaluation(e)];
      } else {
        const e = flags.model
          ? await evaluateExport(flags.model, { samples: flags.samples, seed: flags.seed, backend, classifier, log })
          : await evaluateImageFolder(flags.images!, { seed: flags.seed, backend, classifier: classifier!, log });
        [evaluation, text] = [e, formatEvaluation(e)];
      }
      const json = `${JSON.stringify(evaluation, null, 2)}\n`;
      if (flags.out) await writeFile(flags.out, json);
      if (flags.record && flags.model) await attachEvaluation(flags.model, evaluation);
      process.stdout.write(flags.json ? json : `${text}\n`);
    });
}
