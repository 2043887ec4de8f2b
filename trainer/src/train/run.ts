/**
 * A training run: data set → alternating D/G steps → metrics, previews and checkpoints in a run
 * directory. Deterministic for a given seed and backend: initialisers are seeded from it, noise comes
 * from an sfc32 stream and each epoch's data order from its own sfc32 permutation. Resuming restores
 * the weights, both Adam states, the noise stream's state and the data cursor, so a resumed run
 * matches an uninterrupted one.
 *
 *   <run>/run.json          the run's settings and architecture
 *   <run>/metrics.jsonl     one row per step
 *   <run>/previews/         step-NNNNNN.png and latest.png (fixed latents), loss.svg
 *   <run>/checkpoints/      see checkpoint.ts
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type ModelConfig, ModelConfigSchema, Sfc32, cyrb128 } from '@gan/core';
import { buildDiscriminator, buildGenerator } from '@gan/core/model';
import { type Dataset, type LicenceInfo, loadDataset } from '../data/index.ts';
import { type Checkpoint, type NamedArray, loadLatestCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { FailureWatch, MetricsLog, type MetricsRow } from './metrics.ts';
import { lossCurveSvg, renderPreview } from './preview.ts';
import { type ProgressMode, createProgress } from './progress.ts';
import { type AdamSettings, type GanLoss, type GanModels, createAdam, discriminatorStep, generatorStep } from './step.ts';
import { type Augmentation, drawAugmentation } from './augment.ts';
import { EMA_PREFIX, GeneratorAverage } from './ema.ts';

/**
 * How the two networks are trained, beyond the optimiser: the article's recipe (BCE, no augmentation,
 * the raw G exported) or any of the data-efficient additions, each opt-in.
 */
export interface TrainingRecipe {
  loss: GanLoss;
  /** DiffAugment policy applied to everything D sees; [] = off. */
  diffAugment: Augmentation[];
  /** Decay of the exported moving average of G's weights; null = export the raw G. */
  ema: number | null;
}

export const ARTICLE_RECIPE: TrainingRecipe = { loss: 'bce', diffAugment: [], ema: null };

/** What a run is: fixed when it starts, stored in run.json and every checkpoint, reused on resume. */
export interface RunSettings {
  data: string;
  imageSize: ModelConfig['imageSize'];
  channels: 1 | 3;
  labels: boolean;
  background: string;
  batchSize: number;
  seed: string;
  generatorAdam: AdamSettings;
  discriminatorAdam: AdamSettings;
  /** Absent in runs started before recipes existed: those are ARTICLE_RECIPE. */
  recipe?: TrainingRecipe;
  config: ModelConfig;
  classNames: string[];
  dataset: { name: string; images: number } & LicenceInfo;
  backend: string;
}

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
  generatorAdam: AdamSettings;
  discriminatorAdam: AdamSettings;
  recipe?: TrainingRecipe;
  seed: string;
  /** Name of the active backend (recorded; the caller selects it). */
  backend: string;
  outDir: string;
  resume?: boolean;
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
export class ResumeMismatchError extends Error {
  override name = 'ResumeMismatchError';
}

/** An integer seed for the tfjs initialisers, from the run's seed string. */
export function initialiserSeed(seed: string): number {
  return cyrb128(new TextEncoder().encode(seed))[0] % 1_000_000;
}

