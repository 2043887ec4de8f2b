/**
 * How good the upscaler is, in the terms (`gan upscaler evaluate`):
 *
 * 1. Held-out real emoji, 32 → 128 (icons neither the upscaler nor the generator trained on): mean
 *    PSNR against the real 128-px renders, for learned, bicubic and bilinear; and the Fréchet distance
 *    of each one's 128-px images to those real renders in ImageNet features (MobileNetV2, imagenet.ts).
 * 2. The generator's samples (the model it ships with, rendered through core's pipeline exactly as
 *    served): FD at 32 px against real 32-px renders (every icon, or every k-th), and at 64 and 128 px
 *    against the same icons' renders at that size, with `bilinear` and with `learned`. What upscaling adds is
 *    FD(size) − FD(32); the goal is learned's at most half of bilinear's.
 *
 * The real images' features do not depend on the upscaler and are cached beside the pairs
 * (`<cacheDir>/datasets/emoji-pairs-features-*.bin`), so comparing checkpoints costs only their own images.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type FastGenerator, type GridCell, quantise, renderCells } from '@gan/core';
import { type RenderFilter, type Upscaler, attachUpscaler } from '@gan/core/upscaler';
import { writeFileAtomically } from '../atomic-write.ts';
import { defaultCacheDir } from '../data/index.ts';
import { frechetDistance, gaussianStats } from '../evaluate/frechet.ts';
import type { ImageNetExtractor } from '../evaluate/imagenet.ts';
import { bicubicResize, meanPsnr } from './bicubic.ts';
import { type EmojiPairs, type PAIR_SCALES, pairIndices } from './pairs.ts';

export interface UpscalerEvaluation {
  extractor: string;
  heldOut: {
    icons: number;
    psnr: { learned: number; bicubic: number; bilinear: number };
    /** FD of each method's 128-px images of the held-out icons to their real 128-px renders. */
    fd: { learned: number; bicubic: number; bilinear: number };
  };
  samples: {
    count: number;
    /** Sample i is `<seed>#i`. */
    seed: string;
    /** Real renders per size they were measured against. */
    references: number;
    /** FD of the samples to the real renders at that size. */
    fd32: number;
    fd: Record<'64' | '128', { bilinear: number; learned: number }>;
    /** FD(size) − FD(32): what upscaling adds. */
    added: Record<'64' | '128', { bilinear: number; learned: number; ratio: number }>;
  };
}

/** Bytes [n, S, S, 3] → floats in [-1, 1], the extractor's input. */
const toFloats = (bytes: Uint8Array) => Float32Array.from(bytes, (v) => v / 127.5 - 1);

function bytesOf(pairs: EmojiPairs, scale: (typeof PAIR_SCALES)[number], indices: readonly number[]): Uint8Array {
  const len = (scale * pairs.size) ** 2 * 3;
  const out = new Uint8Array(indices.length * len);
  indices.forEach((src, i) => {
    out.set(pairs.pixels[scale].subarray(src * len, (src + 1) * len), i * len);
  });
  return out;
}

/** Features of the real renders of `indices` at one scale, cached. */
async function realFeatures(
  extractor: ImageNetExtractor,
  pairs: EmojiPairs,
  scale: (typeof PAIR_SCALES)[number],
  indices: readonly number[],
  cacheDir: string,
): Promise<Float32Array> {
  const key = createHash('sha256')
    .update(
      JSON.stringify({ extractor: extractor.id, version: extractor.version, scale, size: pairs.size, indices, icons: pairs.icons.length }),
    )
    .digest('hex')
    .slice(0, 16);
  const file = path.join(cacheDir, 'datasets', `emoji-pairs-features-${key}.bin`);
  if (existsSync(file)) {
    const bin = await readFile(file);
    return new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  }
  const s = scale * pairs.size;
  const features = extractor.extract(toFloats(bytesOf(pairs, scale, indices)), indices.length, s, 3);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomically(file, new Uint8Array(features.buffer));
  return features;
}

function fd(extractor: ImageNetExtractor, a: Float32Array, na: number, b: Float32Array, nb: number): number {
  const dim = extractor.featureSize;
  return frechetDistance(gaussianStats(a, na, dim), gaussianStats(b, nb, dim));
}

/** The samples' seed unless another is asked for: sample i is `upscaler-eval#i`. */
export const UPSCALER_EVAL_SEED = 'upscaler-eval';

/** Evaluation cells: seeds `<seed>#i`, styles in turn. */
export function evaluationCells(count: number, numClasses: number, seed = UPSCALER_EVAL_SEED): GridCell[] {
  return Array.from({ length: count }, (_, i) => ({ seed: `${seed}#${i}`, classIndex: numClasses > 0 ? i % numClasses : undefined }));
}

export interface EvaluateOptions {
  upscaler: Upscaler;
  pairs: EmojiPairs;
  generator: FastGenerator;
  extractor: ImageNetExtractor;
  samples: number;
  /**
   * Seed of the samples (default UPSCALER_EVAL_SEED). Another seed draws other samples: how far the
   * sample figures move between seeds is their noise.
   */
  seed?: string;
  /** Real renders per size the samples are measured against: every k-th icon, about this many (default all). */
  references?: number;
  cacheDir?: string;
  log?: (line: string) => void;
  /**
   * Features that do not depend on the upscaler (bicubic, bilinear), kept between evaluations of
   * several upscalers in one process: pass the same map to each.
   */
  memo?: Map<string, Float32Array>;
}

