/**
 * Trains the learned upscaler on real pairs (pairs.ts): the model-size render in, the 4×-size render
 * as the target. One run is one stage; a stage can start from another's weights (`initFrom`):
 *
 *   1. reconstruction: L1 + featureWeight · L1 in MobileNetV2 Conv1 features (networks.ts);
 *   2. adversarial: the same plus adversarialWeight · the non-saturating GAN loss of a PatchGAN
 *      discriminator trained beside it on real 4×-size renders against the upscaler's outputs: of the
 *      pairs' small renders, or, with `adversarialSamples`, of a generator's own images (what it
 *      will be served), so the discriminator judges upscaled samples against real renders while L1
 *      keeps the upscaler faithful on real pairs.
 *
 * `degrade` trains on damaged inputs (Gaussian noise of a random strength up to `noise`, a random
 * blend up to `blur` with a 3×3 box blur) against clean targets: generated images are noisier and
 * softer than renders, and an upscaler that has only seen renders sharpens their noise too.
 *
 * Resumable: every `checkpointEvery` steps the run directory gets the weights, both optimisers' state
 * and the step (checkpoint.json + checkpoint.bin, written atomically). Batches are drawn from the step
 * number and the seed alone, so a resumed run sees the batches a straight one would.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type UpscalerConfig, type UpscalerParams, UpscalerConfigSchema, refineLayerNames, upscaleForward } from '@gan/core/upscaler';
import { type FastGenerator, cellSeed, generatorInput, latentFromSeed } from '@gan/core';
import { quantise } from '@gan/core/image';
import { z } from 'zod';
import { writeFileAtomically } from '../atomic-write.ts';
import { loadExportedGenerator } from '../export/load.ts';
import { bicubicResize, meanPsnr } from './bicubic.ts';
import {
  type DiscriminatorParams,
  type FeatureStage,
  discriminate,
  features,
  initDiscriminator,
  initUpscalerVariables,
  upscalerWeightMap,
} from './networks.ts';
import { type EmojiPairs, pairImages, pairIndices } from './pairs.ts';

export const UpscalerSettingsSchema = z
  .object({
    config: UpscalerConfigSchema,
    steps: z.number().int().positive(),
    batchSize: z.number().int().positive(),
    learningRate: z.number().positive(),
    featureWeight: z.number().min(0),
    adversarialWeight: z.number().min(0),
    degrade: z.object({ noise: z.number().min(0), blur: z.number().min(0).max(1) }).strict(),
    seed: z.number().int(),
    checkpointEvery: z.number().int().positive(),
    /** Run directory whose last checkpoint's upscaler (and discriminator, if any) this run starts from. */
    initFrom: z.string().optional(),
    /**
     * Exported generator (directory) whose images the adversarial term upscales instead of the
     * pairs' small renders; absent: the pairs' (every run before it).
     */
    adversarialSamples: z.string().optional(),
    /** `name@version` of that generator when the run started: a resume refuses another. */
    adversarialSamplesModel: z.string().optional(),
  })
  .strict();
export type UpscalerSettings = z.infer<typeof UpscalerSettingsSchema>;

export interface StepLosses {
  l1: number;
  feature: number;
  adversarial: number;
  discriminator: number;
}

/** What a training run holds: the networks as variables and their optimisers. */
export interface UpscalerTraining {
  settings: UpscalerSettings;
  names: string[];
  g: UpscalerParams;
  d?: DiscriminatorParams;
  optG: tf.AdamOptimizer;
  optD?: tf.AdamOptimizer;
  step: number;
}

const gVariables = (t: Pick<UpscalerTraining, 'g'>) => [...t.g.kernels, ...t.g.biases] as tf.Variable[];
const dVariables = (d: DiscriminatorParams) => [...d.kernels, ...d.biases] as tf.Variable[];

export function startTraining(settings: UpscalerSettings): UpscalerTraining {
  const { names, params } = initUpscalerVariables(settings.config, settings.seed);
  const d = settings.adversarialWeight > 0 ? initDiscriminator(settings.config.channels, settings.seed) : undefined;
  return {
    settings,
    names,
    g: params,
    d,
    optG: tf.train.adam(settings.learningRate, 0.9, 0.999),
    optD: d ? tf.train.adam(settings.learningRate, 0.5, 0.999) : undefined,
    step: 0,
  };
}

