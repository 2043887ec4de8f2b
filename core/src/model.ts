/**
 * The DCGAN of the seed article as TensorFlow.js layers models: architecture only, training lives in
 * the trainer. Both networks are built from one ModelConfig. Channels-last (NHWC) throughout.
 *
 * Conditioning (numClasses > 0) is a conditional DCGAN (Mirza & Osindero): the one-hot class is
 * appended to z for G and given to D as K constant extra image planes. We chose it over AC-GAN because
 * it keeps the article's single real/fake BCE objective unchanged for both networks; the class only
 * becomes part of what D judges ("is this a real 7?").
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { type ModelConfig, discriminatorChannels, generatorChannels, generatorInputSize, generatorLayerNames } from './config.ts';

// Layer names live in config.ts so the serving path can use them without importing tfjs-layers.
export { generatorLayerNames } from './config.ts';

/** DCGAN initialisation: conv weights from N(0, 0.02); BN scale from N(1, 0.02), shift 0. */
function initializers(seed: number, index: number) {
  return {
    kernel: tfl.initializers.randomNormal({ mean: 0, stddev: 0.02, seed: seed * 97 + index * 2 }),
    gamma: tfl.initializers.randomNormal({ mean: 1, stddev: 0.02, seed: seed * 97 + index * 2 + 1 }),
  };
}

/** PyTorch's BatchNorm2d defaults (momentum 0.1 there is 0.9 here; eps 1e-5), as the article uses. */
function batchNorm(name: string, gammaInitializer: ReturnType<typeof tfl.initializers.randomNormal>) {
  return tfl.layers.batchNormalization({ name, momentum: 0.9, epsilon: 1e-5, gammaInitializer });
}

/**
 * Generator: z (+ one-hot class) → image in [-1, 1]. For the reference config (32x32x3, z 100, width 64):
 *   [N, 100] → reshape [N, 1, 1, 100]
 *   → ConvT(k4, s1, valid) [N, 4, 4, 256] → BN → ReLU
 *   → ConvT(k4, s2, same)  [N, 8, 8, 128] → BN → ReLU
 *   → ConvT(k4, s2, same)  [N, 16, 16, 64] → BN → ReLU
 *   → ConvT(k4, s2, same)  [N, 32, 32, 3] → tanh
 * No convolution has a bias (BN follows, or tanh on the output, as in the article).
 */
export function buildGenerator(config: ModelConfig, seed = 0): tfl.Sequential {
  const channels = generatorChannels(config);
  const names = generatorLayerNames(config);
  const model = tfl.sequential({ name: 'generator' });
  const inputSize = generatorInputSize(config);
  model.add(tfl.layers.reshape({ name: 'latent_map', targetShape: [1, 1, inputSize], inputShape: [inputSize] }));
  const convNames = [names.project, ...names.hidden, names.output];
  convNames.forEach((name, i) => {
    const init = initializers(seed, i);
    const isOutput = name === names.output;
    model.add(
      tfl.layers.conv2dTranspose({
        name,
        filters: channels[i],
        kernelSize: 4,
        strides: i === 0 ? 1 : 2,
        padding: i === 0 ? 'valid' : 'same',
        useBias: false,
        kernelInitializer: init.kernel,
      }),
    );
    if (isOutput) {
      model.add(tfl.layers.activation({ name: 'tanh', activation: 'tanh' }));
    } else {
      model.add(batchNorm(names.bn(name), init.gamma));
      model.add(tfl.layers.reLU({ name: `${name}_relu` }));
    }
  });
  return model;
}

/**
 * Discriminator: image (+ K class planes) → one real/fake logit per image. Reference config:
 *   [N, 32, 32, 3] → Conv(k4, s2, same) [N, 16, 16, 64] → LeakyReLU(0.2)
 *   → Conv(k4, s2, same) [N, 8, 8, 128] → BN → LeakyReLU(0.2)
 *   → Conv(k4, s2, same) [N, 4, 4, 256] → BN → LeakyReLU(0.2)
 *   → Conv(k4, s1, valid) [N, 1, 1, 1] → flatten [N, 1]
 * It returns the logit, not the article's sigmoid: the loss applies the sigmoid inside a numerically
 * stable BCE (same value, no log(0)). The flatten fixes the article's [N,1,1,1]-vs-[N,1] label bug.
 */
export function buildDiscriminator(config: ModelConfig, seed = 0): tfl.Sequential {
  const channels = discriminatorChannels(config);
  const model = tfl.sequential({ name: 'discriminator' });
  const inputShape = [config.imageSize, config.imageSize, config.channels + config.numClasses];
  channels.forEach((filters, i) => {
    const init = initializers(seed + 7919, i);
    model.add(
      tfl.layers.conv2d({
        name: `down${i + 1}`,
        filters,
        kernelSize: 4,
        strides: 2,
        padding: 'same',
        useBias: false,
        kernelInitializer: init.kernel,
        ...(i === 0 ? { inputShape } : {}),
      }),
    );
    if (i > 0) model.add(batchNorm(`down${i + 1}_bn`, init.gamma));
    model.add(tfl.layers.leakyReLU({ name: `down${i + 1}_lrelu`, alpha: 0.2 }));
  });
  const init = initializers(seed + 7919, channels.length);
  model.add(
    tfl.layers.conv2d({
      name: 'score',
      filters: 1,
      kernelSize: 4,
      strides: 1,
      padding: 'valid',
      useBias: false,
      kernelInitializer: init.kernel,
    }),
  );
  model.add(tfl.layers.flatten({ name: 'logit' }));
  return model;
}
