/**
 * The scorer a model version may ship for candidate sampling (sampler.ts): a small projection
 * discriminator (Miyato & Koyama 2018, the shape of core/src/model.ts's D with spectral norm: three
 * 4x4 stride-2 convolutions with biases and LeakyReLU(0.2), no batch norms) trained against the
 * frozen generator to tell the model's real training images from its samples, per class.
 *
 *   score(x, y) = ⟨w, φ(x)⟩ + b + ⟨E[y], φ(x)⟩,   φ(x) = the 4x4xC features, flattened (HWC)
 *
 * which estimates log p_data(x | y) / p_G(x | y) (Azadi et al. 2019, Discriminator Rejection Sampling).
 *
 * It runs in plain JavaScript on the image's 8-bit pixels at the model's own size, in double
 * precision, one fixed order of operations, no transcendental functions: the pixels are the bytes the
 * golden tests pin in Node and in workerd, and IEEE double arithmetic is the same on every engine, so
 * the pick is the same wherever the image is rendered, whatever tfjs kernels a platform registers.
 * Pure functions, no tensors.
 */
import { z } from 'zod';

/** The scorer's architecture, saved in the manifest beside its files. */
export const ScorerArchitectureSchema = z
  .object({
    imageSize: z.number().int().min(8).max(64),
    channels: z.union([z.literal(1), z.literal(3)]),
    /** Channels of the first convolution; each later one doubles them (as D's discriminatorWidth). */
    width: z.number().int().min(1).max(64),
    /** 0: unconditional (no class embedding). */
    numClasses: z.number().int().min(0).max(1000),
  })
  .strict();
export type ScorerArchitecture = z.infer<typeof ScorerArchitectureSchema>;

/** The scorer's weights, by the layer names of model.ts's projection discriminator. */
export interface ScorerWeights {
  /** [4, 4, Cin, Cout] and [Cout] per convolution, first to last (down1, down2, …). */
  convs: { kernel: Float32Array; bias: Float32Array; cin: number; cout: number }[];
  /** [4·4·C]: the unconditional score ψ (model.ts's `score` kernel). */
  score: Float32Array;
  scoreBias: number;
  /** [numClasses, 4·4·C]: the class embedding (model.ts's `class_embedding` kernel); empty when unconditional. */
  embedding: Float32Array;
}

export class ScorerWeightsError extends Error {
  override name = 'ScorerWeightsError';
}

/** Channels of each convolution, 32 px: [w, 2w, 4w] down to 4x4 (as discriminatorChannels). */
export function scorerChannels(a: ScorerArchitecture): number[] {
  const stages = Math.log2(a.imageSize) - 2;
  return Array.from({ length: stages }, (_, i) => a.width * 2 ** i);
}

/** Length of φ(x): 4·4·(last channels). */
export function scorerFeatureSize(a: ScorerArchitecture): number {
  const channels = scorerChannels(a);
  return 16 * channels[channels.length - 1];
}

/** Multiply-adds per scored image (for cost notes). */
export function scorerMultiplyAdds(a: ScorerArchitecture): number {
  let size = a.imageSize;
  let cin: number = a.channels;
  let total = 0;
  for (const cout of scorerChannels(a)) {
    size /= 2;
    total += size * size * cout * 16 * cin;
    cin = cout;
  }
  return total + scorerFeatureSize(a) * 2;
}

/** The named weights (as decoded from the scorer's shards) → ScorerWeights, shapes checked. */
export function scorerWeightsFrom(a: ScorerArchitecture, named: Record<string, { shape: number[]; data: Float32Array }>): ScorerWeights {
  const get = (name: string, shape: number[]) => {
    const w = named[name];
    if (!w) throw new ScorerWeightsError(`scorer weight ${name} is missing`);
    if (w.shape.join() !== shape.join()) throw new ScorerWeightsError(`scorer weight ${name} has shape [${w.shape}], expected [${shape}]`);
    return w.data;
  };
  let cin: number = a.channels;
  const convs = scorerChannels(a).map((cout, i) => {
    const conv = { kernel: get(`down${i + 1}/kernel`, [4, 4, cin, cout]), bias: get(`down${i + 1}/bias`, [cout]), cin, cout };
    cin = cout;
    return conv;
  });
  const features = scorerFeatureSize(a);
  return {
    convs,
    score: get('score/kernel', [4, 4, cin, 1]),
    scoreBias: get('score/bias', [1])[0],
    embedding: a.numClasses > 0 ? get('class_embedding/kernel', [a.numClasses, features]) : new Float32Array(0),
  };
}

