/**
 * A learned ×4 upscaler for a generator's images (ESPCN-like, Shi et al. 2016, with a residual):
 *
 *   x [N, S, S, 3] in [-1, 1]
 *   → x − 1 (white, the icons' page, becomes 0, so the convolutions' zero padding reads as white page)
 *   → 3×3 convolutions with ReLU at the small size (widths[i] channels each)
 *   → a 3×3 convolution to scale²·3 channels
 *   → pixel shuffle (depthToSpace's layout): channel (i·scale + j)·3 + c of pixel (h, w) is
 *     pixel (h·scale + i, w·scale + j), channel c of the large image
 *   → plus the bilinear enlargement of x (the network only learns what bilinear gets wrong)
 *   → with `refineWidth` R, plus a residual at the large size: a 3×3 convolution to R channels with
 *     ReLU and one back to 3, on the image − 1 as before; with `refineBlocks` B, B such residuals in
 *     turn, each on the previous one's output
 *   → [N, scale·S, scale·S, 3], clipped to [-1, 1] for serving.
 *
 * Why a large-size stage: the pixel shuffle draws each scale×scale block of the output from one
 * small-size feature vector, so neighbouring blocks are predicted apart and an edge comes out as a
 * staircase of 4-px steps. Averaged down to 64 px the steps mostly vanish; at 128 px they are what
 * sets the output apart from a real render. The refinement sees across block borders (5×5 px per
 * residual, 4 px more with each further one).
 *
 * Multiply-adds per image are S²·9·(3·w₀ + Σ wᵢ·wᵢ₊₁ + w_last·scale²·3), plus (scale·S)²·9·6·R with a
 * refinement residual (15.0 M for 32 px and widths [32, 16, 16]; 7.1 M more per residual with R = 8). The same forward function runs in training (on
 * variables) and in serving, so what was trained is what is served. The config is saved with the
 * weights (the manifest's `upscaler` entry).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { type PixelBatch, toPixels } from './image.ts';
import type { FastGenerator } from './inference.ts';

export const UpscalerConfigSchema = z
  .object({
    /** Output edge ÷ input edge. */
    scale: z.literal(4),
    channels: z.literal(3),
    /** The generator's image size the upscaler was trained for. */
    inputSize: z.number().int().min(4).max(64),
    /** Channels of the hidden 3×3 convolutions, in order. */
    widths: z.array(z.number().int().min(1).max(64)).min(1).max(6),
    /** Channels of the large-size residual refinement; absent: none (every upscaler before it). */
    refineWidth: z.number().int().min(1).max(16).optional(),
    /** Residual refinements in turn, each of refineWidth channels; absent: one (every refined upscaler before it). */
    refineBlocks: z.number().int().min(2).max(3).optional(),
  })
  .strict()
  .refine((c) => c.refineBlocks === undefined || c.refineWidth !== undefined, {
    message: 'refineBlocks needs refineWidth',
    path: ['refineBlocks'],
  });
export type UpscalerConfig = z.infer<typeof UpscalerConfigSchema>;

/**
 * A model version's upscaler, as its manifest names it (`upscaler`): the weights file (tfjs's
 * weightsManifest form, beside the generator's and listed with its sha256 in `files`), the
 * architecture it is rebuilt from, the upscaler export it was copied from, and whether `learned` is
 * the version's default filter for sizes above its own.
 */
export const UpscalerEntrySchema = z
  .object({
    weights: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a plain file name'),
    architecture: UpscalerConfigSchema,
    /** `name@version` of the upscaler export these files came from (its card says how it was trained). */
    source: z.string().min(1).max(160),
    default: z.boolean(),
  })
  .strict();
export type UpscalerEntry = z.infer<typeof UpscalerEntrySchema>;

/** The upscaler's weights file and shard prefix, in its own export and in a model version. */
export const UPSCALER_WEIGHTS_FILE = 'upscaler.json';
export const UPSCALER_SHARD_PREFIX = 'upscaler-';

export const DEFAULT_UPSCALER_WIDTHS = [32, 16, 16] as const;

/** A filter of the render pipeline: the resize filters, or the model version's learned upscaler. */
export type RenderFilter = 'bilinear' | 'nearest' | 'learned';

/** Names of the convolutions, in order (the weights are `<name>/kernel` and `<name>/bias`). */
export function upscalerLayerNames(config: UpscalerConfig): string[] {
  return [...config.widths.map((_, i) => `up_conv${i + 1}`), 'up_out', ...refineLayerNames(config)];
}

/** Residual refinements at the large size: 0 without refineWidth, else refineBlocks (default 1). */
export function refineBlockCount(config: UpscalerConfig): number {
  return config.refineWidth === undefined ? 0 : (config.refineBlocks ?? 1);
}

/**
 * The large-size refinements' convolutions, after the small-size ones: residual b (from 0) is
 * `up_refine{2b+1}` (3 → R, ReLU) then `up_refine{2b+2}` (R → 3), so a one-residual upscaler's names
 * are the first two of a longer one's.
 */
