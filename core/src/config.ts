import { z } from 'zod';

/**
 * The one description of a DCGAN's architecture. It is saved with the weights (in the manifest and
 * in checkpoints), so whatever loads the weights rebuilds the same networks from it.
 */
/** Output edges in pixels a generator can have: 4 · 2^n, one stride-2 transposed convolution per doubling. */
export const IMAGE_SIZES = [8, 16, 32, 64] as const;
/** 1 = greyscale, 3 = RGB. */
export const CHANNEL_COUNTS = [1, 3] as const;
/** Largest latent (noise vector) length. */
export const MAX_LATENT_SIZE = 512;
/** Largest generator or discriminator width (channels of its widest end). */
export const MAX_NETWORK_WIDTH = 256;

/**
 * How the generator is told the class of a conditional model. `input`: the one-hot class appended to z
 * (every model before this option; an absent field means it). `batch-norm`: that, and after each of
 * G's batch norms (which keep their own gamma and beta) a learnt per-class gamma and beta scale and
 * shift each sample's features (class-conditional batch norm: de Vries et al. 2017, Miyato & Koyama
 * 2018, as in BigGAN), so the class reaches every layer rather than only the first.
 */
export const GENERATOR_CONDITIONINGS = ['input', 'batch-norm'] as const;
export type GeneratorConditioning = (typeof GENERATOR_CONDITIONINGS)[number];

/** A zod schema accepting exactly these numbers, typed as their union. */
function oneOfNumbers<T extends readonly [number, number, ...number[]]>(values: T) {
  const literals = values.map((v) => z.literal(v)) as unknown as [
    z.ZodLiteral<T[number]>,
    z.ZodLiteral<T[number]>,
    ...z.ZodLiteral<T[number]>[],
  ];
  return z.union(literals);
}

export const ModelConfigSchema = z
  .object({
    /** Output edge in pixels: 4 · 2^n, one stride-2 transposed convolution per doubling. */
    imageSize: oneOfNumbers(IMAGE_SIZES),
    /** 1 = greyscale, 3 = RGB. */
    channels: oneOfNumbers(CHANNEL_COUNTS),
    /** Length of the noise vector z (the article uses 100). */
    latentSize: z.number().int().min(1).max(MAX_LATENT_SIZE),
    /** Generator width: channels of the last hidden layer (ngf); earlier layers double it. */
    generatorWidth: z.number().int().min(1).max(MAX_NETWORK_WIDTH),
    /** Discriminator width: channels of the first layer (ndf); later layers double it. */
    discriminatorWidth: z.number().int().min(1).max(MAX_NETWORK_WIDTH),
    /** 0 = unconditional. Otherwise a conditional DCGAN over this many classes. */
    numClasses: z.number().int().min(0).max(1000),
    /** How G is told the class (GENERATOR_CONDITIONINGS); absent is `input`. `batch-norm` needs classes. */
    generatorConditioning: z.enum(GENERATOR_CONDITIONINGS).optional(),
  })
  .strict();
export type ModelConfig = z.infer<typeof ModelConfigSchema>;

/** The seed article's network: 32x32 RGB, z of 100, 64 base channels. */
export const REFERENCE_CONFIG: ModelConfig = {
  imageSize: 32,
  channels: 3,
  latentSize: 100,
  generatorWidth: 64,
  discriminatorWidth: 64,
  numClasses: 0,
};

/** Number of stride-2 (up- or down-sampling) stages between 4x4 and the image size. */
export function resolutionStages(config: Pick<ModelConfig, 'imageSize'>): number {
  return Math.log2(config.imageSize) - 2;
}

/**
 * Channels of the generator's feature maps from 4x4 upwards, ending with the image channels.
 * 32x32, width 64: [256, 128, 64, 3], as in the article.
 */
export function generatorChannels(config: ModelConfig): number[] {
  const stages = resolutionStages(config);
  const hidden = Array.from({ length: stages }, (_, i) => config.generatorWidth * 2 ** (stages - 1 - i));
  return [...hidden, config.channels];
}

/** Channels of the discriminator's feature maps from the first layer down to 4x4. 32x32: [64, 128, 256]. */
export function discriminatorChannels(config: ModelConfig): number[] {
  const stages = resolutionStages(config);
  return Array.from({ length: stages }, (_, i) => config.discriminatorWidth * 2 ** i);
}

/** Names of the generator's layers, shared with the worker's inference path (weights are keyed by them). */
export const generatorLayerNames = (config: ModelConfig) => {
  const stages = resolutionStages(config);
  const ups = Array.from({ length: stages - 1 }, (_, i) => `up${i + 1}`);
  return {
    project: 'project',
    hidden: ups,
    output: 'to_image',
    bn: (layer: string) => `${layer}_bn`,
    /** The per-class gamma and beta after a batch norm of a `batch-norm`-conditioned G: `<bn>_class/gamma`, `…/beta`, [K, C]. */
    classAffine: (layer: string) => `${layer}_bn_class`,
  };
};

/** True when G's batch norms take a per-class gamma and beta (GENERATOR_CONDITIONINGS). */
export function hasClassBatchNorm(config: ModelConfig): boolean {
  return config.generatorConditioning === 'batch-norm';
}

/** Length of the generator's input vector: z, then the one-hot class on conditional models. */
export function generatorInputSize(config: ModelConfig): number {
  return config.latentSize + config.numClasses;
}
