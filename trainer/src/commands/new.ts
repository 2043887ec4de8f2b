/**
 * `gan new <name> --data folder:<path>`: a model of your own from a folder of images, start to finish.
 * Reads the folder (every file used or skipped with its reason), trains with a recipe (the shipped
 * emoji recipe by default), exports to models/<name> (where `npm run dev` serves it), evaluates it
 * against its own held-out images and checks the first-publish floor. `--dry-run` stops after the
 * report and a timing of a few steps. Run again, it continues the run from its last checkpoint.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ModelNameSchema } from '@gan/core/manifest';
import { type DataSpec, DataSpecError, parseDataSpec } from '../data/index.ts';
import { FolderProblemsError } from '../data/folder-scan.ts';
import { parseBackground } from '../data/pixels.ts';
import { checkFolder } from '../new-model/folder-check.ts';
import { checkFirstPublish, firstVersionSamples } from '../new-model/first-publish.ts';
import { runGanStep } from '../new-model/gan-steps.ts';
import { RECIPE_NAMES, RECIPES, type RecipeName } from '../new-model/recipes.ts';
import { measureStepTime } from '../new-model/step-timing.ts';
import { GATE_FAILED_EXIT_CODE } from './gate.ts';
import { type BackendFlags, UsageError, activateBackend, backendOption, info, integer, threadsOption, warn } from './common.ts';

/**
 * Steps of a new model unless --steps says otherwise: the example badges (180 training images) took
 * 22 minutes of CPU on one thread for these and passed the first-publish floor at 4.9×.
 */
export const NEW_MODEL_STEPS = 2000;

interface NewFlags extends BackendFlags {
  data: string;
  recipe: RecipeName;
  steps: number;
  out?: string;
  exportTo?: string;
  samples?: number;
  seed: string;
  background: string;
  dryRun: boolean;
  cacheDir?: string;
}

const modelName = (value: string): string => {
  const parsed = ModelNameSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`must be ${parsed.error.issues[0].message}`);
  return value;
};

/** The folder's report and what stops training; undefined for the built-in data sets (nothing to report). */
function folderCheck(spec: DataSpec, flags: NewFlags) {
  if (spec.kind !== 'folder') return undefined;
  return checkFolder(spec.path, RECIPES[flags.recipe], { background: flags.background, steps: flags.steps });
}

export function register(program: Command): Command {
  return program
    .command('new')
    .description(
      'A model of your own from a folder of PNG/JPEG images (sub-folders are classes): check the folder, train, export to models/<name>, ' +
        'evaluate against its held-out images and check the first-publish floor. Run again to continue training.',
    )
    .argument('<name>', 'model name: a lower-case slug (the URL is /v1/models/<name>/image.png)', modelName)
    .requiredOption('--data <spec>', 'folder:<path> (or a built-in data set: mnist, twemoji, emoji)')
    .addOption(new Option('--recipe <name>', 'training recipe').choices(RECIPE_NAMES).default('emoji'))
    .option('--steps <n>', "the run's total steps (a second `gan new` continues up to a larger number)", integer(1), NEW_MODEL_STEPS)
    .option('--out <dir>', 'run directory (default runs/<name>)')
    .option('--export-to <dir>', 'where the model is exported (default models/<name>, which `npm run dev` serves)')
    .option(
      '--samples <n>',
      "generated images the evaluation scores (default: as many as the folder's training images, 100 to 1000; 1000 for the built-in data sets)",
      integer(2, 100_000),
    )
    .option('--seed <s>', 'seed of the run', '1')
    .option('--background <colour>', 'colour transparent pixels are composited on: white, black or #rrggbb', 'white')
    .option('--dry-run', 'report on the folder and time a few training steps; train nothing', false)
    .option('--cache-dir <dir>', 'where prepared data sets are cached (default $GAN_CACHE_DIR or ./.cache)')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (name: string, flags: NewFlags) => {
      let spec: DataSpec;
      try {
        spec = parseDataSpec(flags.data);
        parseBackground(flags.background);
      } catch (err) {
        if (err instanceof DataSpecError) throw new UsageError('--data', err.message);
        if (err instanceof RangeError) throw new UsageError('--background', err.message);
        throw err;
      }
      const runDir = flags.out ?? path.join('runs', name);
      const exportDir = flags.exportTo ?? path.join('models', name);
      const backend = await activateBackend(flags, info);
      const common = ['--backend', backend, ...(flags.threads ? ['--threads', String(flags.threads)] : [])];
      const cache = flags.cacheDir ? ['--cache-dir', flags.cacheDir] : [];

      const folder = await folderCheck(spec, flags);
      const labelled = folder ? folder.labelled : spec.kind !== 'twemoji';
      const trainFlags = [
        '--data',
        flags.data,
        ...RECIPES[flags.recipe].trainFlags(labelled),
        '--background',
        flags.background,
        '--seed',
        flags.seed,
        ...cache,
        ...common,
      ];
      if (folder && folder.problems.length > 0) {
        process.stdout.write(`${folder.report()}\n`);
        throw new FolderProblemsError(spec.kind === 'folder' ? spec.path : flags.data, folder.problems);
      }
      if (flags.dryRun) {
        const timing = await measureStepTime((args) => runGanStep(['train', ...args]), trainFlags, { backend });
        process.stdout.write(
          folder
            ? `${folder.report(timing)}\n`
            : `time per 1000 steps here: ${((timing.wallSeconds * 1000) / 60).toFixed(1)} min (${((timing.cpuSeconds * 1000) / 60).toFixed(1)} min of CPU)\n`,
        );
        process.stdout.write('dry run: nothing trained or written\n');
        return;
      }
      if (folder) process.stdout.write(`${folder.report()}\n`);

      // Train (or continue: a run directory with a checkpoint keeps its own settings).
      const resume = existsSync(path.join(runDir, 'checkpoints'));
      if (resume) info(`continuing ${runDir} up to step ${flags.steps}`);
      const trained = await runGanStep([
        'train',
        ...(resume ? ['--resume', ...cache, ...common] : trainFlags),
        '--steps',
        String(flags.steps),
        '--out',
        runDir,
      ]);
      if (trained !== 0) {
        process.exitCode = trained;
        return;
      }
      if ((await runGanStep(['export', '--run', runDir, '--out', exportDir, '--name', name, '--float16', ...common])) !== 0)
        throw new Error(`gan export of ${runDir} failed`);
      const evaluationFile = path.join(runDir, 'evaluation.json');
      const evaluated = await runGanStep([
        'evaluate',
        '--model',
        exportDir,
        '--samples',
        String(flags.samples ?? (folder ? firstVersionSamples(folder.scan.images.length) : 1000)),
        '--out',
        evaluationFile,
        '--record',
        ...common,
      ]);
      if (evaluated !== 0) throw new Error(`gan evaluate of ${exportDir} failed`);
      const check = checkFirstPublish(JSON.parse(await readFile(evaluationFile, 'utf8')));
      info(check.line);
      if (!check.pass) {
        warn(
          `${name} is exported to ${exportDir} but below the first-publish floor: train longer (gan new ${name} --data ${flags.data} --steps ${flags.steps * 2}) before publishing`,
        );
        process.exitCode = GATE_FAILED_EXIT_CODE;
        return;
      }
      info(
        [
          `${name} is ready in ${exportDir}. Serve it locally and open:`,
          '  npm run dev',
          `  http://localhost:8787/v1/models/${name}/grid.png?seed=hello${labelled ? '&class=each' : ''}`,
          `Publish it to the bucket: npx gan publish ${exportDir} --metrics ${evaluationFile}`,
        ].join('\n'),
      );
    });
}
