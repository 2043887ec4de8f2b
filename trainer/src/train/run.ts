/**
 * A training run: data set → alternating D/G steps → metrics, previews and checkpoints in a run
 * directory (run-directory.ts, checkpoint.ts). Deterministic for a given seed and backend: initialisers
 * are seeded from it, noise comes from an sfc32 stream and each epoch's data order from its own sfc32
 * permutation (batches.ts). Resuming restores the training state (state.ts) and the run's own settings
 * (settings.ts), so a resumed run matches an uninterrupted one. A new run may start from another
 * run's weights instead of its initialisers (init-from.ts).
 */
import path from 'node:path';
import type { GeneratorConditioning, ModelConfig } from '@gan/core';
import { type Dataset, defaultCacheDir, loadDataset } from '../data/index.ts';
import { EpochBatches } from './batches.ts';
import { StatisticsMatching } from './statistics-matching.ts';
import { type Checkpoint, loadLatestCheckpoint } from './checkpoint.ts';
import { type FrozenFeatureNetwork, loadFrozenMobileNet } from './frozen-mobilenet.ts';
import { type InitSource, InitFromError, checkSameArchitecture, describeTransfer, initialiseFrom } from './init-from.ts';
import { trainSteps } from './loop.ts';
import type { MetricsRow } from './metrics.ts';
import type { ProgressMode } from './progress.ts';
import { openRunDirectory, recordedTargetSteps } from './run-directory.ts';
import { type RunSettings, type TrainingRecipeInput, newRunSettings, readRunSettings } from './settings.ts';
import { TrainingState } from './state.ts';
import type { AdamSettings } from './step.ts';

export interface TrainOptions {
  /** Data set spec; may be left out when resuming (the checkpoint knows it). */
  data?: string;
  imageSize: ModelConfig['imageSize'];
  channels?: 1 | 3;
  labels?: boolean;
  background?: string;
  batchSize: number;
  /** Total steps of the run (resuming continues up to it). */
  steps?: number;
  /** Alternative to steps: whole passes over the training split. */
  epochs?: number;
  latentSize: number;
  generatorWidth: number;
  discriminatorWidth: number;
  /** How G is told the class (config.ts GENERATOR_CONDITIONINGS); `input` when absent. */
  generatorConditioning?: GeneratorConditioning;
  generatorAdam: AdamSettings;
  discriminatorAdam: AdamSettings;
  recipe?: TrainingRecipeInput;
  seed: string;
  /** Name of the active backend (recorded; the caller selects it). */
  backend: string;
  outDir: string;
  resume?: boolean;
  /**
   * A new run whose initial weights are this source's (readInitSource). Its data set and architecture
   * must be the source's; everything else is the new run's own.
   */
  initFrom?: InitSource;
  /** One batch through both steps, then stop; writes nothing. */
  dryRun?: boolean;
  checkpointEvery?: number;
  previewEvery?: number;
  logEvery?: number;
  overpowerSteps?: number;
  progress?: ProgressMode;
  cacheDir?: string;
  twemojiDir?: string;
  /** Aborting stops after the current step and writes a checkpoint. */
  signal?: AbortSignal;
  info?: (line: string) => void;
  warn?: (line: string) => void;
}

export interface TrainResult {
  runDir: string;
  /** Last completed step. */
  step: number;
  totalSteps: number;
  /** True when stopped early by the signal. */
  interrupted: boolean;
  resumedFrom?: number;
  last?: MetricsRow;
  settings: RunSettings;
}

export class RunExistsError extends Error {
  override name = 'RunExistsError';
}
export class MissingDataError extends Error {
  override name = 'MissingDataError';
}

/**
 * The checkpoint a run continues from, if any. A directory that holds a run is continued only when
 * asked to (--resume); asked to with nothing to continue, a new run starts there.
 */
