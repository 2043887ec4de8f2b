/**
 * The retrain workflow's steps as one script (.github/workflows/retrain.yml calls it; the integration
 * test runs it against a local S3 server), so what runs on GitHub is what is tested:
 *
 *   node --import tsx trainer/scripts/retrain.ts plan [--name <model>]     # JSON list of the models to retrain
 *   node --import tsx trainer/scripts/retrain.ts run <model> --steps 2000 [--data dataset:<n>|folder:<path>|mnist|emoji|twemoji]
 *        [--recipe emoji|mnist|twemoji] [--fresh] [--no-publish] [--summary <file>] [--base-url <url>] [--local …]
 *
 * The bucket is chosen as for `gan publish` (R2_* / CLOUDFLARE_ACCOUNT_ID variables, or --local).
 * Exit codes: 0 done (published, or held back by the gate or the first-publish floor: the summary
 * says which), 1 a step failed, 2 bad usage.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ModelNameSchema } from '@gan/core/manifest';
import { openRegistryStorage } from '@gan/registry';
import { type StorageFlags, storageChoice, withStorageOptions } from '../src/commands/registry-options.ts';
import { RECIPE_NAMES, type RecipeName } from '../src/new-model/recipes.ts';
import { planModels, retrainModel } from '../src/new-model/retrain.ts';

const name = (value: string) => {
  const parsed = ModelNameSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`must be ${parsed.error.issues[0].message}`);
  return value;
};
const positive = (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be an integer ≥ 1');
  return Number(value);
};
const ratio = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
};

interface RunFlags extends StorageFlags {
  steps: number;
  data?: string;
  recipe?: RecipeName;
  fresh: boolean;
  publish: boolean;
  samples?: number;
  maxFdRatio?: number;
  workDir?: string;
  datasetsDir?: string;
  summary?: string;
  baseUrl?: string;
  backend?: string;
  threads?: string;
}

export function retrainProgram(): Command {
  const program = new Command('retrain').exitOverride();
  withStorageOptions(
    program
      .command('plan')
      .description('Print the models to retrain as a JSON list: the one named, else every model with a checkpoint in the bucket'),
  )
    .option('--name <model>', 'just this model', name)
    .action(async (flags: StorageFlags & { name?: string }) => {
      const storage = await openRegistryStorage(storageChoice(flags));
      try {
        process.stdout.write(`${JSON.stringify(await planModels(storage, flags.name))}\n`);
      } finally {
        await storage.close();
      }
    });
  withStorageOptions(
    program
      .command('run')
      .description('Continue (or start) one model: checkpoint, data, train, export, evaluate, gate or first-publish floor, publish')
      .argument('<model>', 'model name', name),
  )
    .requiredOption('--steps <n>', 'training steps to add in this run', positive)
    .option('--data <source>', 'data of a new model: dataset:<name>, folder:<path>, mnist, emoji[:groups] or twemoji')
    .addOption(
      new Option('--recipe <name>', "a new model's recipe (default: the shipped model's of that name, else emoji)").choices(RECIPE_NAMES),
    )
    .option('--fresh', 'start over instead of continuing the checkpoint in the bucket', false)
    .option('--no-publish', 'evaluate and gate, but do not publish')
    .option(
      '--samples <n>',
      "generated images for a first version's evaluation (default: a folder's training images, 100 to 1000; else 1000)",
      positive,
    )
    .option('--max-fd-ratio <x>', 'first-publish floor: FD at most this multiple of the real-vs-real floor', ratio)
    .option('--datasets-dir <dir>', 'where dataset:<name> sources are pulled (default runs/datasets; keep it the same between runs)')
    .option('--work-dir <dir>', 'where the run, export and evaluation go (default runs/retrain/<model>)')
    .option('--summary <file>', 'append the outcome to this Markdown file (e.g. $GITHUB_STEP_SUMMARY)')
    .option('--base-url <url>', "the worker's public URL, for the image links in --summary")
    .option('--backend <name>', 'gan --backend for training, export and evaluation')
    .option('--threads <n>', 'gan --threads for the wasm backend')
    .action(async (model: string, flags: RunFlags) => {
      await retrainModel({
        ...flags,
        name: model,
        backendFlags: [...(flags.backend ? ['--backend', flags.backend] : []), ...(flags.threads ? ['--threads', flags.threads] : [])],
      });
    });
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Runs the script on `args` (without node and the script) and returns the exit code. */
export async function runRetrain(args: string[]): Promise<number> {
  try {
    await retrainProgram().parseAsync(args, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    process.stderr.write(`retrain: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runRetrain(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
