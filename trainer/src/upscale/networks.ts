/**
 * The networks the upscaler is trained with: the upscaler itself as variables (core's forward runs on
 * them), its discriminator, and the fixed feature network of the feature loss.
 *
 * - Discriminator: a PatchGAN (Isola et al. 2017) on the 4×-size image: four 4×4 stride-2
 *   convolutions with leaky ReLU (widths 16, 32, 64, 64), then a 3×3 convolution to one logit per
 *   8×8 patch (each sees ~70 px of the 128-px image). ~23 M multiply-adds per image, a little more
 *   than the upscaler. No batch norm: the batches are small.
 * - Feature network: the first stage of ImageNet MobileNetV2 (nsfwjs's weights, evaluate/imagenet.ts):
 *   Conv1 (3×3, stride 2, 32 filters) + its batch norm + ReLU6, on images in [0, 1]. Only this stage:
 *   the next layers are depthwise convolutions, whose input gradient the WASM backend did not have when
 *   this loss was chosen (core's kernel provides it now; a deeper feature loss has not been tried).
 *   These are ImageNet's edge and colour detectors at half the image's resolution, so the loss weighs
 *   edges' shape and contrast rather than per-pixel values.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type UpscalerConfig, type UpscalerParams, isRefineOutput, upscalerKernelShapes, upscalerLayerNames } from '@gan/core/upscaler';
import { type LocateOptions, locateNsfwjs, ownArrayBuffer, readPackagedMobileNet } from '../evaluate/imagenet.ts';

/**
 * He-normal initial kernels (variance 2 / fan-in), zero biases; the pixel-shuffled layer's kernel ×0.1
 * so training starts near bilinear, and each refinement's last kernel zero, so a refinement added to a
 * trained upscaler (`initFrom`) starts as exactly that upscaler.
 */
export function initUpscalerVariables(config: UpscalerConfig, seed: number): { names: string[]; params: UpscalerParams } {
  const shapes = upscalerKernelShapes(config);
  const names = upscalerLayerNames(config);
  const kernels = shapes.map((s, i) => {
    if (isRefineOutput(names[i])) return tf.variable(tf.zeros(s)) as tf.Variable<tf.Rank.R4>;
    const scale = Math.sqrt(2 / (s[0] * s[1] * s[2])) * (names[i] === 'up_out' ? 0.1 : 1);
    return tf.variable(tf.randomNormal(s, 0, scale, 'float32', seed + i)) as tf.Variable<tf.Rank.R4>;
  });
  const biases = shapes.map((s) => tf.variable(tf.zeros([s[3]])) as tf.Variable<tf.Rank.R1>);
  return { names, params: { kernels, biases } };
}

/** The upscaler's weights by their serving names. */
export function upscalerWeightMap(names: readonly string[], params: UpscalerParams): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  names.forEach((name, i) => {
    out[`${name}/kernel`] = params.kernels[i];
    out[`${name}/bias`] = params.biases[i];
  });
  return out;
}

export const DISCRIMINATOR_WIDTHS = [16, 32, 64, 64] as const;

export interface DiscriminatorParams {
  kernels: tf.Variable<tf.Rank.R4>[];
  biases: tf.Variable<tf.Rank.R1>[];
}

export function initDiscriminator(channels: number, seed: number): DiscriminatorParams {
  const ins = [channels, ...DISCRIMINATOR_WIDTHS];
  const outs = [...DISCRIMINATOR_WIDTHS, 1];
  const kernels = ins.map((cin, i) => {
    const k = i < DISCRIMINATOR_WIDTHS.length ? 4 : 3;
    return tf.variable(tf.randomNormal([k, k, cin, outs[i]], 0, 0.02, 'float32', seed + 100 + i)) as tf.Variable<tf.Rank.R4>;
  });
  const biases = outs.map((c) => tf.variable(tf.zeros([c])) as tf.Variable<tf.Rank.R1>);
  return { kernels, biases };
}

/** [N, S, S, C] in [-1, 1] → patch logits [N, S/16, S/16, 1]. */
export function discriminate(d: DiscriminatorParams, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    let y = x;
    d.kernels.forEach((filter, i) => {
      const last = i === d.kernels.length - 1;
      y = tf.conv2d(y, filter, last ? 1 : 2, 'same');
      y = tf.add(y, d.biases[i]);
      if (!last) y = tf.leakyRelu(y, 0.2);
    });
    return y;
  });
}

const BN_EPSILON = 1e-3; // Keras MobileNetV2's

/** MobileNetV2's first stage, folded: conv kernel and per-channel scale and shift. */
export interface FeatureStage {
  kernel: tf.Tensor4D;
  scale: tf.Tensor1D;
  shift: tf.Tensor1D;
  source: string;
}

export async function loadFeatureStage(options: LocateOptions): Promise<FeatureStage> {
  const { modelJson, weights: bytes, packageVersion } = await readPackagedMobileNet(await locateNsfwjs(options));
  const weights = tf.io.decodeWeights(
    ownArrayBuffer(bytes),
    modelJson.weightsManifest.flatMap((g) => g.weights),
  );
  const get = (name: string) => weights[name].dataSync() as Float32Array;
  const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((w) => get(`bn_Conv1/${w}`));
  const scale = gamma.map((g, c) => g / Math.sqrt(variance[c] + BN_EPSILON));
  const shift = beta.map((b, c) => b - mean[c] * scale[c]);
  const stage: FeatureStage = {
    kernel: tf.tensor4d(get('Conv1/kernel'), [3, 3, 3, 32]),
    scale: tf.tensor1d(scale),
    shift: tf.tensor1d(shift),
    source: `${packageVersion} MobileNetV2 Conv1`,
  };
  tf.dispose(Object.values(weights));
  return stage;
}

/** [N, S, S, 3] in [-1, 1] → MobileNetV2 Conv1 features [N, S/2, S/2, 32]. */
export function features(stage: FeatureStage, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const x01 = tf.div(tf.add(x, 1), 2) as tf.Tensor4D;
    const y = tf.add(tf.mul(tf.conv2d(x01, stage.kernel, 2, 'same'), stage.scale), stage.shift);
    return tf.clipByValue(y, 0, 6) as tf.Tensor4D;
  });
}
