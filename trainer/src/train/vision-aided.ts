/**
 * A vision-aided discriminator (Kumari et al. 2022, "Ensembling Off-the-shelf Models for GAN
 * Training"; Sauer et al. 2021, Projected GANs): a second judge, trained beside the run's own D, that
 * looks at images through a frozen pretrained network (frozen-mobilenet.ts: nsfwjs's MobileNetV2,
 * ImageNet-initialised and fine-tuned by its authors on a 5-class content task, at strides 8 and 16)
 * with small trainable heads on its features. The features already separate what
 * the emoji styles differ in (palettes, flat against shaded fills, outline weight), which a D learning
 * from 1912 images has to discover by itself and tends to memorise instead.
 *
 * Each head, on features F [N, h, w, C] of one depth, with the class c of each image:
 *
 *   H = LeakyReLU₀.₂(conv3×3(F) + b₁)                  [N, h, w, 64]
 *   logit(x, c)[p] = conv1×1(H)[p] + b₂ + ⟨H[p], E[c]⟩   one logit per position p (projection, Miyato & Koyama 2018)
 *
 * Losses (hinge, over every position of every head, averaged over heads):
 *   heads: mean relu(1 − logit(real)) + mean relu(1 + logit(fake))      (their own Adam, `adam_v/…`)
 *   G:     λ·r(t)·(−mean logit(fake))                                   added to G's own loss
 * where r(t) = min(1, t / warm-up) ramps G's share in over the first steps of the run, while the fresh
 * heads learn to tell real from fake (a head that knows nothing only adds noise to G's gradient).
 *
 * The images are the ones the run's own D sees, with the same DiffAugment draws. The heads' fakes are
 * G's detached output; G's term differentiates through the frozen network (its weights never train;
 * DepthwiseConv2dNativeBackpropInput is the project's kernel on WASM).
 *
 * Checkpoints hold the heads as `vision/<name>` and their Adam state as `adam_v/NNNN`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedArray } from './checkpoint.ts';
import type { FrozenFeatureNetwork } from './frozen-mobilenet.ts';

/** Channels of each head's hidden layer. */
export const VISION_HEAD_WIDTH = 64;
/** Checkpoint prefix of the heads' weights. */
export const VISION_PREFIX = 'vision';

/** A checkpoint that lacks the heads a vision-aided run needs. */
export class VisionCheckpointError extends Error {
  override name = 'VisionCheckpointError';
}

interface Head {
  kernel: tf.Variable; // [3, 3, C, 64]
  bias: tf.Variable; // [64]
  out: tf.Variable; // [1, 1, 64, 1]
  outBias: tf.Variable; // [1]
  embedding?: tf.Variable; // [K, 64]
}

/** The trainable heads on a frozen network's features. */
export class VisionHeads {
  private constructor(
    private readonly heads: Head[],
    readonly numClasses: number,
  ) {}

