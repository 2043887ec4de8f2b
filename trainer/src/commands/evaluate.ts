/** `gan evaluate`: score an exported generator with the project's feature extractor (see evaluate/evaluate.ts). */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { MAX_SEED_LENGTH } from '@gan/core';
import { DEFAULT_EVAL_SEED, DEFAULT_SAMPLES, formatEvaluation } from '../evaluate/evaluate.ts';
import { evaluateExport } from '../evaluate/run.ts';
import type { BackendChoice } from '../backend.ts';
import { UsageError, activateBackend, backendOption, info, integer, warn } from './common.ts';

interface EvaluateFlags {
  model: string;
  json: boolean;
  out?: string;
  samples: number;
  seed: string;
  classifier?: string;
  backend: BackendChoice;
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description(
      "Score an exported model: Fréchet distance of its images to held-out real images in the features of the data set's own classifier " +
        '(with the real-vs-real floor), and for conditional models the share of images classified as the requested class. Not Inception FID.',
    )
    .requiredOption('--model <dir>', 'exported model directory (written by gan export)')
    .option('--json', 'print the evaluation as JSON (the input of gan gate)', false)
    .option('--out <file>', 'also write the JSON evaluation to this file')
    .option('--samples <n>', 'number of generated images (the floor uses as many real ones)', integer(2, 100_000), DEFAULT_SAMPLES)
    .option('--seed <s>', 'seed of the samples: image i uses the latent of "<seed>#i"', DEFAULT_EVAL_SEED)
    .option('--classifier <dir>', 'feature extractor directory (default: models/classifiers/<dataset>-<image size>)')
    .addOption(backendOption())
    .action(async (flags: EvaluateFlags) => {
      if (flags.seed.length === 0 || flags.seed.length > MAX_SEED_LENGTH) throw new UsageError('--seed', `must be 1 to ${MAX_SEED_LENGTH} characters`);
      const log = flags.json ? warn : info;
      const backend = await activateBackend(flags.backend, log);
      const evaluation = await evaluateExport(flags.model, { samples: flags.samples, seed: flags.seed, backend, classifier: flags.classifier, log });
      const json = `${JSON.stringify(evaluation, null, 2)}\n`;
      if (flags.out) await writeFile(flags.out, json);
      process.stdout.write(flags.json ? json : `${formatEvaluation(evaluation)}\n`);
    });
}
