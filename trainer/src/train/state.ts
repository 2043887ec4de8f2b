/**
 * Everything a run changes as it trains: the weights of both networks (batch-norm statistics
 * included), both Adam states, the generator's moving average when the recipe keeps one, the noise
 * stream, the step and the seconds trained. A checkpoint is this state on disk (checkpoint.ts), so
 * restoring one and training on matches an uninterrupted run.
 *
 * Checkpoint tensor names: `generator/<weight>`, `discriminator/<weight>`, `adam_g/NNNN`, `adam_d/NNNN`
 * (Adam's slots by position), `adam_powers/adam_g` and `adam_powers/adam_d` (Adam's β₁ᵗ and β₂ᵗ) and
 * `generator_ema/<weight>` (the averaged generator that is exported; a resize-upsampling G's 3x3 kernels become
 * their transposed form there, resize-conv.ts), `lecam/anchors` (lecam.ts), and the
 * vision-aided heads `vision/…` with their Adam state `adam_v/NNNN` (vision-aided.ts).
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Sfc32, cyrb128 } from '@gan/core';
import { buildDiscriminator, buildGenerator } from '@gan/core/model';
import { settleSpectralNorms } from '@gan/core/spectral-norm';
import { type Checkpoint, type NamedArray, saveCheckpoint } from './checkpoint.ts';
import { EMA_PREFIX, GeneratorAverage } from './ema.ts';
import type { FrozenFeatureNetwork } from './frozen-mobilenet.ts';
import { LeCamState } from './lecam.ts';
import type { RunSettings } from './settings.ts';
import { type GanModels, createAdam } from './step.ts';
import { type VisionBranch, VisionHeads } from './vision-aided.ts';

/** A checkpoint that does not fit the run resuming from it. */
export class ResumeMismatchError extends Error {
  override name = 'ResumeMismatchError';
}

/** An integer seed for the tfjs initialisers, from the run's seed string. */
export function initialiserSeed(seed: string): number {
  return cyrb128(new TextEncoder().encode(seed))[0] % 1_000_000;
}

/** Generator weights of a model by name, as checkpoints and the preview take them (a resize G's kernels still 3x3). */
export function generatorWeightMap(model: tfl.LayersModel): tf.NamedTensorMap {
  return Object.fromEntries(model.weights.map((w) => [w.originalName, w.read()]));
}

function weightsOf(model: tfl.LayersModel, prefix: string): NamedArray[] {
  return model.weights.map((w) => ({
    name: `${prefix}/${w.originalName}`,
    shape: w.shape as number[],
    data: w.read().dataSync() as Float32Array,
  }));
}

async function optimizerWeights(optimizer: tf.Optimizer, prefix: string): Promise<NamedArray[]> {
  const weights = await optimizer.getWeights();
  const out = await Promise.all(
    // By position: Adam matches its slots to variables by order, and variable names vary between processes.
    weights.map(async (w, i) => ({
      name: `${prefix}/${String(i).padStart(4, '0')}`,
      shape: w.tensor.shape,
      data: (await w.tensor.data()) as Float32Array,
    })),
  );
  weights[0]?.tensor.dispose(); // the iteration count is a fresh scalar; the rest are the optimiser's own variables
  return [...out, adamPowers(optimizer, prefix)];
}

/**
 * Adam's running powers β₁ᵗ and β₂ᵗ. tfjs multiplies them by β in float32 at every step, but its
 * setWeights recomputes them as pow(β, t + 1), which can differ in the last bit: that made a resumed
 * run drift from an uninterrupted one by ~1e-8. Saved and put back as they are, the two compute the
 * same bits. (A checkpoint written before they were saved resumes with tfjs's recomputed powers.)
 */
const ADAM_POWERS = 'adam_powers';

