/** `gan evaluate`: score an exported generator with the project's feature extractor (see evaluate/evaluate.ts). */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { MAX_SEED_LENGTH } from '@gan/core';
import { DEFAULT_EVAL_SEED, DEFAULT_SAMPLES, formatEvaluation } from '../evaluate/evaluate.ts';
import { evaluateExport, evaluateImageFolder } from '../evaluate/run.ts';
import { defaultClassifiersDir } from '../evaluate/store.ts';
import { attachEvaluation } from '../export/model-card.ts';
import { UsageError, activateBackend, backendOption, threadsOption, info, integer, warn, type BackendFlags } from './common.ts';

interface EvaluateFlags extends BackendFlags {
  model?: string;
  images?: string;
  json: boolean;
  out?: string;
  record: boolean;
  samples: number;
  seed: string;
  classifier?: string;
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description(
      "Score an exported model: Fréchet distance of its images to held-out real images in the features of the data set's own classifier " +
        '(with the real-vs-real floor), and for conditional models the share of images classified as the requested class. Not Inception FID.',
    )
    .option('--model <dir>', 'exported model directory (written by gan export)')
    .option('--images <dir>', 'instead of a model: a folder of PNG/JPEG images made elsewhere (sub-folders named like classes count as generated for that class)')
    .option('--json', 'print the evaluation as JSON (the input of gan gate)', false)
    .option('--out <file>', 'also write the JSON evaluation to this file')
    .option('--record', "with --model: record the evaluation in the export (manifest metrics.evaluation and the model card)", false)
    .option('--samples <n>', 'number of generated images (the floor uses as many real ones; with --images: all of them)', integer(2, 100_000), DEFAULT_SAMPLES)
    .option('--seed <s>', 'seed of the samples: image i uses the latent of "<seed>#i"', DEFAULT_EVAL_SEED)
    .option('--classifier <dir|id>', 'feature extractor: a directory, or an id under models/classifiers such as mnist-32 (default for --model: <dataset>-<image size>)')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (flags: EvaluateFlags) => {
      if (flags.seed.length === 0 || flags.seed.length > MAX_SEED_LENGTH) throw new UsageError('--seed', `must be 1 to ${MAX_SEED_LENGTH} characters`);
      if ((flags.model === undefined) === (flags.images === undefined)) throw new UsageError('--model', 'give either --model or --images');
      if (flags.images !== undefined && flags.classifier === undefined) throw new UsageError('--classifier', 'is required with --images (e.g. --classifier mnist-32)');
      const classifier = flags.classifier === undefined || existsSync(flags.classifier) ? flags.classifier : path.join(defaultClassifiersDir(), flags.classifier);
      const log = flags.json ? warn : info;
      const backend = await activateBackend(flags, log);
      const evaluation = flags.model
        ? await evaluateExport(flags.model, { samples: flags.samples, seed: flags.seed, backend, classifier, log })
        : await evaluateImageFolder(flags.images!, { seed: flags.seed, backend, classifier: classifier!, log });
      const json = `${JSON.stringify(evaluation, null, 2)}\n`;
      if (flags.out) await writeFile(flags.out, json);
      if (flags.record && flags.model) await attachEvaluation(flags.model, evaluation);
      process.stdout.write(flags.json ? json : `${formatEvaluation(evaluation)}\n`);
    });
}
