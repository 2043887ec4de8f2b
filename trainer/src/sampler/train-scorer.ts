/**
 * `gan train-scorer`: trains the scorer a model version ships for candidate sampling (core's
 * scorer.ts and sampler.ts) against its frozen, exported generator.
 *
 * The scorer is model.ts's projection discriminator with spectral normalisation (biases, no batch
 * norms: it then computes the same function in training and at serving), at a small width. It learns
 * to tell the model's real training images (the data set's `train` split: the held-out split the
 * evaluation judges with never enters) from the exported generator's samples, class by class, with
 * the logistic loss, so its logit estimates log p_data(x | y) / p_G(x | y) (Azadi et al. 2019).
 *
 * - Samples are drawn fresh every step (latents from the run's sfc32 stream, classes uniform) and
 *   rounded to 8-bit pixels, as the sampler scores them at serving.
 * - Augmentation: a random horizontal flip of each image, real and generated alike. Colour jitter and
 *   cutout (DiffAugment's) would teach it to ignore palettes and fills, which is what tells the styles
 *   apart.
 * - Every 10th real training image is kept out of the scorer's training to see it generalise: the
 *   log reports the accuracy on those and on fresh samples, and their mean logits.
 * - Resumable: every `checkpointEvery` steps the weights, Adam's state, the step and the stream's
 *   state are written (atomically) to <out>/checkpoint; a run started again continues from there, and
 *   <out>/scorer holds the exportable scorer of the last checkpoint, <out>/scorers/step-N each one saved.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type FastGenerator, type NamedWeight, Sfc32 } from '@gan/core';
import { buildProjectionDiscriminator } from '@gan/core/model';
import type { ScorerArchitecture } from '@gan/core/scorer';
import { SpectralNormConv2D, settleSpectralNorms } from '@gan/core/spectral-norm';
import { writeDirectoryAtomically } from '../atomic-write.ts';
import { loadDataset } from '../data/index.ts';
import { loadExportedGenerator } from '../export/load.ts';
import { encodeScorerFiles } from '@gan/core/sampling';
import { type ScorerTraining, writeScorerDirectory } from './scorer-files.ts';

export interface TrainScorerOptions {
  model: string;
  out: string;
  width: number;
  steps: number;
  batchSize: number;
  seed: string;
  learningRate: number;
  checkpointEvery: number;
  /** Data set spec (default: the manifest's data set name). */
  data?: string;
  log: (line: string) => void;
}

const VALIDATION_EVERY = 10;
const VALIDATION_SAMPLES = 512;

interface Saved {
  step: number;
  rng: [number, number, number, number];
  seconds: number;
  tensors: { name: string; shape: number[]; offset: number }[];
}

/** Real images split: the scorer's training images and every 10th one, kept to see it generalise. */
function splitReal(count: number): { train: number[]; check: number[] } {
  const train: number[] = [];
  const check: number[] = [];
  for (let i = 0; i < count; i++) (i % VALIDATION_EVERY === VALIDATION_EVERY - 1 ? check : train).push(i);
  return { train, check };
}

/** Generator samples of `classes`, rounded to 8-bit levels, in [-1, 1]. Latents from `rng`. */
function samples(generator: FastGenerator, classes: Int32Array, rng: Sfc32): tf.Tensor4D {
  const { latentSize, numClasses } = generator.config;
  const latents = rng.fillNormal(new Float32Array(classes.length * latentSize));
  return tf.tidy(() => {
    const z = tf.tensor2d(latents, [classes.length, latentSize]);
    const input = numClasses > 0 ? tf.concat([z, tf.cast(tf.oneHot(tf.tensor1d(classes, 'int32'), numClasses), 'float32')], 1) : z;
    const images = generator.forward(input as tf.Tensor2D);
    return tf.sub(tf.div(tf.clipByValue(tf.round(tf.mul(tf.add(images, 1), 127.5)), 0, 255), 127.5), 1) as tf.Tensor4D;
  });
}

function gather(images: Float32Array, pixels: number, indices: ArrayLike<number>, shape: [number, number, number]): tf.Tensor4D {
  const out = new Float32Array(indices.length * pixels);
  for (let i = 0; i < indices.length; i++) out.set(images.subarray(indices[i] * pixels, (indices[i] + 1) * pixels), i * pixels);
  return tf.tensor4d(out, [indices.length, ...shape]);
}

/** Each image flipped left-right where `flip` is 1. */
function flipSome(images: tf.Tensor4D, flip: Float32Array): tf.Tensor4D {
  return tf.tidy(() => {
    const mask = tf.tensor4d(flip, [flip.length, 1, 1, 1]);
    return tf.add(tf.mul(tf.reverse(images, 2), mask), tf.mul(images, tf.sub(1, mask))) as tf.Tensor4D;
  });
}