async function checkpointToResume(
  runDir: string,
  options: TrainOptions,
  info: (l: string) => void,
  warn: (l: string) => void,
): Promise<Checkpoint | undefined> {
  if (options.dryRun) return undefined;
  const { checkpoint, rejected } = await loadLatestCheckpoint(runDir);
  for (const r of rejected) warn(`warning: skipping checkpoint ${path.basename(r.dir)}: ${r.reason}`);
  if (checkpoint && !options.resume)
    throw new RunExistsError(
      `${runDir} already holds a run (step ${checkpoint.state.step}): pass --resume to continue it, or choose another --out`,
    );
  if (!options.resume) return undefined;
  if (!checkpoint) info(`no checkpoint in ${runDir}: starting a new run`);
  return checkpoint;
}

/** The training split as a run describes it: the checkpoint's settings when resuming, else the options. */
function loadTrainingSplit(
  run: Pick<RunSettings, 'data' | 'imageSize'> & Partial<Pick<RunSettings, 'channels' | 'labels' | 'background'>>,
  options: TrainOptions,
  info: (l: string) => void,
): Promise<Dataset> {
  return loadDataset(run.data, {
    imageSize: run.imageSize,
    channels: run.channels,
    labels: run.labels,
    background: run.background,
    split: 'train',
    cacheDir: options.cacheDir,
    twemojiDir: options.twemojiDir,
    log: info,
  });
}

/** A resumed vision-aided run whose frozen feature network is not the one installed. */
export class VisionNetworkMismatchError extends Error {
  override name = 'VisionNetworkMismatchError';
}

/**
 * The frozen feature network of a vision-aided recipe. A new run records which network (id and
 * weights) its heads learn on; a resumed run must find the same one, or its heads would read features
 * they never learnt.
 */
async function loadVisionNetwork(settings: RunSettings, options: TrainOptions, info: (l: string) => void): Promise<FrozenFeatureNetwork> {
  const network = await loadFrozenMobileNet({ cacheDir: options.cacheDir ?? defaultCacheDir(), log: info });
  const name = `${network.id}@${network.version}`;
  const recorded = settings.recipe.visionNetwork;
  if (recorded !== undefined && recorded !== name) {
    network.dispose();
    throw new VisionNetworkMismatchError(`the run's vision-aided heads learnt on ${recorded}, and ${name} is what is installed`);
  }
  settings.recipe.visionNetwork = name;
  info(
    `vision-aided discriminator: heads on ${network.source} (${name}), G's weight ${settings.recipe.visionAided} after ${settings.recipe.visionWarmup} steps`,
  );
  return network;
}

