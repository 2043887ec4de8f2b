/**
 * One iteration of the seed article's alternating optimisation, as two pure-ish functions over
 * (models, optimiser, batch): they change only the weights and optimiser state of the network they
 * train, and return the quantities the article logs.
 *
 *   discriminatorStep: hold G fixed; D learns real → 1, G(z) → 0 (BCE on logits; G(z) detached)
 *   generatorStep:     hold D fixed; G learns, from fresh noise, to make D say 1 (non-saturating loss)
 *
 * With a class loss weight λ > 0 (AC-GAN, Odena et al. 2017; D then has a class head, model.ts) D also
 * minimises λ·CE(class head(x), class of x) on the real batch, and G minimises λ·CE(class head(G(z, c)), c):
 * G is rewarded for images whose class D can tell, not only for images D takes for real. D's class head
 * learns from real images only, so it cannot learn to call bad fakes a class: G can satisfy it with
 * features no real image of the class has. A head with the generated class (K + 1 logits, model.ts)
 * also learns λ·CE(class head(G(z, c)), K) on the fake batch, and G's term is then over all K + 1.
 *
 * With a LeCam term (lecam.ts) D also minimises λ·R, which pulls its real and fake logits towards the
 * moving averages of the other's.
 *
 * With a vision-aided branch (vision-aided.ts) its heads take one step on the batch D saw, after D's,
 * and G also minimises λ·r(t)·(−mean head logit) through the frozen feature network.
 *
 * With statistics matching (statistics-matching.ts) G also minimises λ·L of its raw samples (before
 * any augmentation): their colour and gradient statistics against the real images', class by class.
 * The reported g_loss includes every term G minimises.
 *
 * "Held fixed" includes batch-norm statistics: the held network runs in training mode (batch
 * statistics, as in PyTorch's train()) but its moving averages are restored afterwards, so each step
 * moves exactly one network.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import type { ModelConfig } from '@gan/core/config';
import type { DiscriminatorConditioning } from '@gan/core/model';
import { type AugmentationDraw, applyAugmentation } from './augment.ts';
import { type LeCamTerm, lecamPenalty } from './lecam.ts';
import type { StatisticsMatching } from './statistics-matching.ts';
import { type VisionBranch, visionGeneratorLoss, visionHeadsStep } from './vision-aided.ts';

export interface GanModels {
  config: ModelConfig;
  generator: tfl.LayersModel;
  discriminator: tfl.LayersModel;
  /** How `discriminator` takes the class (it was built for it); absent: class planes on the image. */
  conditioning?: DiscriminatorConditioning;
  /** Whether `discriminator`'s class head was built with the generated class (model.ts, `fakeClass`). */
  fakeClass?: boolean;
}

export const AdamSettingsSchema = z.object({
  learningRate: z.number().positive(),
  beta1: z.number().min(0).lt(1),
  beta2: z.number().min(0).lt(1),
  epsilon: z.number().positive(),
});
export type AdamSettings = z.infer<typeof AdamSettingsSchema>;

/** The article's optimiser: Adam, lr 2e-4, betas (0.5, 0.999); PyTorch's epsilon. */
export const ARTICLE_ADAM: AdamSettings = { learningRate: 2e-4, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 };

/**
 * The adversarial objective. `bce` is the article's: D minimises binary cross-entropy on real → 1,
 * fake → 0 and G the non-saturating BCE(D(G(z)), 1). `hinge` (Lim & Ye 2017; Miyato et al. 2018):
 * D minimises mean(relu(1 − D(x))) + mean(relu(1 + D(G(z)))) and G minimises −mean(D(G(z))); D stops
 * pushing on samples it already separates by a margin, which keeps its gradients to G informative.
 */
export const GanLossSchema = z.enum(['bce', 'hinge']);
export type GanLoss = z.infer<typeof GanLossSchema>;

export function createAdam(settings: AdamSettings): tf.AdamOptimizer {
  return tf.train.adam(settings.learningRate, settings.beta1, settings.beta2, settings.epsilon);
}