/**
 * A 4x4, stride-2, "same" convolution (one pixel of padding before, one after: TensorFlow's rule
 * for an even input) with bias and LeakyReLU(0.2), on an [S, S, Cin] map → [S/2, S/2, Cout].
 * `rows` is the kernel as [Cout, 4·4·Cin] (weightRows); each output is one dot product of a
 * zero-padded 4x4 patch with a row, summed in one fixed order.
 */
function convDown(input: Float64Array, size: number, rows: Float64Array, bias: Float32Array, cin: number, cout: number): Float64Array {
  const out = size / 2;
  const taps = 16 * cin;
  const result = new Float64Array(out * out * cout);
  const patch = new Float64Array(taps);
  for (let oy = 0; oy < out; oy++) {
    for (let ox = 0; ox < out; ox++) {
      for (let ky = 0; ky < 4; ky++) {
        const iy = oy * 2 - 1 + ky;
        for (let kx = 0; kx < 4; kx++) {
          const ix = ox * 2 - 1 + kx;
          const p = (ky * 4 + kx) * cin;
          if (iy < 0 || iy >= size || ix < 0 || ix >= size) for (let ci = 0; ci < cin; ci++) patch[p + ci] = 0;
          else for (let ci = 0, i = (iy * size + ix) * cin; ci < cin; ci++) patch[p + ci] = input[i + ci];
        }
      }
      const o = (oy * out + ox) * cout;
      for (let co = 0; co < cout; co++) {
        let acc = bias[co];
        const r = co * taps;
        for (let j = 0; j < taps; j++) acc += patch[j] * rows[r + j];
        result[o + co] = acc > 0 ? acc : 0.2 * acc;
      }
    }
  }
  return result;
}

/** A [4, 4, Cin, Cout] kernel as [Cout, 4·4·Cin] rows of doubles (computed once per scorer). */
function weightRows(kernel: Float32Array, cin: number, cout: number): Float64Array {
  const taps = 16 * cin;
  const rows = new Float64Array(cout * taps);
  for (let j = 0; j < taps; j++) for (let co = 0; co < cout; co++) rows[co * taps + j] = kernel[j * cout + co];
  return rows;
}

const rowsCache = new WeakMap<Float32Array, Float64Array>();
function rowsOf(conv: ScorerWeights['convs'][number]): Float64Array {
  let rows = rowsCache.get(conv.kernel);
  if (!rows) {
    rows = weightRows(conv.kernel, conv.cin, conv.cout);
    rowsCache.set(conv.kernel, rows);
  }
  return rows;
}

/**
 * The score of each image: `pixels` holds `count` 8-bit images [S, S, C] at the scorer's size (the
 * generator's own, before any resize), `classes` the class each was generated for (ignored when the
 * scorer is unconditional). Higher: more like the real images of that class.
 */
export function scoreImages(
  a: ScorerArchitecture,
  weights: ScorerWeights,
  pixels: Uint8Array,
  count: number,
  classes: ArrayLike<number | undefined>,
): Float64Array {
  const pixelCount = a.imageSize * a.imageSize * a.channels;
  if (pixels.length !== count * pixelCount)
    throw new RangeError(`expected ${count} images of ${pixelCount} bytes, got ${pixels.length} bytes`);
  const features = scorerFeatureSize(a);
  const scores = new Float64Array(count);
  for (let n = 0; n < count; n++) {
    // The generator's images are in [-1, 1]; their bytes are round((x + 1) · 127.5).
    let x: Float64Array = new Float64Array(pixelCount);
    for (let i = 0, o = n * pixelCount; i < pixelCount; i++) x[i] = pixels[o + i] / 127.5 - 1;
    let size = a.imageSize;
    for (const conv of weights.convs) {
      x = convDown(x, size, rowsOf(conv), conv.bias, conv.cin, conv.cout);
      size /= 2;
    }
    let s = weights.scoreBias;
    for (let i = 0; i < features; i++) s += x[i] * weights.score[i];
    const y = classes[n];
    if (a.numClasses > 0 && y !== undefined) {
      const row = y * features;
      for (let i = 0; i < features; i++) s += x[i] * weights.embedding[row + i];
    }
    scores[n] = s;
  }
  return scores;
}
