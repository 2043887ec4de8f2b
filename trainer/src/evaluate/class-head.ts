/**
 * How D's class head (the AC-GAN head of `gan train --class-loss`) sorts images: the share of held-out
 * real images of each class it puts in their class, the share of G's images asked for each class it
 * puts there, and, for a head with the generated class (`--fake-class`), the share it calls generated.
 *
 * The class loss asks G for images this head puts in their class. When the head calls G's images
 * their class far more often than it gets real ones right, or than an independent judge does, G is
 * meeting it with features no real image of the class has (docs/training.md, "A generated class").
 *
 * Both networks run as the training step runs them: training mode (batch statistics over batches
 * that mix the classes), G's raw weights (the ones the class loss trains, not the exported average),
 * no augmentation. Training mode moves batch-norm moving averages, so both networks' are put back
 * afterwards (step.ts's holdingStatistics): the report leaves the run's state as it found it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Sfc32 } from '@gan/core/prng';
import type { Dataset } from '../data/index.ts';
import { type GanModels, discriminatorInputs, generatorInputTensor, holdingStatistics } from '../train/step.ts';

/** A run whose D has no class head: it trained without --class-loss. */
export class NoClassHeadError extends Error {
  override name = 'NoClassHeadError';
}

export interface ClassHeadOptions {
  /** Images G draws for each class. */
  samplesPerClass: number;
  /** At most this many held-out real images of each class, the first in source order. */
  realPerClass: number;
  /** Images per batch (the run's batch size keeps batch statistics as in training). */
  batchSize: number;
  /** Seed of G's noise. */
  seed: string;
}

export interface ClassHeadReport {
  classNames: string[];
  /** Whether the head has the generated class (K + 1 logits). */
  generatedClass: boolean;
  /** Held-out real images: how many of each class, and the share the head puts in their class. */
  real: { counts: number[]; inClass: number[]; overall: number };
  /** G's images asked for each class: the share the head puts in that class, and (with the generated class) calls generated. */
  generated: { perClass: number; inClass: number[]; overall: number; calledGenerated?: number[] };
}

/** Class i's images in a round-robin order, so that every batch mixes the classes as training batches do. */
function interleaved(byClass: number[][]): number[] {
  const order: number[] = [];
  const longest = Math.max(0, ...byClass.map((c) => c.length));
  for (let i = 0; i < longest; i++) for (const c of byClass) if (i < c.length) order.push(c[i]);
  return order;
}

/**
 * [start, end) of ⌈n / size⌉ batches whose sizes differ by at most one: in training mode a batch is
 * normalised by its own statistics, and a last batch of one or two images would be normalised by nothing.
 */
function evenBatches(n: number, size: number): [number, number][] {
  const count = Math.ceil(n / size);
  return Array.from({ length: count }, (_, b) => [Math.floor((b * n) / count), Math.floor(((b + 1) * n) / count)]);
}

/** The head's arg-max class for each image of one batch (synchronous: the batch-norm statistics are held around it). */
function headClasses(models: GanModels, images: tf.Tensor4D, labels: number[]): Int32Array {
  const predicted = tf.tidy(() => {
    const out = models.discriminator.apply(discriminatorInputs(models, images, labels), { training: true });
    if (!Array.isArray(out) || out.length < 2) throw new NoClassHeadError('this run trained without --class-loss: its D has no class head');
    return tf.argMax(out[1] as tf.Tensor2D, 1);
  });
  const values = predicted.dataSync() as Int32Array;
  predicted.dispose();
  return values;
}

export function classHeadReport(models: GanModels, heldout: Dataset, options: ClassHeadOptions): ClassHeadReport {
  return holdingStatistics(models.generator, () => holdingStatistics(models.discriminator, () => report(models, heldout, options)));
}

function report(models: GanModels, heldout: Dataset, options: ClassHeadOptions): ClassHeadReport {
  const { config } = models;
  const K = config.numClasses;
  if (K === 0) throw new NoClassHeadError('an unconditional run has no class head');
  if (heldout.classNames.length !== K) throw new RangeError(`the held-out images have ${heldout.classNames.length} classes, the run ${K}`);
  const head = models.discriminator.outputs[1];
  if (!head) throw new NoClassHeadError('this run trained without --class-loss: its D has no class head');
  const generatedClass = head.shape[1] === K + 1;
  const pixels = config.imageSize * config.imageSize * config.channels;
  const shape = (n: number): [number, number, number, number] => [n, config.imageSize, config.imageSize, config.channels];

  const byClass = Array.from({ length: K }, () => [] as number[]);
  heldout.labels.forEach((label, i) => {
    if (byClass[label].length < options.realPerClass) byClass[label].push(i);
  });
  const realOrder = interleaved(byClass);
  const realHits = new Array<number>(K).fill(0);
  for (const [start, end] of evenBatches(realOrder.length, options.batchSize)) {
    const batch = realOrder.slice(start, end);
    const data = new Float32Array(batch.length * pixels);
    batch.forEach((i, j) => {
      data.set(heldout.images.subarray(i * pixels, (i + 1) * pixels), j * pixels);
    });
    const labels = batch.map((i) => heldout.labels[i]);
    const images = tf.tensor4d(data, shape(batch.length));
    const predicted = headClasses(models, images, labels);
    images.dispose();
    labels.forEach((label, j) => {
      if (predicted[j] === label) realHits[label]++;
    });
  }

  const rng = Sfc32.fromSeed(options.seed);
  const total = options.samplesPerClass * K;
  const inClass = new Array<number>(K).fill(0);
  const calledGenerated = new Array<number>(K).fill(0);
  for (const [start, end] of evenBatches(total, options.batchSize)) {
    const n = end - start;
    const labels = Array.from({ length: n }, (_, j) => (start + j) % K);
    const noise = rng.fillNormal(new Float32Array(n * config.latentSize));
    const images = tf.tidy(() => models.generator.apply(generatorInputTensor(config, noise, labels), { training: true }) as tf.Tensor4D);
    const predicted = headClasses(models, images, labels);
    images.dispose();
    labels.forEach((label, j) => {
      if (predicted[j] === label) inClass[label]++;
      if (predicted[j] === K) calledGenerated[label]++;
    });
  }

  const counts = byClass.map((c) => c.length);
  const share = (hits: number[], of: (k: number) => number) => hits.map((h, k) => (of(k) > 0 ? h / of(k) : 0));
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return {
    classNames: heldout.classNames,
    generatedClass,
    real: { counts, inClass: share(realHits, (k) => counts[k]), overall: sum(realHits) / Math.max(1, sum(counts)) },
    generated: {
      perClass: options.samplesPerClass,
      inClass: share(inClass, () => options.samplesPerClass),
      overall: sum(inClass) / Math.max(1, total),
      ...(generatedClass && { calledGenerated: share(calledGenerated, () => options.samplesPerClass) }),
    },
  };
}
