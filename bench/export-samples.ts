/**
 * Writes the samples `gan evaluate --model <dir>` scores as PNG files, in the layout
 * `gan evaluate --images` reads (class sub-folders for conditional models). Scoring this folder with
 * --images must give the model's own numbers: the check that the PyTorch reference's PNGs
 * (bench/pytorch/train_reference.py) are scored by the same procedure as the project's models.
 *
 *   node --import tsx bench/export-samples.ts <exported model dir> <out dir> [samples 1000] [seed evaluate]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { encodePng, pixelsOf, toPixels } from '@gan/core/image';
import { selectBackend } from '@gan/trainer/backend';
import { DEFAULT_EVAL_SEED, DEFAULT_SAMPLES, generateSamples } from '@gan/trainer/evaluate/evaluate';
import { loadExportedGenerator } from '@gan/trainer/export/load';

const [modelDir, outDir, samplesText, seedText] = process.argv.slice(2);
if (!modelDir || !outDir) throw new Error('usage: bench/export-samples.ts <exported model dir> <out dir> [samples] [seed]');
const samples = samplesText ? Number(samplesText) : DEFAULT_SAMPLES;
const seed = seedText ?? DEFAULT_EVAL_SEED;

await selectBackend('wasm');
const { manifest, generator } = await loadExportedGenerator(modelDir);
const { config } = generator;
const { images, classes } = generateSamples(generator, seed, samples);
const batch = tf.tensor4d(images, [samples, config.imageSize, config.imageSize, config.channels]);
const pixels = toPixels(batch);
batch.dispose();
for (let i = 0; i < samples; i++) {
  const folder = config.numClasses > 0 ? path.join(outDir, manifest.classes[classes[i]]) : outDir;
  await mkdir(folder, { recursive: true });
  const png = encodePng(pixels.size, pixels.size, pixels.channels, pixelsOf(pixels, i));
  await writeFile(path.join(folder, `${String(i).padStart(4, '0')}.png`), png);
}
generator.dispose();
console.log(`${samples} samples of ${manifest.name} ${manifest.version} (seed "${seed}") → ${outDir}`);