export interface DiscriminatorBatch {
  /** [N, S, S, C] real images in [-1, 1]. */
  real: tf.Tensor4D;
  /** Class of each real image (conditional models only). */
  realLabels?: ArrayLike<number>;
  /** [N · latentSize] standard normal noise for the fake half. */
  noise: Float32Array;
  /** Class asked of G for each fake (conditional models only). */
  fakeLabels?: ArrayLike<number>;
  /** DiffAugment transforms for the real and the fake images (see augment.ts); none when absent. */
  realAugmentation?: AugmentationDraw;
  fakeAugmentation?: AugmentationDraw;
}

export interface DiscriminatorStepResult {
  /** D's objective before the update: BCE(D(x), 1) + BCE(D(G(z)), 0), or the hinge form (+ λ·class loss, + λ·LeCam). */
  d_loss: number;
  /** Mean sigmoid(D(x)) on the real batch. */
  d_x: number;
  /** Mean sigmoid(D(G(z))) on the fake batch, before D's update. */
  d_g_z: number;
  /** Mean logit D(x) and D(G(z)) before the update: what the LeCam anchors average. */
  realLogit: number;
  fakeLogit: number;
  /** The vision-aided heads' hinge loss before their update (vision-aided.ts), when the run has them. */
  dv_loss?: number;
}

export interface GeneratorBatch {
  /** [N · latentSize] fresh noise. */
  noise: Float32Array;
  labels?: ArrayLike<number>;
  /** DiffAugment transforms for the fakes before D judges them; G's gradient flows through them. */
  augmentation?: AugmentationDraw;
}

export interface GeneratorStepResult {
  /** G's objective: the non-saturating BCE(D(G(z)), 1), or −mean D(G(z)) with the hinge loss (+ λ·class loss, + the vision-aided term). */
  g_loss: number;
  /** Mean sigmoid(D(G(z))) during G's step (after D's update). */
  d_g_z: number;
}

/** [N, latent + classes]: noise rows with the one-hot class appended on conditional models. */
export function generatorInputTensor(config: ModelConfig, noise: Float32Array, labels?: ArrayLike<number>): tf.Tensor2D {
  const n = noise.length / config.latentSize;
  if (!Number.isInteger(n)) throw new RangeError(`noise length ${noise.length} is not a multiple of latentSize ${config.latentSize}`);
  const z = tf.tensor2d(noise, [n, config.latentSize]);
  if (config.numClasses === 0) return z;
  return tf.tidy(() => tf.concat([z, oneHot(config, labels, n)], 1));
}

function oneHot(config: ModelConfig, labels: ArrayLike<number> | undefined, n: number): tf.Tensor2D {
  if (!labels || labels.length !== n) throw new RangeError(`a conditional model needs ${n} labels`);
  return tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), config.numClasses) as tf.Tensor2D;
}

/** [N, S, S, C + K]: images with K constant class planes appended on conditional models. */
export function discriminatorInputTensor(config: ModelConfig, images: tf.Tensor4D, labels?: ArrayLike<number>): tf.Tensor4D {
  if (config.numClasses === 0) return images;
  return tf.tidy(() => {
    const [n, h, w] = images.shape;
    const planes = tf.tile(tf.reshape(oneHot(config, labels, n), [n, 1, 1, config.numClasses]), [1, h, w, 1]);
    return tf.concat([images, planes], 3) as tf.Tensor4D;
  });
}

/**
 * What D is applied to: the image with class planes, or [image, one-hot class] for a projection
 * discriminator. Labels are those of the images: the real ones' classes, or the class G was asked for.
 */
export function discriminatorInputs(models: GanModels, images: tf.Tensor4D, labels?: ArrayLike<number>): tf.Tensor | tf.Tensor[] {
  const { config, conditioning } = models;
  if (conditioning !== 'projection' || config.numClasses === 0) return discriminatorInputTensor(config, images, labels);
  return [images, oneHot(config, labels, images.shape[0])];
}

/** D's outputs: the real/fake logit, and the class logits when D has a class head. */
function judge(models: GanModels, input: tf.Tensor | tf.Tensor[]): { logits: tf.Tensor2D; classLogits?: tf.Tensor2D } {
  const out = models.discriminator.apply(input, { training: true }) as tf.Tensor2D | tf.Tensor2D[];
  return Array.isArray(out) ? { logits: out[0], classLogits: out[1] } : { logits: out };
}

/**
 * λ·CE(class logits, the labels' classes); a class loss asked of D without a class head is a programming
 * error. The one-hot has the head's width: K, or K + 1 for a head with the generated class.
 */