/** A small deterministic PRNG (mulberry32) for the batches. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The batch of a step: indices into `train`, a horizontal flip each, and the degradation strengths. */
export function batchOf(settings: UpscalerSettings, step: number, trainCount: number) {
  const random = rng(settings.seed * 1_000_003 + step);
  return Array.from({ length: settings.batchSize }, () => ({
    index: Math.floor(random() * trainCount),
    flip: random() < 0.5,
    noise: random() * settings.degrade.noise,
    blur: random() * settings.degrade.blur,
    noiseSeed: Math.floor(random() * 2 ** 31),
  }));
}

/** The batch's small inputs (degraded) and large targets, flipped. */
export function batchTensors(pairs: EmojiPairs, train: readonly number[], settings: UpscalerSettings, step: number) {
  const batch = batchOf(settings, step, train.length);
  return tf.tidy(() => {
    const indices = batch.map((b) => train[b.index]);
    const small = tf.tensor4d(pairImages(pairs, 1, indices), [batch.length, pairs.size, pairs.size, 3]);
    const large = tf.tensor4d(pairImages(pairs, 4, indices), [batch.length, 4 * pairs.size, 4 * pairs.size, 3]);
    const flips = tf.reshape(tf.tensor1d(batch.map((b) => (b.flip ? 1 : 0))), [-1, 1, 1, 1]);
    const flip = (x: tf.Tensor4D) => tf.add(tf.mul(tf.reverse(x, 2), flips), tf.mul(x, tf.sub(1, flips))) as tf.Tensor4D;
    let x = flip(small);
    if (settings.degrade.noise > 0 || settings.degrade.blur > 0) {
      const blurred = tf.avgPool(
        tf.pad(
          x,
          [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ],
          1,
        ),
        3,
        1,
        'valid',
      ) as tf.Tensor4D;
      const alpha = tf.reshape(tf.tensor1d(batch.map((b) => b.blur)), [-1, 1, 1, 1]);
      x = tf.add(tf.mul(x, tf.sub(1, alpha)), tf.mul(blurred, alpha));
      const sigma = tf.reshape(tf.tensor1d(batch.map((b) => b.noise)), [-1, 1, 1, 1]);
      x = tf.add(x, tf.mul(tf.randomNormal(x.shape, 0, 1, 'float32', batch[0].noiseSeed), sigma));
    }
    return { x, y: flip(large) };
  });
}

/**
 * The generator's images for a step's adversarial term: a batch of the run's batch size, latents from
 * seeds `upscaler-train#<step>#<i>` (never the evaluation's `upscaler-eval#…`; the run's seed does not
 * enter them), styles drawn from the step and the run's seed, so a resumed run sees the samples a
 * straight one would.
 */
export function sampleBatch(generator: FastGenerator, settings: UpscalerSettings, step: number): tf.Tensor4D {
  const { config } = generator;
  const random = rng(settings.seed * 1_000_033 + step);
  const latents = Array.from({ length: settings.batchSize }, (_, i) =>
    latentFromSeed(cellSeed(`upscaler-train#${step}`, i), config.latentSize),
  );
  // Unconditional generators ignore the class.
  const classes = latents.map(() => Math.floor(random() * Math.max(1, config.numClasses)));
  return tf.tidy(() => generator.forward(generatorInput(config, latents, classes)));
}

/**
 * One training step; returns the losses (before the update). `samples`: the generator's images the
 * adversarial term upscales (sampleBatch), in place of `x`.
 */
export function trainStep(
  t: UpscalerTraining,
  stage: FeatureStage | undefined,
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  samples?: tf.Tensor4D,
): StepLosses {
  const { settings } = t;
  const losses: StepLosses = { l1: 0, feature: 0, adversarial: 0, discriminator: 0 };
  const d = t.d;
  const judged = samples ?? x;
  if (d && t.optD) {
    const fake = tf.tidy(() => upscaleForward(settings.config, t.g, judged));
    const dLoss = t.optD.minimize(
      () => tf.add(tf.mean(tf.softplus(tf.neg(discriminate(d, y)))), tf.mean(tf.softplus(discriminate(d, fake)))) as tf.Scalar,
      true,
      dVariables(d),
    );
    losses.discriminator = dLoss!.dataSync()[0];
    tf.dispose([fake, dLoss!]);
  }
  const parts: tf.Scalar[] = [];
  const gLoss = t.optG.minimize(
    () => {
      const fake = upscaleForward(settings.config, t.g, x);
      const l1 = tf.mean(tf.abs(tf.sub(fake, y))) as tf.Scalar;
      parts.push(tf.keep(tf.clone(l1)));
      let loss = l1;
      if (stage && settings.featureWeight > 0) {
        const f = tf.mean(tf.abs(tf.sub(features(stage, fake), features(stage, y)))) as tf.Scalar;
        parts.push(tf.keep(tf.clone(f)));
        loss = tf.add(loss, tf.mul(f, settings.featureWeight));
      } else parts.push(tf.keep(tf.scalar(0)));
      if (d && settings.adversarialWeight > 0) {
        const upscaled = samples ? upscaleForward(settings.config, t.g, samples) : fake;
        const adv = tf.mean(tf.softplus(tf.neg(discriminate(d, upscaled)))) as tf.Scalar;
        parts.push(tf.keep(tf.clone(adv)));
        loss = tf.add(loss, tf.mul(adv, settings.adversarialWeight));
      } else parts.push(tf.keep(tf.scalar(0)));
      return loss;
    },
    true,
    gVariables(t),
  );
  [losses.l1, losses.feature, losses.adversarial] = parts.map((p) => p.dataSync()[0]);
  tf.dispose([...parts, gLoss!]);
  t.step++;
  return losses;
}

