/**
 * The DCGAN of the seed article as TensorFlow.js layers models: architecture only, training lives in
 * the trainer. Both networks are built from one ModelConfig. Channels-last (NHWC) throughout.
 *
 * Conditioning (numClasses > 0) is a conditional DCGAN (Mirza & Osindero): the one-hot class is
 * appended to z for G and given to D as K constant extra image planes. We chose it as the default over
 * AC-GAN because it keeps the article's single real/fake BCE objective unchanged for both networks; the
 * class only becomes part of what D judges ("is this a real 7?"). An AC-GAN class head is an option of
 * the projection discriminator (below). G can also take the class in every batch norm
 * (`generatorConditioning: 'batch-norm'` in the config; class-batch-norm.ts).
 *
 * D can instead be a projection discriminator (Miyato & Koyama 2018): the class meets D's last features
 * instead of its input pixels, a stronger signal for subtle classes such as the emoji styles. G is the
 * same either way, so nothing served changes.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { ClassAffine } from './class-batch-norm.ts';
import {
  type ModelConfig,
  discriminatorChannels,
  generatorChannels,
  generatorInputSize,
  generatorLayerNames,
  hasClassBatchNorm,
} from './config.ts';
import { ResizeConv2D } from './resize-conv.ts';
import { SpectralNormConv2D } from './spectral-norm.ts';

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
 * How G doubles its resolution. `transposed`: the article's stride-2, 4x4 transposed convolution.
 * `resize`: nearest-neighbour ×2 upsampling, then a 3x3 convolution (Odena, Dumoulin & Olah 2016,
 * "Deconvolution and Checkerboard Artifacts"). A stride-2 4x4 transposed convolution gives the output
 * pixels of its four phases different kernel taps, and G starts from (and must unlearn) a pixel-periodic
 * texture; after a nearest upsampling every output pixel sees the same 3x3 taps. Every resize stage is
 * also a transposed convolution whose 4x4 kernel sums the 3x3 one's taps (resize-conv.ts), so what is
 * exported and served is always the transposed-convolution generator: the option is training-only.
 */
export const GENERATOR_UPSAMPLINGS = ['transposed', 'resize'] as const;
export type GeneratorUpsampling = (typeof GENERATOR_UPSAMPLINGS)[number];

/**
 * Generator: z (+ one-hot class) → image in [-1, 1]. For the reference config (32x32x3, z 100, width 64):
 *   [N, 100] → reshape [N, 1, 1, 100]
 *   → ConvT(k4, s1, valid) [N, 4, 4, 256] → BN → ReLU
 *   → ConvT(k4, s2, same)  [N, 8, 8, 128] → BN → ReLU
 *   → ConvT(k4, s2, same)  [N, 16, 16, 64] → BN → ReLU
 *   → ConvT(k4, s2, same)  [N, 32, 32, 3] → tanh
 * No convolution has a bias (BN follows, or tanh on the output, as in the article). With `resize`
 * upsampling each stride-2 stage is instead, e.g. the first:
 *   → Upsample(×2, nearest) [N, 8, 8, 256] → Conv(k3, s1, same) [N, 8, 8, 128] → BN → ReLU
 * one ResizeConv2D layer under the transposed one's name (`up1`), its kernel [3, 3, Cin, Cout].
 */
export function buildGenerator(config: ModelConfig, seed = 0, upsampling: GeneratorUpsampling = 'transposed'): tfl.LayersModel {
  if (hasClassBatchNorm(config)) return buildClassBatchNormGenerator(config, seed, upsampling);
  const names = generatorLayerNames(config);
  const model = tfl.sequential({ name: 'generator' });
  model.add(
    tfl.layers.reshape({ name: 'latent_map', targetShape: [1, 1, generatorInputSize(config)], inputShape: [generatorInputSize(config)] }),
  );
  generatorConvolutions(config, seed, upsampling).forEach(({ name, conv, gamma }) => {
    model.add(conv);
    if (name === names.output) {
      model.add(tfl.layers.activation({ name: 'tanh', activation: 'tanh' }));
    } else {
      model.add(batchNorm(names.bn(name), gamma));
      model.add(tfl.layers.reLU({ name: `${name}_relu` }));
    }
  });
  return model;
}

/** G's convolutions from the 1x1 latent map to the image, each with its initialisers. */
function generatorConvolutions(config: ModelConfig, seed: number, upsampling: GeneratorUpsampling) {
  const channels = generatorChannels(config);
  const names = generatorLayerNames(config);
  return [names.project, ...names.hidden, names.output].map((name, i) => {
    const init = initializers(seed, i);
    const conv =
      i > 0 && upsampling === 'resize'
        ? new ResizeConv2D({ name, filters: channels[i], kernelInitializer: init.kernel })
        : tfl.layers.conv2dTranspose({
            name,
            filters: channels[i],
            kernelSize: 4,
            strides: i === 0 ? 1 : 2,
            padding: i === 0 ? 'valid' : 'same',
            useBias: false,
            kernelInitializer: init.kernel,
          });
    return { name, conv, gamma: init.gamma };
  });
}