export function refineLayerNames(config: UpscalerConfig): string[] {
  return Array.from({ length: refineBlockCount(config) }, (_, b) => [`up_refine${2 * b + 1}`, `up_refine${2 * b + 2}`]).flat();
}

/** Whether `name` is a refinement's last convolution (R → 3), which starts at zero in training. */
export function isRefineOutput(name: string): boolean {
  const match = /^up_refine(\d+)$/.exec(name);
  return match !== null && Number(match[1]) % 2 === 0;
}

/** [height, width, in, out] of each convolution's kernel, in layer order. */
export function upscalerKernelShapes(config: UpscalerConfig): [number, number, number, number][] {
  const ins = [config.channels, ...config.widths];
  const outs = [...config.widths, config.scale * config.scale * config.channels];
  const small = ins.map((cin, i): [number, number, number, number] => [3, 3, cin, outs[i]]);
  const r = config.refineWidth ?? 0;
  const refine = Array.from({ length: refineBlockCount(config) }, (): [number, number, number, number][] => [
    [3, 3, config.channels, r],
    [3, 3, r, config.channels],
  ]).flat();
  return [...small, ...refine];
}

/** Multiply-adds per input image. */
export function upscalerMultiplyAdds(config: UpscalerConfig): number {
  const shapes = upscalerKernelShapes(config);
  const perPixel = (list: typeof shapes) => list.reduce((sum, [h, w, cin, cout]) => sum + h * w * cin * cout, 0);
  const smallLayers = config.widths.length + 1;
  const largeEdge = config.scale * config.inputSize;
  return (
    perPixel(shapes.slice(0, smallLayers)) * config.inputSize * config.inputSize +
    perPixel(shapes.slice(smallLayers)) * largeEdge * largeEdge
  );
}

/**
 * Pixel shuffle ×r in depthToSpace's layout ([N, H, W, r·r·C] → [N, r·H, r·W, C]) as a reshape and
 * a transpose, which have gradients on every backend (DepthToSpace has none in tfjs).
 */
export function pixelShuffle(x: tf.Tensor4D, r: number): tf.Tensor4D {
  const [n, h, w, d] = x.shape;
  const c = d / (r * r);
  const blocks = tf.reshape(x, [n, h, w, r, r, c]);
  return tf.reshape(tf.transpose(blocks, [0, 1, 3, 2, 4, 5]), [n, h * r, w * r, c]);
}

/** The convolutions' parameters in layer order: variables in training, constants in serving. */
export interface UpscalerParams {
  kernels: tf.Tensor4D[];
  biases: tf.Tensor1D[];
}

/** The forward pass (unclipped): training's and serving's one definition. */
export function upscaleForward(config: UpscalerConfig, params: UpscalerParams, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const conv = (input: tf.Tensor4D, i: number, activation: 'relu' | 'linear') =>
      tf.fused.conv2d({ x: input, filter: params.kernels[i], strides: 1, pad: 'same', bias: params.biases[i], activation });
    const smallLayers = config.widths.length + 1;
    let y: tf.Tensor4D = tf.sub(x, 1);
    for (let i = 0; i < smallLayers; i++) y = conv(y, i, i === smallLayers - 1 ? 'linear' : 'relu');
    const base = tf.image.resizeBilinear(x, [h * config.scale, w * config.scale], false, true);
    let up = tf.add(base, pixelShuffle(y, config.scale)) as tf.Tensor4D;
    for (let b = 0; b < refineBlockCount(config); b++) {
      const hidden = conv(tf.sub(up, 1), smallLayers + 2 * b, 'relu');
      up = tf.add(up, conv(hidden, smallLayers + 2 * b + 1, 'linear'));
    }
    return up;
  });
}

export class UpscalerWeightsError extends Error {
  override name = 'UpscalerWeightsError';
}

/** A filter=learned request on a model version that has no upscaler. */
export class NoUpscalerError extends Error {
  override name = 'NoUpscalerError';
}

/**
 * Generator output [N, S, S, C] in [-1, 1] → 8-bit pixels at `size` through the upscaler: ×scale,
 * then, where `size` differs from scale·S, core's bilinear resize of the upscaled image (×2 is the
 * ×4 image averaged 2×2: bilinear with half-pixel centres at exactly half the size).
 */
export function learnedPixels(upscaler: Upscaler, images: tf.Tensor4D, size: number): PixelBatch {
  const up = upscaler.upscale(images);
  try {
    return toPixels(up, size, 'bilinear');
  } finally {
    up.dispose();
  }
}

/**
 * The serving upscaler: its config and weights (~60 KB for the default widths). The weights become
 * tensors at its first upscale and stay: the WASM backend keeps each convolution's packed operator
 * with its filter tensor, and packing them anew on every call cost about as much as a 128-px
 * image's refinement. It is disposed with the generator it is attached to (attachUpscaler); used
 * after that, it makes its tensors for the one call and frees them with it, keeping nothing.
 */