// ---------------------------------------------------------------------------------------------------
// Checkpoints.

/** Settings that cannot train as given. */
export class UpscalerSettingsError extends Error {
  override name = 'UpscalerSettingsError';
}

/** A checkpoint whose upscaler does not fit the run's (a layer missing or of another shape). */
export class UpscalerCheckpointError extends Error {
  override name = 'UpscalerCheckpointError';
}

interface CheckpointHeader {
  format: 1;
  step: number;
  settings: UpscalerSettings;
  tensors: { name: string; shape: number[] }[];
}

async function namedState(t: UpscalerTraining): Promise<{ name: string; tensor: tf.Tensor }[]> {
  const list: { name: string; tensor: tf.Tensor }[] = [];
  for (const [name, tensor] of Object.entries(upscalerWeightMap(t.names, t.g))) list.push({ name: `g/${name}`, tensor });
  for (const [i, k] of (t.d?.kernels ?? []).entries()) list.push({ name: `d/${i}/kernel`, tensor: k });
  for (const [i, b] of (t.d?.biases ?? []).entries()) list.push({ name: `d/${i}/bias`, tensor: b });
  for (const w of await t.optG.getWeights()) list.push({ name: `optG/${w.name}`, tensor: w.tensor });
  if (t.optD) for (const w of await t.optD.getWeights()) list.push({ name: `optD/${w.name}`, tensor: w.tensor });
  return list;
}

export async function saveCheckpoint(dir: string, t: UpscalerTraining): Promise<void> {
  const state = await namedState(t);
  const header: CheckpointHeader = {
    format: 1,
    step: t.step,
    settings: t.settings,
    tensors: state.map((s) => ({ name: s.name, shape: s.tensor.shape })),
  };
  const total = state.reduce((sum, s) => sum + s.tensor.size, 0);
  const data = new Float32Array(total);
  let offset = 0;
  for (const s of state) {
    data.set(s.tensor.dataSync() as Float32Array, offset);
    offset += s.tensor.size;
  }
  await writeFileAtomically(path.join(dir, 'checkpoint.bin'), new Uint8Array(data.buffer));
  await writeFileAtomically(path.join(dir, 'checkpoint.json'), JSON.stringify(header, null, 1));
}

export async function readCheckpoint(dir: string): Promise<{ header: CheckpointHeader; tensors: Map<string, tf.Tensor> }> {
  const header = JSON.parse(await readFile(path.join(dir, 'checkpoint.json'), 'utf8')) as CheckpointHeader;
  const bin = await readFile(path.join(dir, 'checkpoint.bin'));
  const data = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const tensors = new Map<string, tf.Tensor>();
  let offset = 0;
  for (const { name, shape } of header.tensors) {
    const size = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, tf.tensor(data.subarray(offset, offset + size), shape));
    offset += size;
  }
  return { header, tensors };
}

