/**
 * The retrain workflow's steps (.github/workflows/retrain.yml runs trainer/scripts/retrain.ts, which
 * calls these): every step is a `gan` command, run in this process, so the workflow and its test run
 * the same code.
 *
 * `planModels`: which models a run retrains — the one named, else every model with a checkpoint in the
 * bucket (`checkpoints/<name>/latest.json`).
 *
 * `retrainModel`: for one model — pull its checkpoint (unless starting over); find its data (the
 * run's `source.json`, which travels with the checkpoint, or the source given for a new model:
 * `dataset:<name>` is pulled from the bucket, `folder:<path>` and the built-in data sets are read
 * as they are); train N more steps (a new model with its recipe's flags, a resumed one with its own
 * settings); push the checkpoint (also when training failed or was stopped); export; evaluate as
 * the current version's evaluation was made; then the quality gate against the current version, or,
 * for a model's first version, the first-publish floor; publish and prune when it passes.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ModelFilesError } from '@gan/core/manifest';
import { type ObjectStorage, openRegistryStorage, readCurrent, readStoredManifest } from '@gan/registry';
import { main } from '../cli.ts';
import { type StorageFlags, storageChoice } from '../commands/registry-options.ts';
import { listCandidates } from '../data/folder-scan.ts';
import { checkFolder } from './folder-check.ts';
import { checkFirstPublish, FIRST_PUBLISH_MAX_FD_RATIO, firstVersionSamples } from './first-publish.ts';
import { RECIPES, type RecipeName, isRecipeName } from './recipes.ts';

/** Where a run's data came from, saved in the run directory so a scheduled run can find it again. */
export const SourceSchema = z.object({ data: z.string().min(1), recipe: z.string() }).strict();
export type Source = z.infer<typeof SourceSchema>;
export const SOURCE_FILE = 'source.json';

/** Where `dataset:<name>` is pulled to; the same relative path on every machine, so a resumed run finds it. */
export const pulledDatasetDir = (name: string) => path.join('runs', 'datasets', name);

/** A step's command failed: the message names it. */
export class RetrainError extends Error {
  override name = 'RetrainError';
}

export interface RetrainOptions extends StorageFlags {
  name: string;
  /** Data source of a new model: dataset:<name>, folder:<path>, mnist, emoji[:groups] or twemoji. */
  data?: string;
  /** Recipe of a new model (default: the shipped model's of that name, else emoji). */
  recipe?: RecipeName;
  /** Steps to add in this run. */
  steps: number;
  /** Start over instead of continuing the checkpoint in the bucket. */
  fresh?: boolean;
  publish?: boolean;
  /** Generated images for a first version's evaluation (later versions use the current one's count). */
  samples?: number;
  maxFdRatio?: number;
  /** Where `dataset:<name>` sources are pulled (default runs/datasets): the same on every machine, as a resumed run reads its data from there again. */
  datasetsDir?: string;
  /** Working directory for the run and the export (default runs/retrain/<name>). */
  workDir?: string;
  /** Markdown file the gate, publish and a closing summary are appended to (e.g. $GITHUB_STEP_SUMMARY). */
  summary?: string;
  baseUrl?: string;
  /** Extra flags for every training, export and evaluation step (e.g. --backend wasm --threads 1). */
  backendFlags?: string[];
  log?: (line: string) => void;
}

export interface RetrainResult {
  name: string;
  doneSteps: number;
  totalSteps: number;
  firstVersion: boolean;
  /** Gate or floor outcome. */
  passed: boolean;
  published: boolean;
  evaluationFile: string;
  exportDir: string;
}

