/**
 * Writes one of the trainer's data sets (its training split by default) to raw files, so the PyTorch
 * reference (bench/pytorch/train_reference.py) trains on exactly the images the project's trainer
 * sees: the same loader, size, channels, background and held-out split, in [-1, 1].
 *
 *   node --import tsx bench/export-data.ts [--data mnist] [--image-size 32] [--channels 1|3]
 *                                          [--background white] [--split train] [out prefix]
 *   node --import tsx bench/export-data.ts --data emoji --image-size 32   # → .cache/bench/emoji-train-32.*
 *
 * The defaults are the mnist run's options (runs/mnist/run.json: mnist, 32 px, 1 channel, labels,
 * white); the data set's own channel count otherwise (3 for emoji, twemoji, folders). The default
 * prefix is .cache/bench/<data set>-<split>-<size>. The prepared-image cache is the trainer's
 * ($GAN_CACHE_DIR or ./.cache).
 *
 * Writes <prefix>.f32 (float32 little-endian, NHWC [count, size, size, channels]), <prefix>.labels
 * (int32 per image; all 0 without classes) and <prefix>.json ({count, imageSize, channels, classNames, split, name}).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type Split, loadDataset } from '@gan/trainer/data/index';

const { values, positionals } = parseArgs({
  options: {
    data: { type: 'string', default: 'mnist' },
    'image-size': { type: 'string', default: '32' },
    channels: { type: 'string' },
    background: { type: 'string', default: 'white' },
    split: { type: 'string', default: 'train' },
  },
  allowPositionals: true,
});
const imageSize = Number(values['image-size']);
const channels = values.channels === undefined ? undefined : (Number(values.channels) as 1 | 3);
if (channels !== undefined && channels !== 1 && channels !== 3) throw new Error(`--channels must be 1 or 3, not ${values.channels}`);
const split = values.split as Split;
if (!['train', 'heldout', 'all'].includes(split)) throw new Error(`--split must be train, heldout or all, not ${values.split}`);

const data = await loadDataset(values.data, {
  imageSize,
  channels,
  labels: true,
  background: values.background,
  split,
  log: (line) => console.error(line),
});
const fileName = `${data.name.replace(/[^A-Za-z0-9_-]/g, '-')}-${split}-${imageSize}`;
const prefix = path.resolve(positionals[0] ?? path.join('.cache/bench', fileName));
await mkdir(path.dirname(prefix), { recursive: true });
await writeFile(`${prefix}.f32`, new Uint8Array(data.images.buffer, data.images.byteOffset, data.images.byteLength));
await writeFile(`${prefix}.labels`, new Uint8Array(data.labels.buffer, data.labels.byteOffset, data.labels.byteLength));
const header = {
  count: data.count,
  imageSize: data.imageSize,
  channels: data.channels,
  classNames: data.classNames,
  split: data.split,
  name: data.name,
};
await writeFile(`${prefix}.json`, JSON.stringify(header));
console.log(
  `${data.count} ${split} images of ${data.name} (${data.imageSize}x${data.imageSize}x${data.channels}, ${data.classNames.length} classes) → ${prefix}.{f32,labels,json}`,
);