export async function evaluateUpscaler(options: EvaluateOptions): Promise<UpscalerEvaluation> {
  const { upscaler, pairs, generator, extractor } = options;
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const log = options.log ?? (() => {});
  const n = pairs.size;
  const big = 4 * n;

  // 1. Held-out real icons.
  const held = pairIndices(pairs, 'heldout');
  const small = bytesOf(pairs, 1, held);
  const real128 = bytesOf(pairs, 4, held);
  const learned = new Uint8Array(real128.length);
  const bilinear = new Uint8Array(real128.length);
  for (let start = 0; start < held.length; start += 16) {
    const count = Math.min(16, held.length - start);
    const x = tf.tensor4d(toFloats(small.subarray(start * n * n * 3, (start + count) * n * n * 3)), [count, n, n, 3]);
    const up = upscaler.upscale(x);
    learned.set(quantise(up.dataSync() as Float32Array), start * big * big * 3);
    const bl = tf.tidy(() => tf.image.resizeBilinear(x, [big, big], false, true));
    bilinear.set(quantise(bl.dataSync() as Float32Array), start * big * big * 3);
    tf.dispose([x, up, bl]);
  }
  const bicubic = bicubicResize(small, held.length, n, big, 3);
  const psnr = {
    learned: meanPsnr(learned, real128, held.length),
    bicubic: meanPsnr(bicubic, real128, held.length),
    bilinear: meanPsnr(bilinear, real128, held.length),
  };
  log(`held-out PSNR: learned ${psnr.learned.toFixed(2)}, bicubic ${psnr.bicubic.toFixed(2)}, bilinear ${psnr.bilinear.toFixed(2)} dB`);
  const realHeld = await realFeatures(extractor, pairs, 4, held, cacheDir);
  const memo = options.memo ?? new Map<string, Float32Array>();
  const remembered = (key: string | undefined, make: () => Float32Array) => {
    if (key === undefined) return make();
    const known = memo.get(key) ?? make();
    memo.set(key, known);
    return known;
  };
  const heldFd = (bytes: Uint8Array, key?: string) =>
    fd(
      extractor,
      remembered(key, () => extractor.extract(toFloats(bytes), held.length, big, 3)),
      held.length,
      realHeld,
      held.length,
    );
  const heldOutFd = { learned: heldFd(learned), bicubic: heldFd(bicubic, 'held-bicubic'), bilinear: heldFd(bilinear, 'held-bilinear') };
  log(
    `held-out FD to real 128 px: learned ${heldOutFd.learned.toFixed(1)}, bicubic ${heldOutFd.bicubic.toFixed(1)}, bilinear ${heldOutFd.bilinear.toFixed(1)}`,
  );

  // 2. Generator samples against every real render at each size.
  const stride = Math.max(1, Math.floor(pairs.icons.length / (options.references ?? pairs.icons.length)));
  const all = pairs.icons.flatMap((_, i) => (i % stride === 0 ? [i] : []));
  const seed = options.seed ?? UPSCALER_EVAL_SEED;
  const cells = evaluationCells(options.samples, generator.config.numClasses, seed);
  attachUpscaler(generator, upscaler, false);
  const sampleFeatures = (size: number, filter: RenderFilter) =>
    remembered(filter === 'learned' ? undefined : `samples-${seed}-${cells.length}-${size}-${filter}`, () => {
      const pixels = renderCells(generator, cells, { size, filter });
      return extractor.extract(toFloats(pixels.data), cells.length, size, 3);
    });
  const realAt = async (scale: 1 | 2 | 4) => realFeatures(extractor, pairs, scale, all, cacheDir);
  const fd32 = fd(extractor, sampleFeatures(n, 'bilinear'), cells.length, await realAt(1), all.length);
  log(`samples: FD at ${n} px ${fd32.toFixed(1)}`);
  const fdAt = {} as UpscalerEvaluation['samples']['fd'];
  const added = {} as UpscalerEvaluation['samples']['added'];
  for (const scale of [2, 4] as const) {
    const size = scale * n;
    const real = await realAt(scale);
    const value = (filter: RenderFilter) => fd(extractor, sampleFeatures(size, filter), cells.length, real, all.length);
    const row = { bilinear: value('bilinear'), learned: value('learned') };
    const key = String(size) as '64' | '128';
    fdAt[key] = row;
    const a = { bilinear: row.bilinear - fd32, learned: row.learned - fd32 };
    added[key] = { ...a, ratio: a.learned / a.bilinear };
    log(
      `samples at ${size} px: FD bilinear ${row.bilinear.toFixed(1)}, learned ${row.learned.toFixed(1)}; added ${a.bilinear.toFixed(1)} vs ${a.learned.toFixed(1)} (ratio ${(a.learned / a.bilinear).toFixed(2)})`,
    );
  }
  return {
    extractor: `${extractor.id}@${extractor.version}`,
    heldOut: { icons: held.length, psnr, fd: heldOutFd },
    samples: { count: cells.length, seed, references: all.length, fd32, fd: fdAt, added },
  };
}
