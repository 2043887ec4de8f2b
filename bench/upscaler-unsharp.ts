/**
 * A check of what the 128-px upscaling figure lacks, not of a model: is it sharpness? A run's
 * upscaler output is unsharp-masked at the 4× size (x + a·(x − gauss_σ(x)), the page white beyond the
 * edge) and scored by `gan upscaler evaluate`'s measure, once per amount. If sharper edges were what
 * the samples lack at 128 px, the FD that upscaling adds would fall as the amount grows.
 *
 *   node --import tsx bench/upscaler-unsharp.ts --run <upscaler run> [--model models/emoji] [--sigma 1] [--amounts 0.5,1.5] [--samples 320] [--references 150]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { Upscaler } from '@gan/core/upscaler';
import { loadMobileNetExtractor } from '@gan/trainer/evaluate/imagenet';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { activateServingBackend } from '@gan/trainer/serving-backend';
import { evaluateUpscaler } from '@gan/trainer/upscale/evaluate';
import { loadEmojiPairs } from '@gan/trainer/upscale/pairs';
import { checkpointUpscaler } from '@gan/trainer/upscale/train';

const { values: args } = parseArgs({
  options: {
    run: { type: 'string' },
    model: { type: 'string', default: 'models/emoji' },
    sigma: { type: 'string', default: '1' },
    amounts: { type: 'string', default: '0.5,1.5' },
    samples: { type: 'string', default: '320' },
    references: { type: 'string', default: '150' },
  },
});
if (!args.run) throw new Error('--run <upscaler run directory> is required');

await activateServingBackend();
const cacheDir = path.resolve('.cache');
const log = (line: string) => console.log(line);
const pairs = await loadEmojiPairs({ size: 32, cacheDir, log: () => {} });
const { generator } = await loadExportedGenerator(args.model);
const extractor = await loadMobileNetExtractor({ cacheDir });
const { settings, weights } = await checkpointUpscaler(args.run);
const upscaler = Upscaler.fromWeights(settings.config, weights);

/** A normalised Gaussian, σ in output pixels, as a convolution that blurs each channel on its own. */
const sigma = Number(args.sigma);
const radius = Math.ceil(2 * sigma);
const taps = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
const sum = taps.reduce((a, b) => a + b, 0);
const g = taps.map((v) => v / sum);
const edge = 2 * radius + 1;
const kernel = tf.tensor4d(
  g.flatMap((a) => g.map((b) => a * b)).flatMap((v) => [v, 0, 0, 0, v, 0, 0, 0, v]),
  [edge, edge, 3, 3],
);

const memo = new Map<string, Float32Array>();
for (const amount of args.amounts.split(',').map(Number)) {
  // Attached in turn to the generator, which disposes the one it replaces: the wrapped upscaler stays.
  const sharpened = {
    config: upscaler.config,
    byteSize: 0,
    dispose() {},
    upscale: (x: tf.Tensor4D) =>
      tf.tidy(() => {
        const y = upscaler.upscale(x);
        const padded = tf.pad(
          y,
          [
            [0, 0],
            [radius, radius],
            [radius, radius],
            [0, 0],
          ],
          1,
        ) as tf.Tensor4D;
        const blurred = tf.conv2d(padded, kernel, 1, 'valid');
        return tf.clipByValue(tf.add(y, tf.mul(tf.sub(y, blurred), amount)), -1, 1) as tf.Tensor4D;
      }),
  } as unknown as Upscaler;
  log(`unsharp mask, σ ${sigma} px, amount ${amount}:`);
  await evaluateUpscaler({
    upscaler: sharpened,
    pairs,
    generator,
    extractor,
    samples: Number(args.samples),
    references: Number(args.references),
    cacheDir,
    log,
    memo,
  });
}
