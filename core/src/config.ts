import { z } from 'zod';

/**
 * The one description of a DCGAN's architecture. It is saved with the weights (in the manifest and
 * in checkpoints), so whatever loads the weights rebuilds the same networks from it.
 */
export const ModelConfigSchema = z
  .object({
    /** Output edge in pixels: 4 · 2^n, one stride-2 transposed convolution per doubling. */
    imageSize: z.union([z.literal(8), z.literal(16), z.literal(32), z.literal(64)]),
    /** 1 = greyscale, 3 = RGB. */
    channels: z.union([z.literal(1), z.literal(3)]),
    /** Length of the noise vector z (the article uses 100). */
    latentSize: z.number().int().min(1).max(512),
    /** Generator width: channels of the last hidden layer (ngf); earlier layers double it. */
    generatorWidth: z.number().int().min(1).max(256),
    /** Discriminator width: channels of the first layer (ndf); later layers double it. */
    discriminatorWidth: z.number().int().min(1).max(256),
    /** 0 = unconditional. Otherwise a conditional DCGAN over this many classes. */
    numClasses: z.number().int().min(0).max(1000),
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
  return { project: 'project', hidden: ups, output: 'to_image', bn: (layer: string) => `${layer}_bn` };
};

/** Length of the generator's input vector: z, then the one-hot class on conditional models. */
export function generatorInputSize(config: ModelConfig): number {
  return config.latentSize + config.numClasses;
}
