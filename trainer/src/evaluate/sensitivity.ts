/**
 * Does an extractor see what a GAN metric must see? Degrades N real training images in known ways
 * and prints the FD of each against the held-out split, beside the undegraded floor. A useful
 * extractor ranks them: floor < mild noise < strong noise, floor < blur < stronger blur, and a
 * collapse to a few distinct images far above all.
 *
 *   node --import tsx trainer/src/evaluate/sensitivity.ts models/classifiers/mnist-32 [--backend wasm]
 */
import * as tf from '@tensorflow/tfjs-core';
import { Sfc32 } from '@gan/core/prng';
import { selectBackend, parseBackendChoice } from '../backend.ts';
import { loadDataset } from '../data/index.ts';
import { extractFeatures, permutation } from './classifier.ts';
import { frechetDistance, gaussianStats } from './frechet.ts';
import { loadClassifier } from './store.ts';

/** 3x3 box blur of NHWC images (edges average the pixels that exist). */
export function boxBlur(images: Float32Array, count: number, size: number, channels: number): Float32Array {
  const out = new Float32Array(images.length);
  for (let n = 0; n < count; n++)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          let k = 0;
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if (yy < 0 || xx < 0 || yy >= size || xx >= size) continue;
              sum += images[((n * size + yy) * size + xx) * channels + c];
              k++;
            }
          out[((n * size + y) * size + x) * channels + c] = sum / k;
        }
  return out;
}

export async function sensitivity(dir: string, samples = 1000): Promise<{ label: string; fd: number }[]> {
  const { model, info } = await loadClassifier(dir);
  const load = (split: 'train' | 'heldout') =>
    loadDataset(info.dataset, { imageSize: info.imageSize, channels: info.channels as 1 | 3, background: info.background, split });
  const [train, held] = [await load('train'), await load('heldout')];
  const { imageSize: s, channels: c } = info;
  const size = s * s * c;
  const n = Math.min(samples, train.count);
  const base = new Float32Array(n * size);
  permutation(train.count, Sfc32.fromSeed('sensitivity'))
    .subarray(0, n)
    .forEach((src, i) => {
      base.set(train.images.subarray(src * size, (src + 1) * size), i * size);
    });
  const stats = (images: Float32Array, count: number) =>
    gaussianStats(extractFeatures(model, images, count, s, c).features, count, info.featureSize);
  const reference = stats(held.images, held.count);
  const noise = Sfc32.fromSeed('sensitivity-noise');
  const noisy = (sigma: number) => {
    const z = noise.fillNormal(new Float32Array(base.length), sigma);
    return base.map((v, i) => Math.max(-1, Math.min(1, v + z[i])));
  };
  const collapsed = new Float32Array(n * size);
  for (let i = 0; i < n; i++) collapsed.set(base.subarray((i % 10) * size, ((i % 10) + 1) * size), i * size);
  const blurred = boxBlur(base, n, s, c);
  const cases: [string, Float32Array][] = [
    [`real training images (the floor)`, base],
    ['Gaussian noise σ 0.1', noisy(0.1)],
    ['Gaussian noise σ 0.3', noisy(0.3)],
    ['3x3 box blur', blurred],
    ['3x3 box blur, twice', boxBlur(blurred, n, s, c)],
    ['only 10 distinct images (mode collapse)', collapsed],
  ];
  const rows = cases.map(([label, images]) => ({ label, fd: frechetDistance(stats(images, n), reference) }));
  model.dispose();
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  const flag = process.argv.indexOf('--backend');
  const choice = parseBackendChoice(flag > 0 ? process.argv[flag + 1] : 'auto') ?? 'auto';
  if (!dir) {
    process.stderr.write('usage: sensitivity.ts <classifier dir> [--backend wasm|cpu]\n');
    process.exit(2);
  }
  await selectBackend(choice);
  const rows = await sensitivity(dir);
  process.stdout.write(`${dir} (backend ${tf.getBackend()})\n`);
  for (const r of rows) process.stdout.write(`${r.label}: ${r.fd.toFixed(2)} (${(r.fd / rows[0].fd).toFixed(2)}x floor)\n`);
}
