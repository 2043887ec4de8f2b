/**
 * Served images of a model for an external judge, as the worker renders image.png: per class, N seeds
 * (`<seed>#i`, i from 0), written as <out>/<class>/<i>.png. With --scorer and --candidates, the
 * scorer (gan train-scorer's <out>/scorer) samples each image as the best of K, as a derived version
 * with that scorer and K serves it; without, the model's own sampling (plain, for a version without
 * `sampling`). Then: `gan evaluate --images <out> ...`.
 *
 *   node --import tsx bench/sampling-images.ts --model models/emoji --scorer /work/runs/scorer-emoji-w8/scorer \
 *     --candidates 4 --per-class 100 --size 64 --out /tmp/k4
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { attachSampler, cellSeed, imagePng } from '@gan/core';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { activateServingBackend } from '@gan/trainer/serving-backend';
import { samplerFromDirectory } from './lib/scorer-directory.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji' },
    scorer: { type: 'string' },
    candidates: { type: 'string', default: '1' },
    'per-class': { type: 'string', default: '100' },
    size: { type: 'string', default: '64' },
    seed: { type: 'string', default: 'judge' },
    truncation: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
if (!args.out) throw new Error('--out is needed');

await activateServingBackend();

const { manifest, generator } = await loadExportedGenerator(args.model);
if (args.scorer) attachSampler(generator, await samplerFromDirectory(args.scorer, Number(args.candidates)));
const perClass = Number(args['per-class']);
const started = process.cpuUsage();
for (const [classIndex, name] of manifest.classes.entries()) {
  const dir = path.join(args.out, name);
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < perClass; i++) {
    const png = imagePng(
      generator,
      { seed: cellSeed(args.seed, i), classIndex },
      { size: Number(args.size), truncation: Number(args.truncation) },
    );
    await writeFile(path.join(dir, `${i}.png`), png);
  }
}
const used = process.cpuUsage(started);
console.log(
  `${manifest.classes.length * perClass} images to ${args.out} (K=${args.scorer ? args.candidates : 'model'}), ${((used.user + used.system) / 1e6).toFixed(1)} s of CPU`,
);