export class Upscaler {
  private params?: UpscalerParams;
  private disposed = false;

  private constructor(
    readonly config: UpscalerConfig,
    private readonly kernels: Float32Array[],
    private readonly biases: Float32Array[],
  ) {}

  /** Bytes of its weights as tensors (for the worker's memory budget, whether made yet or not). */
  get byteSize(): number {
    return [...this.kernels, ...this.biases].reduce((sum, w) => sum + w.byteLength, 0);
  }

  dispose(): void {
    if (this.params) tf.dispose([...this.params.kernels, ...this.params.biases]);
    this.params = undefined;
    this.disposed = true;
  }

  /** From named weights (`<layer>/kernel`, `<layer>/bias`); the inputs are not disposed. */
  static fromWeights(config: UpscalerConfig, weights: tf.NamedTensorMap): Upscaler {
    const shapes = upscalerKernelShapes(config);
    const kernels: Float32Array[] = [];
    const biases: Float32Array[] = [];
    upscalerLayerNames(config).forEach((name, i) => {
      const k = weights[`${name}/kernel`];
      const b = weights[`${name}/bias`];
      if (!k || k.shape.join() !== shapes[i].join())
        throw new UpscalerWeightsError(`weight ${name}/kernel is ${k ? `[${k.shape}]` : 'missing'}, expected [${shapes[i]}]`);
      if (!b || b.shape.join() !== String(shapes[i][3]))
        throw new UpscalerWeightsError(`weight ${name}/bias is ${b ? `[${b.shape}]` : 'missing'}, expected [${shapes[i][3]}]`);
      kernels.push(Float32Array.from(k.dataSync() as Float32Array));
      biases.push(Float32Array.from(b.dataSync() as Float32Array));
    });
    return new Upscaler(config, kernels, biases);
  }

  /** [N, S, S, 3] in [-1, 1] → [N, scale·S, scale·S, 3] in [-1, 1]. */
  upscale(x: tf.Tensor4D): tf.Tensor4D {
    // Made outside any tidy the caller has open (tf.keep), so that only dispose() frees them.
    if (!this.params && !this.disposed) {
      const made = this.weightTensors();
      for (const t of [...made.kernels, ...made.biases]) tf.keep(t);
      this.params = made;
    }
    const kept = this.params;
    return tf.tidy(() => tf.clipByValue(upscaleForward(this.config, kept ?? this.weightTensors(), x), -1, 1));
  }

  private weightTensors(): UpscalerParams {
    const shapes = upscalerKernelShapes(this.config);
    return {
      kernels: this.kernels.map((k, i) => tf.tensor4d(k, shapes[i])),
      biases: this.biases.map((b) => tf.tensor1d(b)),
    };
  }
}

/**
 * One pass's generator output → 8-bit pixels at `size` with `filter`: the resize filters as before,
 * or, for `learned`, the generator's upscaler (NoUpscalerError without one). At or below the
 * generator's own size there is nothing to enlarge, and `learned` is `bilinear`.
 */
export function filteredPixels(generator: object, images: tf.Tensor4D, size: number, filter: RenderFilter): PixelBatch {
  if (filter !== 'learned') return toPixels(images, size, filter);
  const upscaler = upscalerOf(generator);
  if (!upscaler) throw new NoUpscalerError('this model version has no learned upscaler: filter must be bilinear or nearest');
  return size <= images.shape[1] ? toPixels(images, size, 'bilinear') : learnedPixels(upscaler, images, size);
}

/** The largest edge a pass holds: the upscaled images' where `learned` enlarges, else the output's. */
export function passEdge(nativeSize: number, size: number, filter: RenderFilter | undefined): number {
  return filter === 'learned' && size > nativeSize ? Math.max(size, 4 * nativeSize) : size;
}

const attached = new WeakMap<object, { upscaler: Upscaler; isDefault: boolean }>();

/**
 * Gives `generator` its version's upscaler (loadGenerator does this for versions whose manifest names
 * one), and whether `learned` is the version's filter when a request names none. The upscaler is
 * disposed with the generator, or when another replaces it.
 */
export function attachUpscaler(generator: FastGenerator, upscaler: Upscaler, isDefault: boolean): void {
  const previous = attached.get(generator)?.upscaler;
  if (previous && previous !== upscaler) {
    generator.release(previous);
    previous.dispose();
  }
  attached.set(generator, { upscaler, isDefault });
  generator.keepUntilDisposed(upscaler);
}

/** The upscaler attached to `generator`, if any. */
export function upscalerOf(generator: object): Upscaler | undefined {
  return attached.get(generator)?.upscaler;
}

/** The filter a render uses: the one asked for, else `learned` where it is the version's default, else `bilinear`. */
export function resolveFilter(generator: object, filter: RenderFilter | undefined): RenderFilter {
  return filter ?? (attached.get(generator)?.isDefault ? 'learned' : 'bilinear');
}