/** Copies a checkpoint's networks into the run (and, when it is the run's own, the optimisers and step). */
async function restore(t: UpscalerTraining, dir: string, own: boolean): Promise<void> {
  const { header, tensors } = await readCheckpoint(dir);
  const runWeights = upscalerWeightMap(t.names, t.g);
  const extra = [...tensors.keys()].filter((n) => n.startsWith('g/') && !(n.slice(2) in runWeights));
  if (extra.length > 0)
    throw new UpscalerCheckpointError(
      `${dir}: the checkpoint has ${extra.map((n) => n.slice(2)).join(', ')}, which this run lacks (give it the checkpoint's --widths, --refine-width and --refine-blocks)`,
    );
  for (const [name, tensor] of Object.entries(runWeights)) {
    const saved = tensors.get(`g/${name}`);
    // A run may add a refinement to an upscaler trained without one: its layers keep their initial
    // weights, which leave the upscaler's output as it was (networks.ts). Every other layer must match.
    if (!saved && !own && refineLayerNames(t.settings.config).some((layer) => name.startsWith(`${layer}/`))) continue;
    if (!saved || saved.shape.join() !== tensor.shape.join())
      throw new UpscalerCheckpointError(`${dir}: weight ${name} is ${saved ? `[${saved.shape}]` : 'missing'}, expected [${tensor.shape}]`);
    (tensor as tf.Variable).assign(saved);
  }
  if (t.d) {
    t.d.kernels.forEach((k, i) => {
      const saved = tensors.get(`d/${i}/kernel`);
      if (saved) k.assign(saved as tf.Tensor4D);
    });
    t.d.biases.forEach((b, i) => {
      const saved = tensors.get(`d/${i}/bias`);
      if (saved) b.assign(saved as tf.Tensor1D);
    });
  }
  if (own) {
    // Adam's setWeights calls tensor.variable(), a chained op that tfjs-core registers only in its bundles.
    const proto = tf.Tensor.prototype as unknown as { variable?: (trainable?: boolean) => tf.Variable };
    proto.variable ??= function (this: tf.Tensor, trainable?: boolean) {
      return tf.variable(this, trainable);
    };
    const pick = (prefix: string) =>
      [...tensors].filter(([n]) => n.startsWith(prefix)).map(([name, tensor]) => ({ name: name.slice(prefix.length), tensor }));
    await t.optG.setWeights(pick('optG/'));
    if (t.optD) await t.optD.setWeights(pick('optD/'));
    t.step = header.step;
  }
  tf.dispose([...tensors.values()].filter((x) => !x.isDisposed));
}

/** The upscaler's named weights in a run's last checkpoint (for export). */
export async function checkpointUpscaler(dir: string): Promise<{ settings: UpscalerSettings; step: number; weights: tf.NamedTensorMap }> {
  const { header, tensors } = await readCheckpoint(dir);
  const weights: tf.NamedTensorMap = {};
  for (const [name, tensor] of tensors) {
    if (name.startsWith('g/')) weights[name.slice(2)] = tensor;
    else tensor.dispose();
  }
  return { settings: header.settings, step: header.step, weights };
}

// ---------------------------------------------------------------------------------------------------
// Held-out PSNR, against bicubic.

export interface HeldOutScore {
  psnr: number;
  bicubicPsnr: number;
  images: number;
}

/** PSNR of the upscaler's 4× images of held-out icons (all, or the first `limit`) against their real renders. */
export function heldOutPsnr(config: UpscalerConfig, params: UpscalerParams, pairs: EmojiPairs, limit?: number): HeldOutScore {
  const held = pairIndices(pairs, 'heldout').slice(0, limit);
  const n = pairs.size;
  const out = new Uint8Array(held.length * (4 * n) ** 2 * 3);
  for (let start = 0; start < held.length; start += 16) {
    const chunk = held.slice(start, start + 16);
    const up = tf.tidy(() =>
      tf.clipByValue(upscaleForward(config, params, tf.tensor4d(pairImages(pairs, 1, chunk), [chunk.length, n, n, 3])), -1, 1),
    );
    out.set(quantise(up.dataSync() as Float32Array), start * (4 * n) ** 2 * 3);
    up.dispose();
  }
  const real = quantise(pairImages(pairs, 4, held));
  const small = quantise(pairImages(pairs, 1, held));
  return {
    psnr: meanPsnr(out, real, held.length),
    bicubicPsnr: meanPsnr(bicubicResize(small, held.length, n, 4 * n, 3), real, held.length),
    images: held.length,
  };
}

// ---------------------------------------------------------------------------------------------------
// The loop.

export interface RunOptions {
  runDir: string;
  settings: UpscalerSettings;
  pairs: EmojiPairs;
  stage?: FeatureStage;
  log: (line: string) => void;
}

/** Trains (or resumes) a run to its step count, checkpointing as it goes. */
export async function runTraining(options: RunOptions): Promise<UpscalerTraining> {
  const { runDir } = options;
  await mkdir(runDir, { recursive: true });
  const settingsFile = path.join(runDir, 'settings.json');
  let settings = options.settings;
  if (existsSync(settingsFile)) {
    // A run directory keeps its settings: resuming must not change them (the step count may grow).
    const saved = UpscalerSettingsSchema.parse(JSON.parse(await readFile(settingsFile, 'utf8')));
    settings = { ...saved, steps: options.settings.steps };
  }
  const loaded = settings.adversarialSamples === undefined ? undefined : await adversarialGenerator(settings);
  const generator = loaded?.generator;
  try {
    if (loaded) settings = { ...settings, adversarialSamplesModel: loaded.model };
    await writeFileAtomically(settingsFile, JSON.stringify(settings, null, 2));
    return await trainLoop(options, settings, generator);
  } finally {
    generator?.dispose();
  }
}

