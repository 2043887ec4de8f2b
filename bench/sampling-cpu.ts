/**
 * CPU of candidate sampling: process CPU time (user + system) of image.png and grid.png renders of
 * a model through core's render pipeline on the serving path (WASM SIMD, the worker's kernels, one
 * thread), with the model's generator and a scorer at K = 1, 2, 4, 8, over 10 seeds each (median and
 * worst). The machine may be shared: CPU time, not wall time.
 *
 *   node --import tsx bench/sampling-cpu.ts --model models/emoji --scorer /work/runs/scorer-emoji-w8/scorer
 */
import { parseArgs } from 'node:util';
import { attachSampler, gridCells, gridPng, imagePng } from '@gan/core';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { activateServingBackend } from '@gan/trainer/serving-backend';
import { samplerFromDirectory } from './lib/scorer-directory.ts';
import { cpuMsOf as cpuMs, median } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji' },
    scorer: { type: 'string' },
    candidates: { type: 'string', default: '1,2,4,8' },
    seeds: { type: 'string', default: '10' },
  },
});
if (!args.scorer) throw new Error('--scorer is needed');
await activateServingBackend();

const { manifest, generator } = await loadExportedGenerator(args.model);
const n = manifest.classes.length;
const cases: [string, (seed: string) => void][] = [
  ['image.png (size 64)', (seed) => imagePng(generator, { seed, classIndex: 0 }, { size: 64 })],
  ['grid.png 4x4 (16 cells, 32 px)', (seed) => gridPng(generator, gridCells(seed, 4, 4, n, 'seeded'), { rows: 4, cols: 4, padding: 2 })],
  ['grid.png 8x8 (64 cells, 32 px)', (seed) => gridPng(generator, gridCells(seed, 8, 8, n, 'seeded'), { rows: 8, cols: 8, padding: 2 })],
  [
    'grid.png 16x16 (256 cells, 32 px)',
    (seed) => gridPng(generator, gridCells(seed, 16, 16, n, 'seeded'), { rows: 16, cols: 16, padding: 2 }),
  ],
];
console.log('| request | K | CPU ms median | CPU ms worst |\n| --- | --- | --- | --- |');
for (const k of args.candidates.split(',').map(Number)) {
  attachSampler(generator, await samplerFromDirectory(args.scorer, k));
  for (const [label, run] of cases) {
    run('warm-up');
    const times = Array.from({ length: Number(args.seeds) }, (_, i) => cpuMs(() => run(`bench-${i}`)));
    console.log(`| ${label} | ${k} | ${median(times).toFixed(0)} | ${Math.max(...times).toFixed(0)} |`);
  }
}