/** Sfc32 Fisher–Yates permutation of 0..n-1: the data order of one epoch. */
export function epochOrder(seed: string, epoch: number, n: number): Uint32Array {
  const rng = Sfc32.fromSeed(`${seed}/order/${epoch}`);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

function weightsOf(model: tfl.LayersModel, prefix: string): NamedArray[] {
  return model.weights.map((w) => ({ name: `${prefix}/${w.originalName}`, shape: w.shape as number[], data: w.read().dataSync() as Float32Array }));
}

async function optimizerWeights(optimizer: tf.Optimizer, prefix: string): Promise<NamedArray[]> {
  const weights = await optimizer.getWeights();
  const out = await Promise.all(
    // By position: Adam matches its slots to variables by order, and variable names vary between processes.
    weights.map(async (w, i) => ({ name: `${prefix}/${String(i).padStart(4, '0')}`, shape: w.tensor.shape, data: (await w.tensor.data()) as Float32Array })),
  );
  weights[0]?.tensor.dispose(); // the iteration count is a fresh scalar; the rest are the optimiser's own variables
  return out;
}

function restoreModel(model: tfl.LayersModel, prefix: string, tensors: Map<string, NamedArray>): void {
  for (const w of model.weights) {
    const saved = tensors.get(`${prefix}/${w.originalName}`);
    if (!saved || saved.shape.join() !== (w.shape as number[]).join()) throw new ResumeMismatchError(`checkpoint has no matching ${prefix}/${w.originalName}`);
    const t = tf.tensor(saved.data, saved.shape);
    w.write(t);
    t.dispose();
  }
}

async function restoreOptimizer(optimizer: tf.Optimizer, prefix: string, tensors: Map<string, NamedArray>): Promise<void> {
  const entries = [...tensors.values()].filter((t) => t.name.startsWith(`${prefix}/`)).sort((a, b) => a.name.localeCompare(b.name));
  if (entries.length === 0) return;
  const named = entries.map((e) => ({ name: e.name, tensor: tf.tensor(e.data, e.shape) }));
  await optimizer.setWeights(named);
  tf.dispose(named.map((n) => n.tensor));
}

/** Generator weights of a model as the name → tensor map FastGenerator and the exporter take. */
export function generatorWeightMap(model: tfl.LayersModel): tf.NamedTensorMap {
  return Object.fromEntries(model.weights.map((w) => [w.originalName, w.read()]));
}

function settingsFrom(options: TrainOptions, dataset: Dataset): RunSettings {
  const config = ModelConfigSchema.parse({
    imageSize: options.imageSize,
    channels: dataset.channels,
    latentSize: options.latentSize,
    generatorWidth: options.generatorWidth,
    discriminatorWidth: options.discriminatorWidth,
    numClasses: dataset.classNames.length,
  });
  return {
    data: options.data!,
    imageSize: options.imageSize,
    channels: dataset.channels,
    labels: options.labels ?? true,
    background: options.background ?? 'white',
    batchSize: options.batchSize,
    seed: options.seed,
    generatorAdam: options.generatorAdam,
    discriminatorAdam: options.discriminatorAdam,
    recipe: options.recipe ?? ARTICLE_RECIPE,
    config,
    classNames: dataset.classNames,
    dataset: { name: dataset.name, images: dataset.count, ...dataset.licence },
    backend: options.backend,
  };
}

async function writeAtomically(file: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

export async function runTraining(options: TrainOptions): Promise<TrainResult> {
  const info = options.info ?? ((l: string) => console.log(l));
  const warn = options.warn ?? ((l: string) => console.error(l));
  const runDir = path.resolve(options.outDir);

  // Resume: the checkpoint's settings win over the command line, so the run stays the same run.
  let checkpoint: Checkpoint | undefined;
  if (!options.dryRun) {
    const { checkpoint: found, rejected } = await loadLatestCheckpoint(runDir);
    for (const r of rejected) warn(`warning: skipping checkpoint ${path.basename(r.dir)}: ${r.reason}`);
    if (found && !options.resume) throw new RunExistsError(`${runDir} already holds a run (step ${found.state.step}): pass --resume to continue it, or choose another --out`);
    if (options.resume) {
      if (found) checkpoint = found;
      else info(`no checkpoint in ${runDir}: starting a new run`);
    }
  }
  const saved = checkpoint?.state.settings as RunSettings | undefined;
  if (!saved && options.data === undefined) throw new MissingDataError(`no checkpoint to resume in ${runDir}: name the data set to start a new run`);
  const dataOptions = saved ?? { data: options.data!, imageSize: options.imageSize, channels: options.channels, labels: options.labels, background: options.background };
  const dataset = await loadDataset(dataOptions.data, {
    imageSize: dataOptions.imageSize,
    channels: dataOptions.channels,
    labels: dataOptions.labels,
    background: dataOptions.background,
    split: 'train',
    cacheDir: options.cacheDir,
    twemojiDir: options.twemojiDir,
    log: info,
  });
  const settings: RunSettings = saved ? { ...saved, backend: options.backend } : settingsFrom(options, dataset);
  if (saved && saved.backend !== options.backend) warn(`warning: the run started on ${saved.backend} and continues on ${options.backend}: results will differ slightly from an uninterrupted run`);
  const { config, batchSize, seed } = settings;
  if (dataset.count < batchSize) throw new RangeError(`the data set has ${dataset.count} training images, fewer than one batch of ${batchSize}`);
  const stepsPerEpoch = Math.floor(dataset.count / batchSize);
  const totalSteps = options.dryRun ? 1 : (options.steps ?? (options.epochs ?? 1) * stepsPerEpoch);
  info(
    `${options.dryRun ? 'dry run: ' : ''}data ${dataset.name}: ${dataset.count} training images ${config.imageSize}x${config.imageSize}x${config.channels}` +
      `${dataset.fromCache ? ' (cached)' : ''}, ${config.numClasses ? `${config.numClasses} classes` : 'unlabelled'}; ` +
      `batch ${batchSize}, ${stepsPerEpoch} steps per epoch; backend ${options.backend}`,
  );

  const models: GanModels = {
    config,
    generator: buildGenerator(config, initialiserSeed(seed)),
    discriminator: buildDiscriminator(config, initialiserSeed(seed)),
  };
  const recipe = settings.recipe ?? ARTICLE_RECIPE;
  const average = recipe.ema !== null ? new GeneratorAverage(models.generator, recipe.ema) : undefined;
  const gOpt = createAdam(settings.generatorAdam);
  const dOpt = createAdam(settings.discriminatorAdam);
  let noiseRng = Sfc32.fromSeed(`${seed}/noise`);
  let step = 0;
  let seconds = 0;
  if (checkpoint) {
    restoreModel(models.generator, 'generator', checkpoint.tensors);
    restoreModel(models.discriminator, 'discriminator', checkpoint.tensors);
    await restoreOptimizer(gOpt, 'adam_g', checkpoint.tensors);
    await restoreOptimizer(dOpt, 'adam_d', checkpoint.tensors);
    if (average && !average.restore(checkpoint.tensors)) throw new ResumeMismatchError(`the checkpoint has no ${EMA_PREFIX} weights for this run's moving average`);
    noiseRng = new Sfc32(checkpoint.state.noiseRng);
    step = checkpoint.state.step;
    seconds = checkpoint.state.seconds;
    info(`resuming ${runDir} from step ${step} (${path.basename(checkpoint.dir)})`);
  }

  const dispose = () => {
    models.generator.dispose();
    models.discriminator.dispose();
    gOpt.dispose();
    dOpt.dispose();
    average?.dispose();
  };
  /** The generator that is previewed and exported: the moving average when the recipe keeps one. */
  const withServedWeights = <T>(fn: (weights: tf.NamedTensorMap) => T): T => {
    if (!average) return fn(generatorWeightMap(models.generator));
    const weights = average.servingWeights(config);
    try {
      return fn(weights);
    } finally {
      tf.dispose(Object.values(weights));
    }
  };

  const result: TrainResult = { runDir, step, totalSteps, interrupted: false, resumedFrom: checkpoint ? step : undefined, settings };
  const pixels = config.imageSize * config.imageSize * config.channels;
  const latent = config.latentSize;
  const k = config.numClasses;
  let orderEpoch = -1;
  let order: Uint32Array = new Uint32Array(0);

  const writeCheckpoint = async () => {
    await saveCheckpoint(runDir, {
      step,
      config,
      settings: settings as unknown as Record<string, unknown>,
      noiseRng: noiseRng.getState(),
      data: { epoch: Math.floor(step / stepsPerEpoch), position: step % stepsPerEpoch },
      seconds,
      tensors: [
        ...weightsOf(models.generator, 'generator'),
        ...weightsOf(models.discriminator, 'discriminator'),
        ...(await optimizerWeights(gOpt, 'adam_g')),
        ...(await optimizerWeights(dOpt, 'adam_d')),
        ...(average
          ? withServedWeights((weights) =>
              Object.entries(weights).map(([name, t]) => ({ name: `${EMA_PREFIX}/${name}`, shape: t.shape, data: t.dataSync() as Float32Array })),
            )
          : []),
      ],
    });
  };
  const writePreview = async (metrics: MetricsLog) => {
    const dir = path.join(runDir, 'previews');
    await mkdir(dir, { recursive: true });
    const png = withServedWeights((weights) => renderPreview(config, weights));
    await writeAtomically(path.join(dir, `step-${String(step).padStart(6, '0')}.png`), png);
    await writeAtomically(path.join(dir, 'latest.png'), png);
    await writeAtomically(path.join(dir, 'loss.svg'), lossCurveSvg(metrics.rows, `${dataset.name} ${config.imageSize}px`));
  };

  try {
    let metrics: MetricsLog | undefined;
    if (!options.dryRun) {
      await mkdir(runDir, { recursive: true });
      await writeAtomically(path.join(runDir, 'run.json'), JSON.stringify({ ...settings, stepsPerEpoch }, null, 2));
      metrics = await MetricsLog.open(path.join(runDir, 'metrics.jsonl'), step);
    }
    if (step >= totalSteps) {
      info(`the run is already at step ${step} of ${totalSteps}`);
      result.last = metrics?.rows.at(-1);
      return result;
    }
    const checkpointEvery = options.checkpointEvery ?? 100;
    const previewEvery = options.previewEvery ?? 100;
    const watch = new FailureWatch({ overpowerSteps: options.overpowerSteps ?? 100 });
    const progress = createProgress(options.progress ?? 'auto', options.logEvery ?? 10, { info, warn });
    progress.start(totalSteps, step);
    try {
      while (step < totalSteps && !options.signal?.aborted) {
        const epoch = Math.floor(step / stepsPerEpoch);
        const position = step % stepsPerEpoch;
        if (epoch !== orderEpoch) {
          order = epochOrder(seed, epoch, dataset.count);
          orderEpoch = epoch;
        }
        const started = performance.now();
        const cpuStarted = process.cpuUsage();
        const batch = new Float32Array(batchSize * pixels);
        const realLabels = new Int32Array(batchSize);
        for (let i = 0; i < batchSize; i++) {
          const index = order[position * batchSize + i];
          batch.set(dataset.images.subarray(index * pixels, (index + 1) * pixels), i * pixels);
          realLabels[i] = dataset.labels[index];
        }
        const drawLabels = () => (k > 0 ? Int32Array.from({ length: batchSize }, () => noiseRng.nextInt(k)) : undefined);
        const drawAugment = () => (recipe.diffAugment.length ? drawAugmentation(recipe.diffAugment, batchSize, config.imageSize, noiseRng) : undefined);
        const real = tf.tensor4d(batch, [batchSize, config.imageSize, config.imageSize, config.channels]);
        let d, g;
        try {
          const dNoise = noiseRng.fillNormal(new Float32Array(batchSize * latent));
          const fakeLabels = drawLabels();
          d = await discriminatorStep(
            models,
            dOpt,
            { real, realLabels: k > 0 ? realLabels : undefined, noise: dNoise, fakeLabels, realAugmentation: drawAugment(), fakeAugmentation: drawAugment() },
            recipe.loss,
          );
          const gNoise = noiseRng.fillNormal(new Float32Array(batchSize * latent));
          g = await generatorStep(models, gOpt, { noise: gNoise, labels: drawLabels(), augmentation: drawAugment() }, recipe.loss);
          average?.update(step);
        } finally {
          real.dispose();
        }
        const elapsed = (performance.now() - started) / 1000;
        const cpu = process.cpuUsage(cpuStarted);
        step++;
        seconds += elapsed;
        const row: MetricsRow = {
          step,
          epoch,
          d_loss: d.d_loss,
          g_loss: g.g_loss,
          d_x: d.d_x,
          d_g_z: d.d_g_z,
          d_g_z2: g.d_g_z,
          images_per_s: batchSize / elapsed,
          cpu_s: (cpu.user + cpu.system) / 1e6,
          seconds,
          time: new Date().toISOString(),
        };
        result.step = step;
        result.last = row;
        const warning = watch.check(row); // throws on NaN, before anything is recorded
        if (warning) progress.log(warning);
        if (options.dryRun) {
          info(
            `dry run: one batch of ${batchSize} through both steps in ${elapsed.toFixed(2)} s: d_loss=${row.d_loss.toFixed(4)} ` +
              `g_loss=${row.g_loss.toFixed(4)} d_x=${row.d_x.toFixed(4)} d_g_z=${row.d_g_z.toFixed(4)}; nothing written`,
          );
          break;
        }
        await metrics!.append(row);
        progress.update(row);
        const last = step === totalSteps;
        if (step % checkpointEvery === 0 || last || options.signal?.aborted) await writeCheckpoint();
        if (step % previewEvery === 0 || last || options.signal?.aborted) await writePreview(metrics!);
      }
    } finally {
      progress.stop();
    }
    if (step < totalSteps && !options.dryRun) {
      result.interrupted = true;
      const trained = step > (result.resumedFrom ?? 0);
      info(`stopped at step ${step} of ${totalSteps}${trained ? '; checkpoint written' : ''}: continue with --resume`);
    }
    return result;
  } finally {
    dispose();
  }
}