interface AdamPowers {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

function adamPowers(optimizer: tf.Optimizer, prefix: string): NamedArray {
  const { accBeta1, accBeta2 } = optimizer as unknown as AdamPowers;
  return { name: `${ADAM_POWERS}/${prefix}`, shape: [2], data: Float32Array.of(accBeta1.dataSync()[0], accBeta2.dataSync()[0]) };
}

function restoreAdamPowers(optimizer: tf.Optimizer, prefix: string, tensors: Map<string, NamedArray>): void {
  const saved = tensors.get(`${ADAM_POWERS}/${prefix}`);
  if (!saved) return;
  const { accBeta1, accBeta2 } = optimizer as unknown as AdamPowers;
  tf.tidy(() => {
    accBeta1.assign(tf.scalar(saved.data[0]));
    accBeta2.assign(tf.scalar(saved.data[1]));
  });
}

function restoreModel(model: tfl.LayersModel, prefix: string, tensors: Map<string, NamedArray>): void {
  for (const w of model.weights) {
    const saved = tensors.get(`${prefix}/${w.originalName}`);
    if (!saved || saved.shape.join() !== (w.shape as number[]).join())
      throw new ResumeMismatchError(`checkpoint has no matching ${prefix}/${w.originalName}`);
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
  restoreAdamPowers(optimizer, prefix, tensors);
}

export class TrainingState {
  private constructor(
    readonly models: GanModels,
    readonly generatorOptimizer: tf.Optimizer,
    readonly discriminatorOptimizer: tf.Optimizer,
    /** The moving average of G's weights, when the recipe exports one. */
    readonly average: GeneratorAverage | undefined,
    /** The anchors of LeCam regularisation, when the recipe asks for it. */
    readonly lecam: LeCamState | undefined,
    /** The vision-aided discriminator (frozen network, heads, their optimiser), when the recipe asks for it. */
    readonly vision: VisionBranch | undefined,
    /** Every random draw of the steps (noise, fake labels, augmentations), in a fixed order. */
    public noiseRng: Sfc32,
    /** Steps completed. */
    public step: number,
    /** Seconds spent training so far, over all resumes. */
    public seconds: number,
  ) {}

  /**
   * A run's state before its first step: initialisers and the noise stream seeded from the run's seed.
   * A vision-aided recipe needs its frozen feature network (loaded by the caller, owned by the state).
   */
  static initial(settings: RunSettings, network?: FrozenFeatureNetwork): TrainingState {
    const { config, seed, recipe } = settings;
    if (recipe.visionAided > 0 && !network) throw new RangeError('a vision-aided recipe needs its frozen feature network');
    const models: GanModels = {
      config,
      generator: buildGenerator(config, initialiserSeed(seed), recipe.upsampling),
      discriminator: buildDiscriminator(config, initialiserSeed(seed), recipe.conditioning, {
        classHead: recipe.classLoss > 0,
        fakeClass: recipe.fakeClass,
        spectralNorm: recipe.spectralNorm,
      }),
      conditioning: recipe.conditioning,
      fakeClass: recipe.fakeClass,
    };
    settleSpectralNorms(models.discriminator);
    const average = recipe.ema !== null ? new GeneratorAverage(models.generator, recipe.ema) : undefined;
    return new TrainingState(
      models,
      createAdam(settings.generatorAdam),
      createAdam(settings.discriminatorAdam),
      average,
      recipe.lecam > 0 ? new LeCamState(recipe.lecam) : undefined,
      recipe.visionAided > 0 && network
        ? {
            network,
            heads: VisionHeads.initial(network, config.numClasses, initialiserSeed(`${seed}/vision`)),
            optimizer: createAdam(settings.discriminatorAdam),
          }
        : undefined,
      Sfc32.fromSeed(`${seed}/noise`),
      0,
      0,
    );
  }

  /** Takes over the state a checkpoint saved; throws ResumeMismatchError when it lacks any of it. */
  async restore(checkpoint: Checkpoint): Promise<void> {
    const { tensors, state } = checkpoint;
    restoreModel(this.models.generator, 'generator', tensors);
    restoreModel(this.models.discriminator, 'discriminator', tensors);
    await restoreOptimizer(this.generatorOptimizer, 'adam_g', tensors);
    await restoreOptimizer(this.discriminatorOptimizer, 'adam_d', tensors);
    if (this.average && !this.average.restore(tensors)) {
      throw new ResumeMismatchError(`${path.basename(checkpoint.dir)} has no ${EMA_PREFIX} weights for this run's moving average`);
    }
    this.lecam?.restore(tensors);
    if (this.vision) {
      this.vision.heads.restore(tensors);
      await restoreOptimizer(this.vision.optimizer, 'adam_v', tensors);
    }
    this.noiseRng = new Sfc32(state.noiseRng);
    this.step = state.step;
    this.seconds = state.seconds;
  }

  /** Writes the state as the run's newest checkpoint, with the run's settings and where the data order stands. */
  async save(runDir: string, settings: RunSettings, stepsPerEpoch: number): Promise<void> {
    const { step } = this;
    await saveCheckpoint(runDir, {
      step,
      config: settings.config,
      settings,
      noiseRng: this.noiseRng.getState(),
      data: { epoch: Math.floor(step / stepsPerEpoch), position: step % stepsPerEpoch },
      seconds: this.seconds,
      tensors: [
        ...weightsOf(this.models.generator, 'generator'),
        ...weightsOf(this.models.discriminator, 'discriminator'),
        ...(await optimizerWeights(this.generatorOptimizer, 'adam_g')),
        ...(await optimizerWeights(this.discriminatorOptimizer, 'adam_d')),
        ...(this.average
          ? this.withServedWeights((weights) =>
              Object.entries(weights).map(([name, t]) => ({
                name: `${EMA_PREFIX}/${name}`,
                shape: t.shape,
                data: t.dataSync() as Float32Array,
              })),
            )
          : []),
        ...(this.lecam?.saved() ?? []),
        ...(this.vision ? [...this.vision.heads.saved(), ...(await optimizerWeights(this.vision.optimizer, 'adam_v'))] : []),
      ],
    });
  }

  /** The averaged generator of the step it was made at: a checkpoint and a preview at one step share it. */
  private served?: { step: number; weights: tf.NamedTensorMap };

  /** Runs `fn` on the generator that is previewed and exported: the moving average when the recipe keeps one. */
  withServedWeights<T>(fn: (weights: tf.NamedTensorMap) => T): T {
    if (!this.average) return fn(generatorWeightMap(this.models.generator));
    if (this.served?.step !== this.step) {
      // Standing statistics cost G forward passes: made once per step, whoever asks first.
      this.disposeServed();
      this.served = { step: this.step, weights: this.average.servingWeights(this.models.config) };
    }
    return fn(this.served.weights);
  }

  private disposeServed(): void {
    if (this.served) tf.dispose(Object.values(this.served.weights));
    this.served = undefined;
  }

  dispose(): void {
    this.disposeServed();
    this.models.generator.dispose();
    this.models.discriminator.dispose();
    this.generatorOptimizer.dispose();
    this.discriminatorOptimizer.dispose();
    this.average?.dispose();
    if (this.vision) {
      this.vision.heads.dispose();
      this.vision.optimizer.dispose();
      this.vision.network.dispose();
    }
  }
}