/** The generator of `settings.adversarialSamples`, checked against the run's settings. */
async function adversarialGenerator(settings: UpscalerSettings): Promise<{ generator: FastGenerator; model: string }> {
  if (!(settings.adversarialWeight > 0)) throw new UpscalerSettingsError('adversarialSamples needs an adversarialWeight above 0');
  const { manifest, generator } = await loadExportedGenerator(settings.adversarialSamples!);
  const model = `${manifest.name}@${manifest.version}`;
  const problem =
    settings.adversarialSamplesModel !== undefined && settings.adversarialSamplesModel !== model
      ? `the run started with ${settings.adversarialSamplesModel}, and ${settings.adversarialSamples} now holds ${model}`
      : manifest.imageSize !== settings.config.inputSize || manifest.channels !== settings.config.channels
        ? `${model} makes ${manifest.imageSize} px images of ${manifest.channels} channels; the upscaler takes ${settings.config.inputSize} px, ${settings.config.channels}`
        : undefined;
  if (problem) {
    generator.dispose();
    throw new UpscalerSettingsError(`adversarialSamples: ${problem}`);
  }
  return { generator, model };
}

async function trainLoop(options: RunOptions, settings: UpscalerSettings, generator: FastGenerator | undefined): Promise<UpscalerTraining> {
  const { runDir, pairs, log } = options;
  const t = startTraining(settings);
  if (existsSync(path.join(runDir, 'checkpoint.json'))) {
    await restore(t, runDir, true);
    log(`resumed at step ${t.step}`);
  } else if (settings.initFrom) {
    await restore(t, settings.initFrom, false);
    log(`started from ${settings.initFrom}`);
  }
  const train = pairIndices(pairs, 'train');
  const cpu0 = process.cpuUsage();
  // Process CPU time of the run, summed over resumes (cpu-seconds.json, written with each checkpoint).
  const cpuFile = path.join(runDir, 'cpu-seconds.json');
  const cpuBefore = existsSync(cpuFile) && t.step > 0 ? (JSON.parse(await readFile(cpuFile, 'utf8')) as { seconds: number }).seconds : 0;
  const sums: StepLosses = { l1: 0, feature: 0, adversarial: 0, discriminator: 0 };
  let counted = 0;
  while (t.step < settings.steps) {
    const { x, y } = batchTensors(pairs, train, settings, t.step);
    const samples = generator ? sampleBatch(generator, settings, t.step) : undefined;
    const losses = trainStep(t, options.stage, x, y, samples);
    tf.dispose([x, y, ...(samples ? [samples] : [])]);
    for (const k of Object.keys(sums) as (keyof StepLosses)[]) sums[k] += losses[k];
    counted++;
    if (!Number.isFinite(losses.l1)) throw new Error(`step ${t.step}: the loss is ${losses.l1}`);
    if (t.step % 25 === 0 || t.step === settings.steps) {
      const cpu = process.cpuUsage(cpu0);
      const mean = (k: keyof StepLosses) => (sums[k] / counted).toFixed(4);
      const line = { step: t.step, l1: mean('l1'), feature: mean('feature'), adversarial: mean('adversarial'), d: mean('discriminator') };
      log(`${JSON.stringify(line)} cpu ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s`);
      await appendFile(path.join(runDir, 'losses.jsonl'), `${JSON.stringify(line)}\n`);
      for (const k of Object.keys(sums) as (keyof StepLosses)[]) sums[k] = 0;
      counted = 0;
    }
    if (t.step % settings.checkpointEvery === 0 || t.step === settings.steps) {
      const score = heldOutPsnr(settings.config, t.g, pairs, 64);
      log(`step ${t.step}: held-out PSNR ${score.psnr.toFixed(2)} dB (bicubic ${score.bicubicPsnr.toFixed(2)}) on ${score.images} icons`);
      await appendFile(path.join(runDir, 'psnr.jsonl'), `${JSON.stringify({ step: t.step, ...score })}\n`);
      await saveCheckpoint(runDir, t);
      const used = process.cpuUsage(cpu0);
      await writeFileAtomically(cpuFile, JSON.stringify({ seconds: cpuBefore + (used.user + used.system) / 1e6, step: t.step }));
    }
  }
  return t;
}
