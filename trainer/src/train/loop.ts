/**
 * The training loop: one alternating D/G iteration per step, each recorded in the metrics log, with
 * checkpoints and previews on their schedule, at the last step and when stopped.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RealBatch, EpochBatches } from './batches.ts';
import { drawAugmentation } from './augment.ts';
import { FailureWatch, type MetricsLog, type MetricsRow } from './metrics.ts';
import { lossCurveSvg, renderPreview } from './preview.ts';
import { type ProgressMode, createProgress } from './progress.ts';
import { writePreviews } from './run-directory.ts';
import type { RunSettings, TrainingRecipe } from './settings.ts';
import type { TrainingState } from './state.ts';
import type { StatisticsMatching } from './statistics-matching.ts';
import { type DiscriminatorStepResult, type GeneratorStepResult, discriminatorStep, generatorStep } from './step.ts';
import { visionGeneratorWeight } from './vision-aided.ts';

/**
 * One iteration on `real`: D's step, then G's from fresh noise, then the moving average. The random
 * draws come from the state's noise stream in this order, which checkpoints depend on: D's noise,
 * D's fake labels, the real and the fake augmentation; G's noise, G's labels, G's augmentation.
 */
export async function trainingIteration(
  state: TrainingState,
  recipe: TrainingRecipe,
  real: RealBatch,
  /** The real class means G's statistics are matched to, when the recipe asks for it. */
  statistics?: StatisticsMatching,
): Promise<{ d: DiscriminatorStepResult; g: GeneratorStepResult }> {
  const { models, noiseRng } = state;
  const { config } = models;
  const batchSize = real.labels.length;
  const k = config.numClasses;
  const drawNoise = () => noiseRng.fillNormal(new Float32Array(batchSize * config.latentSize));
  const drawLabels = () => (k > 0 ? Int32Array.from({ length: batchSize }, () => noiseRng.nextInt(k)) : undefined);
  const drawAugment = () =>
    recipe.diffAugment.length ? drawAugmentation(recipe.diffAugment, batchSize, config.imageSize, noiseRng) : undefined;
  const images = tf.tensor4d(real.images, [batchSize, config.imageSize, config.imageSize, config.channels]);
  try {
    const dNoise = drawNoise();
    const fakeLabels = drawLabels();
    const realAugmentation = drawAugment();
    const fakeAugmentation = drawAugment();
    const d = await discriminatorStep(
      models,
      state.discriminatorOptimizer,
      { real: images, realLabels: k > 0 ? real.labels : undefined, noise: dNoise, fakeLabels, realAugmentation, fakeAugmentation },
      recipe.loss,
      recipe.classLoss,
      state.lecam?.term(),
      state.vision,
    );
    state.lecam?.update(d.realLogit, d.fakeLogit);
    const gNoise = drawNoise();
    const gLabels = drawLabels();
    const g = await generatorStep(
      models,
      state.generatorOptimizer,
      { noise: gNoise, labels: gLabels, augmentation: drawAugment() },
      recipe.loss,
      recipe.classLoss,
      state.vision && { branch: state.vision, weight: visionGeneratorWeight(recipe.visionAided, recipe.visionWarmup, state.step) },
      statistics,
    );
    state.average?.update(state.step);
    return { d, g };
  } finally {
    images.dispose();
  }
}

export interface LoopOptions {
  runDir: string;
  settings: RunSettings;
  /** The data set's name, for the loss curve's title. */
  dataName: string;
  batches: EpochBatches;
  totalSteps: number;
  /** Absent on a dry run: one step, nothing written. */
  metrics?: MetricsLog;
  checkpointEvery: number;
  previewEvery: number;
  logEvery: number;
  overpowerSteps: number;
  /** The real class means of --statistics-matching (absent when the recipe has it off). */
  statistics?: StatisticsMatching;
  progress: ProgressMode;
  signal?: AbortSignal;
  info: (line: string) => void;
  warn: (line: string) => void;
}

/**
 * Trains from the state's step up to `totalSteps`, or until the signal aborts (after the current step,
 * checkpointed). Returns the last step's metrics row.
 */
export async function trainSteps(state: TrainingState, options: LoopOptions): Promise<MetricsRow | undefined> {
  const { runDir, settings, batches, totalSteps, metrics, signal, info } = options;
  const { config, batchSize } = settings;
  const dryRun = metrics === undefined;
  const watch = new FailureWatch({ overpowerSteps: options.overpowerSteps });
  const progress = createProgress(options.progress, options.logEvery, { info, warn: options.warn });
  let last: MetricsRow | undefined;
  progress.start(totalSteps, state.step);
  try {
    while (state.step < totalSteps && !signal?.aborted) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      const real = batches.at(state.step);
      const { d, g } = await trainingIteration(state, settings.recipe, real, options.statistics);
      const elapsed = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuStarted);
      state.step++;
      state.seconds += elapsed;
      const row: MetricsRow = {
        step: state.step,
        epoch: real.epoch,
        d_loss: d.d_loss,
        g_loss: g.g_loss,
        d_x: d.d_x,
        d_g_z: d.d_g_z,
        d_g_z2: g.d_g_z,
        ...(d.dv_loss !== undefined && { dv_loss: d.dv_loss }),
        images_per_s: batchSize / elapsed,
        cpu_s: (cpu.user + cpu.system) / 1e6,
        seconds: state.seconds,
        time: new Date().toISOString(),
      };
      last = row;
      const warning = watch.check(row); // throws on NaN, before anything is recorded
      if (warning) progress.log(warning);
      if (dryRun) {
        info(
          `dry run: one batch of ${batchSize} through both steps in ${elapsed.toFixed(2)} s: d_loss=${row.d_loss.toFixed(4)} ` +
            `g_loss=${row.g_loss.toFixed(4)} d_x=${row.d_x.toFixed(4)} d_g_z=${row.d_g_z.toFixed(4)}; nothing written`,
        );
        break;
      }
      await metrics.append(row);
      progress.update(row);
      const due = (every: number) => state.step % every === 0 || state.step === totalSteps || signal?.aborted;
      if (due(options.checkpointEvery)) await state.save(runDir, settings, batches.stepsPerEpoch);
      if (due(options.previewEvery)) {
        const grid = state.withServedWeights((weights) => renderPreview(config, weights));
        await writePreviews(runDir, state.step, grid, lossCurveSvg(metrics.rows, `${options.dataName} ${config.imageSize}px`));
      }
    }
  } finally {
    progress.stop();
  }
  return last;
}