function classLoss(weight: number, classLogits: tf.Tensor2D | undefined, labels: ArrayLike<number> | undefined): tf.Scalar | undefined {
  if (weight === 0) return undefined;
  if (!classLogits) throw new RangeError('a class loss needs a discriminator built with a class head');
  const [n, classes] = classLogits.shape;
  if (!labels || labels.length !== n) throw new RangeError(`a class loss needs ${n} labels`);
  const target = tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), classes);
  return tf.mul(weight, tf.losses.softmaxCrossEntropy(target, classLogits)) as tf.Scalar;
}

/**
 * D's class loss on G's images when its head has the generated class (model.ts, `fakeClass`): every
 * fake is labelled K, the last logit. Undefined for a head of K logits, which learns from real images only.
 */
function generatedClassLoss(models: GanModels, weight: number, classLogits: tf.Tensor2D | undefined): tf.Scalar | undefined {
  if (!models.fakeClass) return undefined;
  const K = models.config.numClasses;
  if (!classLogits || classLogits.shape[1] !== K + 1)
    throw new RangeError(`a generated class needs a class head of ${K + 1} logits, not ${classLogits?.shape[1] ?? 'none'}`);
  return classLoss(weight, classLogits, new Array<number>(classLogits.shape[0]).fill(K));
}

const plus = (a: tf.Scalar, b: tf.Scalar | undefined) => (b ? (tf.add(a, b) as tf.Scalar) : a);

function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Runs `fn` and then puts `model`'s batch-norm moving averages back as they were. */
export function holdingStatistics<T>(model: tfl.LayersModel, fn: () => T): T {
  const stats = model.nonTrainableWeights;
  const saved = stats.map((w) => tf.clone(w.read()));
  try {
    return fn();
  } finally {
    stats.forEach((w, i) => {
      w.write(saved[i]);
    });
    tf.dispose(saved);
  }
}

const bce = (labels: tf.Tensor, logits: tf.Tensor) => tf.losses.sigmoidCrossEntropy(labels, logits) as tf.Scalar;

function discriminatorLoss(loss: GanLoss, realLogits: tf.Tensor, fakeLogits: tf.Tensor): tf.Scalar {
  if (loss === 'hinge') return tf.add(tf.mean(tf.relu(tf.sub(1, realLogits))), tf.mean(tf.relu(tf.add(1, fakeLogits))));
  return tf.add(bce(tf.onesLike(realLogits), realLogits), bce(tf.zerosLike(fakeLogits), fakeLogits));
}

function generatorLoss(loss: GanLoss, fakeLogits: tf.Tensor): tf.Scalar {
  if (loss === 'hinge') return tf.neg(tf.mean(fakeLogits)) as tf.Scalar;
  return bce(tf.onesLike(fakeLogits), fakeLogits);
}

const augmented = (images: tf.Tensor4D, draw?: AugmentationDraw) => (draw ? applyAugmentation(images, draw) : images);

async function read(scalars: tf.Scalar[]): Promise<number[]> {
  const values = await Promise.all(scalars.map((s) => s.data()));
  tf.dispose(scalars);
  return values.map((v) => v[0]);
}