export async function runTraining(options: TrainOptions): Promise<TrainResult> {
  const info = options.info ?? ((l: string) => console.log(l));
  const warn = options.warn ?? ((l: string) => console.error(l));
  const runDir = path.resolve(options.outDir);
  const source = options.initFrom;
  if (source && options.resume)
    throw new InitFromError(`a resumed run already has its weights: start a new run from ${source.provenance.run}, or resume without it`);

  // Resume: the checkpoint's settings win over the command line, so the run stays the same run.
  const checkpoint = await checkpointToResume(runDir, options, info, warn);
  const saved = checkpoint && readRunSettings(checkpoint.state.settings, checkpoint.dir);
  // A run started from another's learns the same data (its spec, channels, labels, background) unless told otherwise.
  const asked: TrainOptions = source
    ? {
        ...options,
        data: options.data ?? source.settings.data,
        channels: options.channels ?? source.settings.channels,
        labels: options.labels ?? source.settings.labels,
        background: options.background ?? source.settings.background,
      }
    : options;
  const data = saved?.data ?? asked.data;
  if (data === undefined) throw new MissingDataError(`no checkpoint to resume in ${runDir}: name the data set to start a new run`);
  const dataset = await loadTrainingSplit(saved ?? { ...asked, data }, options, info);
  const settings = saved
    ? { ...saved, backend: options.backend }
    : newRunSettings({ ...asked, data, initFrom: source?.provenance }, dataset);
  if (source) checkSameArchitecture(source, settings);
  if (saved && saved.backend !== options.backend)
    warn(
      `warning: the run started on ${saved.backend} and continues on ${options.backend}: results will differ slightly from an uninterrupted run`,
    );

  const { config, batchSize } = settings;
  const batches = new EpochBatches(dataset, batchSize, settings.seed);
  // A resume that names no target continues to the one the run was last given ("stopped at step N of T").
  const recordedTarget =
    checkpoint && options.steps === undefined && options.epochs === undefined ? await recordedTargetSteps(runDir) : undefined;
  const totalSteps = options.dryRun ? 1 : (options.steps ?? recordedTarget ?? (options.epochs ?? 1) * batches.stepsPerEpoch);
  info(
    `${options.dryRun ? 'dry run: ' : ''}data ${dataset.name}: ${dataset.count} training images ${config.imageSize}x${config.imageSize}x${config.channels}` +
      `${dataset.fromCache ? ' (cached)' : ''}, ${config.numClasses ? `${config.numClasses} classes` : 'unlabelled'}; ` +
      `batch ${batchSize}, ${batches.stepsPerEpoch} steps per epoch; backend ${options.backend}`,
  );

  const network = settings.recipe.visionAided > 0 ? await loadVisionNetwork(settings, options, info) : undefined;
  const state = TrainingState.initial(settings, network);
  let statistics: StatisticsMatching | undefined;
  try {
    if (checkpoint) {
      await state.restore(checkpoint);
      info(`resuming ${runDir} from step ${state.step} (${path.basename(checkpoint.dir)})`);
    } else if (source) {
      for (const line of describeTransfer(source, initialiseFrom(state, source))) info(line);
    }
    const result: TrainResult = {
      runDir,
      step: state.step,
      totalSteps,
      interrupted: false,
      resumedFrom: checkpoint ? state.step : undefined,
      settings,
    };
    const metrics = options.dryRun ? undefined : await openRunDirectory(runDir, settings, batches.stepsPerEpoch, state.step, totalSteps);
    if (state.step >= totalSteps) {
      info(`the run is already at step ${state.step} of ${totalSteps}`);
      result.last = metrics?.rows.at(-1);
      return result;
    }
    if (settings.recipe.statisticsMatching > 0) statistics = matchedStatistics(settings, dataset, info);
    result.last = await trainSteps(state, {
      runDir,
      settings,
      dataName: dataset.name,
      batches,
      totalSteps,
      metrics,
      checkpointEvery: options.checkpointEvery ?? 100,
      previewEvery: options.previewEvery ?? 100,
      logEvery: options.logEvery ?? 10,
      overpowerSteps: options.overpowerSteps ?? 100,
      statistics,
      progress: options.progress ?? 'auto',
      signal: options.signal,
      info,
      warn,
    });
    result.step = state.step;
    if (state.step < totalSteps && !options.dryRun) {
      result.interrupted = true;
      const trained = state.step > (result.resumedFrom ?? 0);
      info(`stopped at step ${state.step} of ${totalSteps}${trained ? '; checkpoint written' : ''}: continue with --resume`);
    }
    return result;
  } finally {
    state.dispose();
    statistics?.dispose();
  }
}

/** The real class means of --statistics-matching, from the run's training split. */
function matchedStatistics(settings: RunSettings, dataset: Dataset, info: (line: string) => void): StatisticsMatching {
  const { config, recipe } = settings;
  const matching = StatisticsMatching.fromImages(
    recipe.statisticsMatching,
    dataset.images,
    dataset.labels,
    config.imageSize,
    config.numClasses,
  );
  info(
    `statistics matching: G's colour and gradient statistics matched to the means of ${dataset.count} training images` +
      `${config.numClasses ? `, per class` : ''}, weight ${recipe.statisticsMatching}`,
  );
  return matching;
}