/**
 * The generator of `generatorConditioning: 'batch-norm'`: the same stack and weights, with a ClassAffine
 * after each batch norm scaling and shifting its output by the class's gamma and beta (starting at 1
 * and 0, so a plain G's weights make the same network: `gan train --init-from` starts from its exact
 * images). A functional model, since the class affine reads G's input as well:
 *   input [N, L + K] → latent_map → project → project_bn → project_bn_class(·, input) → ReLU → … → tanh
 */
function buildClassBatchNormGenerator(config: ModelConfig, seed: number, upsampling: GeneratorUpsampling): tfl.LayersModel {
  if (config.numClasses === 0) throw new RangeError('class-conditional batch norm needs classes (numClasses > 0)');
  const names = generatorLayerNames(config);
  const input = tfl.input({ name: 'generator_input', shape: [generatorInputSize(config)] });
  let x = tfl.layers.reshape({ name: 'latent_map', targetShape: [1, 1, generatorInputSize(config)] }).apply(input) as tfl.SymbolicTensor;
  for (const { name, conv, gamma } of generatorConvolutions(config, seed, upsampling)) {
    x = conv.apply(x) as tfl.SymbolicTensor;
    if (name === names.output) {
      x = tfl.layers.activation({ name: 'tanh', activation: 'tanh' }).apply(x) as tfl.SymbolicTensor;
      continue;
    }
    const normalised = batchNorm(names.bn(name), gamma).apply(x) as tfl.SymbolicTensor;
    const affine = new ClassAffine({ name: names.classAffine(name), latentSize: config.latentSize, numClasses: config.numClasses });
    x = tfl.layers.reLU({ name: `${name}_relu` }).apply(affine.apply([normalised, input]) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
  }
  return tfl.model({ name: 'generator', inputs: input, outputs: x });
}

/**
 * How D is told the class of the image it judges. `planes`: K constant one-hot planes appended to the
 * image (every run before projection existed). `projection`: the class is projected onto D's last
 * features (buildProjectionDiscriminator).
 */
export const DISCRIMINATOR_CONDITIONINGS = ['planes', 'projection'] as const;
export type DiscriminatorConditioning = (typeof DISCRIMINATOR_CONDITIONINGS)[number];

/** A class head asked of D with class planes: the planes already tell it the answer. */
export class ClassHeadWithoutProjectionError extends Error {
  override name = 'ClassHeadWithoutProjectionError';
}

export interface DiscriminatorOptions {
  /**
   * Spectral normalisation (Miyato et al. 2018, spectral-norm.ts) of every convolution, the score
   * included; D then has no batch norms, as in the paper's discriminators (a batch norm after a
   * normalised convolution would rescale what the normalisation bounds), and its convolutions have
   * biases instead.
   */
  spectralNorm?: boolean;
  /**
   * Add an auxiliary classifier (AC-GAN, Odena et al. 2017): a second output, K class logits from the
   * same features φ(x), which the training step fits to real images' classes and G is asked to satisfy.
   */
  classHead?: boolean;
  /**
   * Give the class head a (K+1)-th logit, "generated" (the semi-supervised GAN's discriminator:
   * Salimans et al. 2016, Odena 2016), which the training step fits to G's images. A head fitted to real
   * images only can be satisfied by features no real image of the class has; this one also learns what
   * G's images of each class look like, so G must draw the class as real images do. Needs `classHead`.
   */
  fakeClass?: boolean;
}

/** A generated class asked of D without a class head to put it in. */
export class FakeClassWithoutClassHeadError extends Error {
  override name = 'FakeClassWithoutClassHeadError';
}

/** A projection discriminator asked of a model without classes: there is nothing to project. */
export class ProjectionWithoutClassesError extends Error {
  override name = 'ProjectionWithoutClassesError';
}

/** A bias-free convolution of D, spectrally normalised when asked (same name and kernel either way). */
function discriminatorConv(
  conv: { name: string; filters: number; kernelSize: number; strides: number; padding: 'same' | 'valid' },
  kernelInitializer: ReturnType<typeof initializers>['kernel'],
  seed: number,
  options: DiscriminatorOptions,
): tfl.layers.Layer {
  if (options.spectralNorm) return new SpectralNormConv2D({ ...conv, kernelInitializer, seed });
  return tfl.layers.conv2d({ ...conv, useBias: false, kernelInitializer });
}

/** D's convolution stack, down to 4x4 features: the same layers, names and initialisers in both conditionings. */
function discriminatorTrunk(config: ModelConfig, seed: number, options: DiscriminatorOptions): tfl.layers.Layer[] {
  return discriminatorChannels(config).flatMap((filters, i) => {
    const init = initializers(seed + 7919, i);
    const name = `down${i + 1}`;
    const conv = discriminatorConv({ name, filters, kernelSize: 4, strides: 2, padding: 'same' }, init.kernel, seed * 31 + i, options);
    const lrelu = tfl.layers.leakyReLU({ name: `${name}_lrelu`, alpha: 0.2 });
    return i > 0 && !options.spectralNorm ? [conv, batchNorm(`${name}_bn`, init.gamma), lrelu] : [conv, lrelu];
  });
}

/** The real/fake score of 4x4 features: one 4x4 valid convolution, i.e. a linear map of all 4·4·C values. */
function scoreLayer(config: ModelConfig, seed: number, options: DiscriminatorOptions): tfl.layers.Layer {
  const depth = discriminatorChannels(config).length;
  const init = initializers(seed + 7919, depth);
  return discriminatorConv(
    { name: 'score', filters: 1, kernelSize: 4, strides: 1, padding: 'valid' },
    init.kernel,
    seed * 31 + depth,
    options,
  );
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
export function buildDiscriminator(
  config: ModelConfig,
  seed = 0,
  conditioning: DiscriminatorConditioning = 'planes',
  options: DiscriminatorOptions = {},
): tfl.LayersModel {
  if (options.fakeClass && !options.classHead)
    throw new FakeClassWithoutClassHeadError('a generated class is a logit of the class head: ask for the class head too');
  if (conditioning === 'projection') return buildProjectionDiscriminator(config, seed, options);
  if (options.classHead)
    throw new ClassHeadWithoutProjectionError(
      'a class head needs a projection discriminator: with class planes D would read the class off its input',
    );
  const model = tfl.sequential({ name: 'discriminator' });
  model.add(tfl.layers.inputLayer({ inputShape: [config.imageSize, config.imageSize, config.channels + config.numClasses] }));
  for (const layer of discriminatorTrunk(config, seed, options)) model.add(layer);
  model.add(scoreLayer(config, seed, options));
  model.add(tfl.layers.flatten({ name: 'logit' }));
  return model;
}

/**
 * Projection discriminator (Miyato & Koyama 2018): inputs [image [N, S, S, C], one-hot class [N, K]],
 * no class planes; logit [N, 1] = ψ(φ(x)) + ⟨embed(y), φ(x)⟩.
 *
 * φ(x) is the flattened 4x4xC output of the last LeakyReLU, not the paper's global sum pooling: ψ is
 * then exactly the article's `score` layer (a 4x4 valid convolution is a linear map of those 4·4·C
 * values), so the unconditional part of D stays the DCGAN's, and the class embedding can weigh
 * features by where they are (outline, highlight and shading differ by style at particular places,
 * which pooling would sum away). embed(y) is a bias-free dense layer on the one-hot class, the same
 * as an embedding lookup, so the step feeds both conditionings the one-hot it already builds.
 * With `classHead` the model has two outputs: [logit [N, 1], class logits [N, K]] (dense on φ(x)); with
 * `fakeClass` too, [N, K + 1], the last one "generated".
 */
export function buildProjectionDiscriminator(config: ModelConfig, seed = 0, options: DiscriminatorOptions = {}): tfl.LayersModel {
  if (config.numClasses === 0) throw new ProjectionWithoutClassesError('a projection discriminator needs classes (numClasses > 0)');
  if (options.fakeClass && !options.classHead)
    throw new FakeClassWithoutClassHeadError('a generated class is a logit of the class head: ask for the class head too');
  const image = tfl.input({ name: 'image', shape: [config.imageSize, config.imageSize, config.channels] });
  const label = tfl.input({ name: 'class', shape: [config.numClasses] });
  const features = discriminatorTrunk(config, seed, options).reduce((x, layer) => layer.apply(x) as tfl.SymbolicTensor, image);
  const score = tfl.layers.flatten({ name: 'logit' }).apply(scoreLayer(config, seed, options).apply(features)) as tfl.SymbolicTensor;
  const phi = tfl.layers.flatten({ name: 'features' }).apply(features) as tfl.SymbolicTensor;
  const [phiSize] = phi.shape.slice(1) as number[];
  const embedding = tfl.layers
    .dense({
      name: 'class_embedding',
      units: phiSize,
      useBias: false,
      kernelInitializer: initializers(seed + 7919, discriminatorChannels(config).length + 1).kernel,
    })
    .apply(label) as tfl.SymbolicTensor;
  const projection = tfl.layers.dot({ name: 'projection', axes: 1 }).apply([embedding, phi]) as tfl.SymbolicTensor;
  const logit = tfl.layers.add({ name: 'projected_logit' }).apply([score, projection]) as tfl.SymbolicTensor;
  if (!options.classHead) return tfl.model({ name: 'discriminator', inputs: [image, label], outputs: logit });
  const classLogits = tfl.layers
    .dense({
      name: 'class_logits',
      units: config.numClasses + (options.fakeClass ? 1 : 0),
      kernelInitializer: initializers(seed + 7919, discriminatorChannels(config).length + 2).kernel,
    })
    .apply(phi) as tfl.SymbolicTensor;
  return tfl.model({ name: 'discriminator', inputs: [image, label], outputs: [logit, classLogits] });
}
