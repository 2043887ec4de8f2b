/**
 * CPU of filter=learned: process CPU time (user + system) of renders through core's render pipeline on
 * the serving path (WASM SIMD, the worker's kernels, one thread), bilinear against learned, over 10
 * seeds each (median and worst): one image at 128 and 64 px, the 4×4 grid at 128 px, and the largest
 * requests the worker's bounds allow with learned (64 images: an 8×8 grid at 120 px; a walk of 16 keys ×
 * 4 frames at 64 px; 16 frames at 128 px). The machine may be shared: CPU time, not wall time.
 *
 *   node --import tsx bench/upscaler-cpu.ts --model models/emoji --upscaler models/upscalers/emoji-x4
 */
import { parseArgs } from 'node:util';
import { gridCells, gridPng, imagePng, walkGif, walkKeys } from '@gan/core';
import { type RenderFilter, Upscaler, attachUpscaler, upscalerMultiplyAdds } from '@gan/core/upscaler';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { activateServingBackend } from '@gan/trainer/serving-backend';
import { readUpscalerExport } from '@gan/trainer/upscale/export';
import { checkpointUpscaler } from '@gan/trainer/upscale/train';
import { decodeWeights, parseModelJson } from '@gan/core';
import { UPSCALER_WEIGHTS_FILE } from '@gan/core/upscaler';
import { cpuMsOf as cpuMs, median } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji' },
    upscaler: { type: 'string' },
    run: { type: 'string' },
    seeds: { type: 'string', default: '10' },
  },
});
await activateServingBackend();

async function loadUpscaler(): Promise<Upscaler> {
  if (args.run) {
    const { settings, weights } = await checkpointUpscaler(args.run);
    return Upscaler.fromWeights(settings.config, weights);
  }
  if (!args.upscaler) throw new Error('--upscaler <export dir> or --run <run dir> is needed');
  const { manifest, files } = await readUpscalerExport(args.upscaler);
  const json = parseModelJson(new TextDecoder().decode(files.get(UPSCALER_WEIGHTS_FILE)!));
  const weights = await decodeWeights(json, async (p) => {
    const b = files.get(p)!;
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
  return Upscaler.fromWeights(manifest.architecture, weights);
}

const { manifest, generator } = await loadExportedGenerator(args.model);
const upscaler = await loadUpscaler();
attachUpscaler(generator, upscaler, false);
const n = manifest.classes.length;
const cases: [string, (seed: string, filter: RenderFilter) => void][] = [
  ['image.png size 128', (seed, filter) => imagePng(generator, { seed, classIndex: 0 }, { size: 128, filter })],
  ['image.png size 64', (seed, filter) => imagePng(generator, { seed, classIndex: 0 }, { size: 64, filter })],
  [
    'grid.png 4x4 size 128',
    (seed, filter) => gridPng(generator, gridCells(seed, 4, 4, n, 'seeded'), { rows: 4, cols: 4, padding: 2 }, { size: 128, filter }),
  ],
  [
    'grid.png 8x8 size 120 (64 images)',
    (seed, filter) => gridPng(generator, gridCells(seed, 8, 8, n, 'seeded'), { rows: 8, cols: 8, padding: 2 }, { size: 120, filter }),
  ],
  [
    'walk.gif 16 keys x 4 frames size 64',
    (seed, filter) => walkGif(generator, walkKeys(seed, 16, n, 'seeded'), { size: 64, filter, frames: 4, fps: 12 }),
  ],
  [
    'walk.gif 4 keys x 4 frames size 128',
    (seed, filter) => walkGif(generator, walkKeys(seed, 4, n, 'seeded'), { size: 128, filter, frames: 4, fps: 12 }),
  ],
];
const seeds = Array.from({ length: Number(args.seeds) }, (_, i) => `cpu-${i}`);
console.log(
  `upscaler: ${(upscalerMultiplyAdds(upscaler.config) / 1e6).toFixed(1)} M multiply-adds per image; process CPU ms, median / worst of ${seeds.length} seeds`,
);
console.log('| request | bilinear | learned |');
console.log('|---|---|---|');
for (const [name, render] of cases) {
  render('warm', 'learned');
  const row = (['bilinear', 'learned'] as const).map((filter) => {
    const times = seeds.map((seed) => cpuMs(() => render(seed, filter)));
    return `${median(times).toFixed(1)} / ${Math.max(...times).toFixed(1)}`;
  });
  console.log(`| ${name} | ${row.join(' | ')} |`);
}