export async function discriminatorStep(
  models: GanModels,
  optimizer: tf.Optimizer,
  batch: DiscriminatorBatch,
  loss: GanLoss = 'bce',
  classLossWeight = 0,
  lecam?: LeCamTerm,
  vision?: VisionBranch,
): Promise<DiscriminatorStepResult> {
  const { config, generator, discriminator } = models;
  const n = batch.real.shape[0];
  // G(z) outside the optimiser's tape: detached, as the article's fake.detach().
  if (batch.noise.length !== n * config.latentSize)
    throw new RangeError(`noise for ${batch.noise.length / config.latentSize} images, real batch of ${n}`);
  const fake = holdingStatistics(generator, () =>
    tf.tidy(() => generator.apply(generatorInputTensor(config, batch.noise, batch.fakeLabels), { training: true }) as tf.Tensor4D),
  );
  let dx: tf.Scalar | undefined;
  let dgz: tf.Scalar | undefined;
  let realLogit: tf.Scalar | undefined;
  let fakeLogit: tf.Scalar | undefined;
  // The images D sees (the vision-aided heads too): augmented once; the class is added after, to D's copy only.
  const [realSeen, fakeSeen] = tf.tidy(() => [
    tf.clone(augmented(batch.real, batch.realAugmentation)),
    tf.clone(augmented(fake, batch.fakeAugmentation)),
  ]);
  const value = tf.tidy(() => {
    const realIn = discriminatorInputs(models, realSeen, batch.realLabels);
    const fakeIn = discriminatorInputs(models, fakeSeen, batch.fakeLabels);
    return optimizer.minimize(
      () => {
        // Real and fake go through D separately (two batch-norm batches), as in the article.
        const realJudged = judge(models, realIn);
        const fakeJudged = judge(models, fakeIn);
        dx = tf.keep(tf.mean(tf.sigmoid(realJudged.logits)) as tf.Scalar);
        dgz = tf.keep(tf.mean(tf.sigmoid(fakeJudged.logits)) as tf.Scalar);
        realLogit = tf.keep(tf.mean(realJudged.logits) as tf.Scalar);
        fakeLogit = tf.keep(tf.mean(fakeJudged.logits) as tf.Scalar);
        const adversarial = discriminatorLoss(loss, realJudged.logits, fakeJudged.logits);
        const withRealClasses = plus(adversarial, classLoss(classLossWeight, realJudged.classLogits, batch.realLabels));
        const withClasses = plus(withRealClasses, generatedClassLoss(models, classLossWeight, fakeJudged.classLogits));
        return plus(withClasses, lecam && lecamPenalty(lecam, realJudged.logits, fakeJudged.logits));
      },
      true,
      trainableVariables(discriminator),
    ) as tf.Scalar;
  });
  let dv_loss: number | undefined;
  try {
    // The heads see what D saw: the same augmented images, the same detached fakes.
    if (vision) dv_loss = await visionHeadsStep(vision, realSeen, fakeSeen, batch.realLabels, batch.fakeLabels);
  } catch (e) {
    tf.dispose([value, dx!, dgz!, realLogit!, fakeLogit!]);
    throw e;
  } finally {
    tf.dispose([fake, realSeen, fakeSeen]);
  }
  const [d_loss, d_x, d_g_z, meanRealLogit, meanFakeLogit] = await read([value, dx!, dgz!, realLogit!, fakeLogit!]);
  return { d_loss, d_x, d_g_z, realLogit: meanRealLogit, fakeLogit: meanFakeLogit, ...(dv_loss !== undefined && { dv_loss }) };
}

export async function generatorStep(
  models: GanModels,
  optimizer: tf.Optimizer,
  batch: GeneratorBatch,
  loss: GanLoss = 'bce',
  classLossWeight = 0,
  /** The vision-aided heads and the weight of G's term on them at this step (0: left out). */
  vision?: { branch: VisionBranch; weight: number },
  /** Per-class matching of colour and gradient statistics on G's raw samples (statistics-matching.ts). */
  statistics?: StatisticsMatching,
): Promise<GeneratorStepResult> {
  const { config, generator, discriminator } = models;
  let dgz: tf.Scalar | undefined;
  const value = holdingStatistics(discriminator, () =>
    tf.tidy(() => {
      const input = generatorInputTensor(config, batch.noise, batch.labels);
      return optimizer.minimize(
        () => {
          const raw = generator.apply(input, { training: true }) as tf.Tensor4D;
          const fake = augmented(raw, batch.augmentation);
          const judged = judge(models, discriminatorInputs(models, fake, batch.labels));
          dgz = tf.keep(tf.mean(tf.sigmoid(judged.logits)) as tf.Scalar);
          const adversarial = plus(generatorLoss(loss, judged.logits), classLoss(classLossWeight, judged.classLogits, batch.labels));
          const own = plus(adversarial, statistics?.loss(raw, batch.labels));
          if (!vision || vision.weight === 0) return own;
          const { network, heads } = vision.branch;
          const visionLoss = visionGeneratorLoss(heads.logits(network.apply(fake, true), batch.labels));
          return plus(own, tf.mul(vision.weight, visionLoss) as tf.Scalar);
        },
        true,
        trainableVariables(generator),
      ) as tf.Scalar;
    }),
  );
  const [g_loss, d_g_z] = await read([value, dgz!]);
  return { g_loss, d_g_z };
}