  /** Fresh heads: He-normal kernels from `seed`, zero biases and class embedding. */
  static initial(network: FrozenFeatureNetwork, numClasses: number, seed: number): VisionHeads {
    const heads = network.outputs.map(({ channels }, i) => {
      const s = seed + 7919 * i;
      const he = (shape: number[], fanIn: number, k: number) =>
        tf.variable(tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', s + k));
      return {
        kernel: he([3, 3, channels, VISION_HEAD_WIDTH], 9 * channels, 1),
        bias: tf.variable(tf.zeros([VISION_HEAD_WIDTH])),
        out: he([1, 1, VISION_HEAD_WIDTH, 1], VISION_HEAD_WIDTH, 2),
        outBias: tf.variable(tf.zeros([1])),
        embedding: numClasses > 0 ? tf.variable(tf.zeros([numClasses, VISION_HEAD_WIDTH])) : undefined,
      };
    });
    return new VisionHeads(heads, numClasses);
  }

  /** Name → variable, in a fixed order (the optimiser's slots follow it). */
  named(): [string, tf.Variable][] {
    return this.heads.flatMap((h, i) => {
      const p = `${VISION_PREFIX}/head${i}`;
      const out: [string, tf.Variable][] = [
        [`${p}/kernel`, h.kernel],
        [`${p}/bias`, h.bias],
        [`${p}/out`, h.out],
        [`${p}/out_bias`, h.outBias],
      ];
      if (h.embedding) out.push([`${p}/embedding`, h.embedding]);
      return out;
    });
  }

  variables(): tf.Variable[] {
    return this.named().map(([, v]) => v);
  }

  /** Per head, logits [N, h·w] for features at each depth; labels for conditional heads. */
  logits(features: tf.Tensor4D[], labels?: ArrayLike<number>): tf.Tensor2D[] {
    return tf.tidy(() => this.logitsUntidied(features, labels));
  }

  private logitsUntidied(features: tf.Tensor4D[], labels?: ArrayLike<number>): tf.Tensor2D[] {
    return features.map((f, i) => {
      const h = this.heads[i];
      const [n, height, width] = f.shape;
      const hidden = tf.leakyRelu(tf.add(tf.conv2d(f, h.kernel as tf.Tensor4D, 1, 'same'), h.bias), 0.2) as tf.Tensor4D;
      let logit = tf.reshape(tf.add(tf.conv2d(hidden, h.out as tf.Tensor4D, 1, 'same'), h.outBias), [n, height * width]);
      if (h.embedding) {
        if (!labels || labels.length !== n) throw new RangeError(`conditional vision heads need ${n} labels`);
        // A one-hot product rather than a gather: gather's gradient (UnsortedSegmentSum) is not on WASM.
        const e = tf.matMul(tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), this.numClasses), h.embedding); // [N, 64]
        const projection = tf.sum(tf.mul(hidden, tf.reshape(e, [n, 1, 1, VISION_HEAD_WIDTH])), 3); // [N, h, w]
        logit = tf.add(logit, tf.reshape(projection, [n, height * width]));
      }
      return logit as tf.Tensor2D;
    });
  }

  saved(): NamedArray[] {
    return this.named().map(([name, v]) => ({ name, shape: v.shape, data: v.dataSync() as Float32Array }));
  }

  /** Puts back a checkpoint's heads; throws VisionCheckpointError when one is missing or of another shape. */
  restore(tensors: Map<string, NamedArray>): void {
    for (const [name, v] of this.named()) {
      const saved = tensors.get(name);
      if (!saved || saved.shape.join() !== v.shape.join())
        throw new VisionCheckpointError(`the checkpoint has no ${name} of shape [${v.shape}] for this run's vision-aided discriminator`);
      tf.tidy(() => v.assign(tf.tensor(saved.data, saved.shape)));
    }
  }

  dispose(): void {
    tf.dispose(this.variables());
  }
}

const mean = (ts: tf.Tensor[]) => tf.div(tf.addN(ts.map((t) => tf.mean(t))), ts.length) as tf.Scalar;

/** The heads' hinge loss: mean relu(1 − real) + mean relu(1 + fake), averaged over heads. */
export function visionDiscriminatorLoss(real: tf.Tensor2D[], fake: tf.Tensor2D[]): tf.Scalar {
  return tf.add(mean(real.map((r) => tf.relu(tf.sub(1, r)))), mean(fake.map((f) => tf.relu(tf.add(1, f))))) as tf.Scalar;
}

/** G's hinge loss on the heads: −mean logit(fake), averaged over heads. */
export function visionGeneratorLoss(fake: tf.Tensor2D[]): tf.Scalar {
  return tf.neg(mean(fake)) as tf.Scalar;
}

/** G's weight at step `step` (0-based): λ·min(1, step / warm-up). */
export function visionGeneratorWeight(weight: number, warmup: number, step: number): number {
  return warmup <= 0 ? weight : weight * Math.min(1, step / warmup);
}

/** What a training step needs of the branch: the network, the heads and their optimiser. */
export interface VisionBranch {
  network: FrozenFeatureNetwork;
  heads: VisionHeads;
  optimizer: tf.Optimizer;
}

/**
 * One update of the heads on a real and a fake batch (augmented as D saw them; the fakes detached).
 * Features are computed outside the optimiser's tape: nothing upstream of the heads trains here.
 * Returns the heads' loss before the update.
 */
export async function visionHeadsStep(
  branch: VisionBranch,
  real: tf.Tensor4D,
  fake: tf.Tensor4D,
  realLabels?: ArrayLike<number>,
  fakeLabels?: ArrayLike<number>,
): Promise<number> {
  const features: tf.Tensor4D[] = [];
  try {
    const realFeatures = branch.network.apply(real, false);
    features.push(...realFeatures);
    const fakeFeatures = branch.network.apply(fake, false);
    features.push(...fakeFeatures);
    const value = tf.tidy(
      () =>
        branch.optimizer.minimize(
          () => visionDiscriminatorLoss(branch.heads.logits(realFeatures, realLabels), branch.heads.logits(fakeFeatures, fakeLabels)),
          true,
          branch.heads.variables(),
        ) as tf.Scalar,
    );
    const loss = (await value.data())[0];
    value.dispose();
    return loss;
  } finally {
    tf.dispose(features);
  }
}