function logits(scorer: tfl.LayersModel, images: tf.Tensor4D, classes: Int32Array, numClasses: number, training: boolean): tf.Tensor1D {
  const label = tf.cast(tf.oneHot(tf.tensor1d(classes, 'int32'), numClasses), 'float32');
  return tf.reshape(scorer.apply([images, label], { training }) as tf.Tensor, [-1]) as tf.Tensor1D;
}

/** The scorer's weights as shipped: each convolution's kernel divided by its spectral norm. */
export function exportedWeights(scorer: tfl.LayersModel): NamedWeight[] {
  const weights: NamedWeight[] = [];
  for (const layer of scorer.layers) {
    if (layer instanceof SpectralNormConv2D) {
      const kernel = tf.tidy(() => layer.normalisedKernel(false));
      weights.push({ name: `${layer.name}/kernel`, shape: kernel.shape, data: kernel.dataSync() as Float32Array });
      kernel.dispose();
      const bias = layer.weights.find((w) => w.originalName.endsWith('/bias'))!;
      weights.push({ name: `${layer.name}/bias`, shape: bias.shape as number[], data: bias.read().dataSync() as Float32Array });
    } else if (layer.name === 'class_embedding') {
      const kernel = layer.weights[0];
      weights.push({ name: 'class_embedding/kernel', shape: kernel.shape as number[], data: kernel.read().dataSync() as Float32Array });
    }
  }
  return weights;
}

