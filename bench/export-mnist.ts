/**
 * Writes the trainer's MNIST training split to raw files, so the PyTorch reference
 * (bench/pytorch/train_reference.py) trains on exactly the images the project's trainer sees:
 * the `mnist` package's digits padded to 32x32, in [-1, 1], the held-out 10 % left out.
 *
 *   node --import tsx bench/export-mnist.ts [out prefix, default .cache/bench/mnist-train-32]
 *
 * Writes <prefix>.f32 (float32 little-endian, NHWC [count, 32, 32, 1]), <prefix>.labels (int32 per
 * image) and <prefix>.json ({count, imageSize, channels, classNames}).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadDataset } from '../trainer/src/data/index.ts';

const prefix = path.resolve(process.argv[2] ?? '.cache/bench/mnist-train-32');
// The same options the mnist run was started with (runs/mnist/run.json): 32 px, 1 channel, labels, white.
const data = await loadDataset('mnist', { imageSize: 32, channels: 1, labels: true, background: 'white', split: 'train' });
await mkdir(path.dirname(prefix), { recursive: true });
await writeFile(`${prefix}.f32`, new Uint8Array(data.images.buffer, data.images.byteOffset, data.images.byteLength));
await writeFile(`${prefix}.labels`, new Uint8Array(data.labels.buffer, data.labels.byteOffset, data.labels.byteLength));
const header = { count: data.count, imageSize: data.imageSize, channels: data.channels, classNames: data.classNames, split: data.split };
await writeFile(`${prefix}.json`, JSON.stringify(header));
console.log(`${data.count} training images (${data.imageSize}x${data.imageSize}x${data.channels}, ${data.classNames.length} classes) → ${prefix}.{f32,labels,json}`);