/** Model names the run retrains: the one asked for, else every model with a checkpoint in the bucket. */
export async function planModels(storage: ObjectStorage, name?: string): Promise<string[]> {
  if (name) return [name];
  const names = new Set<string>();
  for (const o of await storage.list('checkpoints/')) {
    const m = /^checkpoints\/([^/]+)\/latest\.json$/.exec(o.key);
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}

/** `gan evaluate` flags that score a model as `recorded` (a manifest's metrics.evaluation) was scored. */
export function evaluationFlagsFor(recorded: { extractor?: unknown; samples?: unknown; seed?: unknown } | undefined): string[] {
  if (!recorded) return [];
  const flags: string[] = [];
  if (typeof recorded.extractor === 'string')
    flags.push('--extractor', recorded.extractor.startsWith('nsfwjs-mobilenet') ? 'mobilenet' : 'classifier');
  if (typeof recorded.samples === 'number') flags.push('--samples', String(recorded.samples));
  if (typeof recorded.seed === 'string') flags.push('--seed', recorded.seed);
  return flags;
}

async function gan(args: string[], log: (line: string) => void): Promise<number> {
  log(`$ gan ${args.join(' ')}`);
  return main(['node', 'gan', ...args]);
}

async function ganOk(args: string[], log: (line: string) => void): Promise<void> {
  const code = await gan(args, log);
  if (code !== 0)
    throw new RetrainError(`gan ${args[0]}${args[1] && !args[1].startsWith('-') ? ` ${args[1]}` : ''} failed (exit code ${code})`);
}

function storageArgs(flags: StorageFlags): string[] {
  return [
    ...(flags.local ? ['--local'] : []),
    ...(flags.persistTo ? ['--persist-to', flags.persistTo] : []),
    ...(flags.config ? ['--config', flags.config] : []),
    ...(flags.bucket ? ['--bucket', flags.bucket] : []),
  ];
}

async function highestCheckpointStep(runDir: string): Promise<number> {
  const index = path.join(runDir, 'checkpoints', 'index.json');
  if (!existsSync(index)) return 0;
  const parsed = JSON.parse(await readFile(index, 'utf8')) as { checkpoints?: { step: number }[] };
  return Math.max(0, ...(parsed.checkpoints ?? []).map((c) => c.step));
}

/** The current version's recorded evaluation, or undefined when the model has no current version. */
async function currentEvaluation(flags: StorageFlags, name: string): Promise<{ version: string; evaluation?: unknown } | undefined> {
  const storage = await openRegistryStorage(storageChoice(flags));
  try {
    const current = await readCurrent(storage, name);
    if (!current) return undefined;
    const manifest = await readStoredManifest(storage, name, current.version).catch((error: unknown) => {
      if (error instanceof ModelFilesError) return undefined;
      throw error;
    });
    return { version: current.version, evaluation: manifest?.metrics.evaluation };
  } finally {
    await storage.close();
  }
}

/** The `--data` a source trains with, pulling a data set from the bucket first. */
async function prepareData(source: string, flags: StorageFlags & { datasetsDir?: string }, log: (line: string) => void): Promise<string> {
  if (!source.startsWith('dataset:')) return source;
  const name = source.slice('dataset:'.length);
  const dir = flags.datasetsDir ? path.join(flags.datasetsDir, name) : pulledDatasetDir(name);
  await ganOk(['dataset', 'pull', name, '--out', dir, ...storageArgs(flags)], log);
  return `folder:${dir}`;
}

export async function retrainModel(options: RetrainOptions): Promise<RetrainResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { name } = options;
  const store = storageArgs(options);
  const backend = options.backendFlags ?? [];
  const work = options.workDir ?? path.join('runs', 'retrain', name);
  const runDir = path.join(work, 'run');
  const exportDir = path.join(work, 'export');
  const evaluationFile = path.join(work, 'evaluation.json');
  await mkdir(work, { recursive: true });

  if (!options.fresh) await ganOk(['checkpoint', 'pull', name, '--run', runDir, ...store], log);
  const doneSteps = await highestCheckpointStep(runDir);
  const resuming = doneSteps > 0;
  const sourceFile = path.join(runDir, SOURCE_FILE);
  let source: Source;
  if (resuming && existsSync(sourceFile)) source = SourceSchema.parse(JSON.parse(await readFile(sourceFile, 'utf8')));
  else if (resuming || options.data || isRecipeName(name)) {
    // A checkpoint from before source.json (the shipped models) or a new model: the data as given, else the model's own.
    const data = options.data ?? name;
    source = { data, recipe: options.recipe ?? (isRecipeName(name) ? name : 'emoji') };
  } else
    throw new RetrainError(
      `${name} has no checkpoint in the bucket: a new model needs its data (dataset:<name>, folder:<path>, mnist, emoji or twemoji)`,
    );
  if (!isRecipeName(source.recipe)) throw new RetrainError(`unknown recipe ${source.recipe}: use ${Object.keys(RECIPES).join(', ')}`);
  const recipe = RECIPES[source.recipe];

  const data = await prepareData(source.data, options, log);
  let labelled = source.data !== 'twemoji';
  let firstSamples = 1000;
  if (data.startsWith('folder:')) {
    firstSamples = firstVersionSamples((await listCandidates(data.slice('folder:'.length))).candidates.length);
    const folder = data.slice('folder:'.length);
    if (!resuming) {
      const check = await checkFolder(folder, recipe, { background: 'white' });
      log(check.report());
      if (check.problems.length > 0) throw new RetrainError(`${source.data} cannot be trained on as it is (see the report above)`);
      labelled = check.labelled;
    } else labelled = (await listCandidates(folder)).classFolders.length > 0;
  }
  const totalSteps = doneSteps + options.steps;
  if (!resuming) {
    await mkdir(runDir, { recursive: true });
    await writeFile(sourceFile, `${JSON.stringify(source, null, 2)}\n`);
  }
  const trainArgs = resuming
    ? ['train', '--resume', '--out', runDir]
    : ['train', '--data', data, ...recipe.trainFlags(labelled), '--out', runDir];
  const trained = await gan([...trainArgs, '--steps', String(totalSteps), '--progress', 'lines', ...backend], log);
  // Save progress even when training failed or was stopped: the next run loses at most one checkpoint interval.
  if ((await highestCheckpointStep(runDir)) > 0) await ganOk(['checkpoint', 'push', name, '--run', runDir, ...store], log);
  if (trained !== 0) throw new RetrainError(`gan train failed (exit code ${trained})`);

  await ganOk(['export', '--run', runDir, '--out', exportDir, '--name', name, '--float16', ...backend], log);
  const current = await currentEvaluation(options, name);
  const firstVersion = current === undefined;
  const evalFlags = firstVersion ? ['--samples', String(options.samples ?? firstSamples)] : evaluationFlagsFor(current.evaluation as never);
  await ganOk(['evaluate', '--model', exportDir, '--json', '--out', evaluationFile, ...evalFlags, ...backend], log);

  let passed: boolean;
  if (firstVersion) {
    const check = checkFirstPublish(JSON.parse(await readFile(evaluationFile, 'utf8')), options.maxFdRatio ?? FIRST_PUBLISH_MAX_FD_RATIO);
    log(check.line);
    if (options.summary) await appendFile(options.summary, `\n### First version of ${name}\n\n${check.line}.\n`);
    passed = check.pass;
  } else {
    const code = await gan(
      ['gate', name, '--candidate', evaluationFile, ...(options.summary ? ['--summary', options.summary] : []), ...store],
      log,
    );
    if (code !== 0 && code !== 3) throw new RetrainError(`gan gate failed (exit code ${code})`);
    passed = code === 0;
  }
  const publish = (options.publish ?? true) && passed;
  if (publish) {
    await ganOk(
      [
        'publish',
        exportDir,
        '--metrics',
        evaluationFile,
        ...(options.summary ? ['--summary', options.summary] : []),
        ...(options.baseUrl ? ['--base-url', options.baseUrl] : []),
        ...store,
      ],
      log,
    );
    await ganOk(['prune', name, '--keep', '5', '--min-age', '30d', ...store], log);
  }
  const line =
    `${name}: steps ${doneSteps} → ${totalSteps}; ${firstVersion ? 'first-publish floor' : `quality gate against ${name}@${current.version}`}: ` +
    `${passed ? 'pass' : 'fail'}; ${publish ? 'published' : 'not published'}`;
  log(line);
  if (options.summary) await appendFile(options.summary, `\n## Retrain ${name}\n\n${line}.\n`);
  return { name, doneSteps, totalSteps, firstVersion, passed, published: publish, evaluationFile, exportDir };
}