export async function trainScorer(options: TrainScorerOptions): Promise<void> {
  const { log } = options;
  const { manifest, generator } = await loadExportedGenerator(options.model);
  const architecture: ScorerArchitecture = {
    imageSize: manifest.imageSize,
    channels: manifest.channels as 1 | 3,
    width: options.width,
    numClasses: manifest.classes.length,
  };
  const data = await loadDataset(options.data ?? manifest.dataset.name, {
    imageSize: manifest.imageSize,
    channels: manifest.channels as 1 | 3,
    split: 'train',
    log,
  });
  if (data.classNames.join() !== manifest.classes.join()) {
    throw new Error(`the data set's classes (${data.classNames.join(', ')}) are not the model's (${manifest.classes.join(', ')})`);
  }
  const pixels = manifest.imageSize * manifest.imageSize * manifest.channels;
  const shape: [number, number, number] = [manifest.imageSize, manifest.imageSize, manifest.channels];
  const { train, check } = splitReal(data.count);
  log(`scorer: ${train.length} real training images, ${check.length} kept to check it, width ${options.width}`);

  const scorer = buildProjectionDiscriminator({ ...manifest.architecture, discriminatorWidth: options.width }, 1, { spectralNorm: true });
  settleSpectralNorms(scorer);
  const optimizer = tf.train.adam(options.learningRate, 0.5, 0.999);
  const variables = scorer.trainableWeights.map((w) => w.read() as tf.Variable);
  const numClasses = architecture.numClasses;

  const checkpointDir = path.join(options.out, 'checkpoint');
  let step = 0;
  let seconds = 0;
  let rng = Sfc32.fromSeed(`${options.seed}/scorer`);
  if (existsSync(path.join(checkpointDir, 'state.json'))) {
    const saved = JSON.parse(await readFile(path.join(checkpointDir, 'state.json'), 'utf8')) as Saved;
    const bytes = await readFile(path.join(checkpointDir, 'tensors.bin'));
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const byName = new Map(saved.tensors.map((t) => [t.name, t]));
    const at = (name: string) => {
      const t = byName.get(name);
      if (!t) throw new Error(`checkpoint has no ${name}`);
      return tf.tensor(values.subarray(t.offset, t.offset + t.shape.reduce((a, b) => a * b, 1)), t.shape);
    };
    for (const w of scorer.weights) {
      const t = at(`scorer/${w.originalName}`);
      w.write(t);
      t.dispose();
    }
    // Adam's slots by position (its iteration count first), as the trainer's checkpoints keep them.
    const slots = saved.tensors.filter((t) => t.name.startsWith('adam/')).map((t) => ({ name: t.name, tensor: at(t.name) }));
    await optimizer.setWeights(slots);
    tf.dispose(slots.map((s) => s.tensor));
    step = saved.step;
    seconds = saved.seconds;
    rng = new Sfc32(saved.rng);
    log(`scorer: resumed at step ${step}`);
  }

  // Fixed checks: the kept real images and samples from their own stream.
  const checkRng = Sfc32.fromSeed(`${options.seed}/scorer-check`);
  const checkFakeClasses = Int32Array.from({ length: VALIDATION_SAMPLES }, () => checkRng.nextInt(Math.max(1, numClasses)));
  const checkFake = samples(generator, checkFakeClasses, checkRng);
  const checkReal = gather(data.images, pixels, check, shape);
  const checkRealClasses = Int32Array.from(check, (i) => data.labels[i]);
  const validation = () =>
    tf.tidy(() => {
      const real = logits(scorer, checkReal, checkRealClasses, numClasses, false);
      const fake = logits(scorer, checkFake, checkFakeClasses, numClasses, false);
      return {
        realAccuracy: tf.mean(tf.cast(tf.greater(real, 0), 'float32')).dataSync()[0],
        sampleAccuracy: tf.mean(tf.cast(tf.lessEqual(fake, 0), 'float32')).dataSync()[0],
        realLogit: tf.mean(real).dataSync()[0],
        sampleLogit: tf.mean(fake).dataSync()[0],
      };
    });

  const save = async () => {
    const entries: { name: string; data: Float32Array; shape: number[] }[] = [];
    for (const w of scorer.weights)
      entries.push({ name: `scorer/${w.originalName}`, data: w.read().dataSync() as Float32Array, shape: w.shape as number[] });
    const slots = await optimizer.getWeights();
    for (const [i, s] of slots.entries())
      entries.push({ name: `adam/${String(i).padStart(4, '0')}`, data: s.tensor.dataSync() as Float32Array, shape: s.tensor.shape });
    slots[0]?.tensor.dispose();
    let offset = 0;
    const tensors = entries.map((e) => {
      const t = { name: e.name, shape: e.shape, offset };
      offset += e.data.length;
      return t;
    });
    const all = new Float32Array(offset);
    for (const [i, e] of entries.entries()) all.set(e.data, tensors[i].offset);
    const state: Saved = { step, rng: rng.getState(), seconds, tensors };
    await mkdir(options.out, { recursive: true });
    await writeDirectoryAtomically(checkpointDir, [
      ['tensors.bin', new Uint8Array(all.buffer)],
      ['state.json', JSON.stringify(state)],
    ]);
    const v = validation();
    const training: ScorerTraining = {
      model: { name: manifest.name, version: manifest.version },
      data: `${options.data ?? manifest.dataset.name} (train split, every ${VALIDATION_EVERY}th image kept out)`,
      steps: step,
      batchSize: options.batchSize,
      seed: options.seed,
      seconds: Math.round(seconds),
      loss: 'bce',
      augment: ['flip'],
      validation: v,
    };
    const files = encodeScorerFiles(architecture, { ...training }, exportedWeights(scorer));
    await writeScorerDirectory(path.join(options.out, 'scorer'), files);
    // Each saved scorer stays: the one that generalises best need not be the last.
    await writeScorerDirectory(path.join(options.out, 'scorers', `step-${String(step).padStart(6, '0')}`), files);
    log(
      `scorer: step ${step} saved; kept real ${(v.realAccuracy * 100).toFixed(1)} % right (mean logit ${v.realLogit.toFixed(3)}), ` +
        `fresh samples ${(v.sampleAccuracy * 100).toFixed(1)} % right (mean logit ${v.sampleLogit.toFixed(3)})`,
    );
  };

  const n = options.batchSize;
  let window = 0;
  let windowSteps = 0;
  while (step < options.steps) {
    const started = process.cpuUsage();
    const realIndices = Int32Array.from({ length: n }, () => train[rng.nextInt(train.length)]);
    const realClasses = Int32Array.from(realIndices, (i) => data.labels[i]);
    const fakeClasses = Int32Array.from({ length: n }, () => rng.nextInt(Math.max(1, numClasses)));
    const fake = samples(generator, fakeClasses, rng);
    const flipReal = Float32Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
    const flipFake = Float32Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
    const loss = tf.tidy(() => {
      const real = flipSome(gather(data.images, pixels, realIndices, shape), flipReal);
      const fakes = flipSome(fake, flipFake);
      return optimizer.minimize(
        () => {
          const r = logits(scorer, real, realClasses, numClasses, true);
          const f = logits(scorer, fakes, fakeClasses, numClasses, true);
          // Logistic loss: softplus(-D(real)) + softplus(D(fake)).
          return tf.add(tf.mean(tf.softplus(tf.neg(r))), tf.mean(tf.softplus(f))) as tf.Scalar;
        },
        true,
        variables,
      ) as tf.Scalar;
    });
    fake.dispose();
    window += loss.dataSync()[0];
    loss.dispose();
    windowSteps++;
    step++;
    const used = process.cpuUsage(started);
    seconds += (used.user + used.system) / 1e6;
    if (step % 50 === 0) {
      log(`scorer: step ${step} loss ${(window / windowSteps).toFixed(4)} (${seconds.toFixed(0)} s of CPU so far)`);
      window = 0;
      windowSteps = 0;
    }
    if (step % options.checkpointEvery === 0 || step === options.steps) await save();
  }
  checkFake.dispose();
  checkReal.dispose();
}
