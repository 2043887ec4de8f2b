/**
 * CPU time of walk.gif requests, and the colour-palette choice of core/src/gif.ts, measured through
 * core's render pipeline on the WASM backend in one thread (as the worker runs it): the default walk
 * and the largest walks the work bounds allow (bench/lib/work-bounds.ts) of each shipped model,
 * `node --import tsx bench/walk-cpu.ts`. RELIABILITY.md quotes its output.
 *
 * `--model <name or export dir>` (repeatable) measures those models instead, e.g. a 64-pixel
 * generator against a 32-pixel one. `--runs <n>`: walks of n seeds per request (default 10); the
 * encoder's cost depends on the frames' colours, so the slowest seed is printed beside the median.
 * Every walk is encoded once before the timed ones, so the figures are of optimised code (the first
 * walk of a fresh isolate also pays V8's compilation: the cold-start figures).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from 'node:util';
import { GifReader } from 'omggif';
import { type PaletteMode, encodeAnimatedGif, pointOfCell, registerWasmKernels, renderPoints, walkKeys, walkPoints } from '@gan/core';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { largestWalks } from './lib/work-bounds.ts';
import { cpuMsOf as cpuMs, median } from './lib/stats.ts';

const { values: args } = parseArgs({ options: { model: { type: 'string', multiple: true }, runs: { type: 'string', default: '10' } } });
const RUNS = Number(args.runs);

await tf.setBackend('wasm');
registerWasmKernels();

interface Case {
  label: string;
  /** A shipped model's name (models/<name>) or an export directory. */
  model: string;
  keys: number;
  frames: number;
  size?: number;
}
const SHIPPED = ['emoji', 'twemoji', 'mnist'];
const DEFAULT_WALK = { label: 'default walk (4 keys × 12 frames, native size)', keys: 4, frames: 12 };

const models = new Map<string, Awaited<ReturnType<typeof loadExportedGenerator>>>();
const load = async (dir: string) => {
  if (!models.has(dir)) models.set(dir, await loadExportedGenerator(dir.includes('/') ? dir : `models/${dir}`));
  return models.get(dir)!;
};
const CASES: Case[] = [];
for (const dir of args.model ?? SHIPPED) {
  const { imageSize } = (await load(dir)).manifest;
  CASES.push({ ...DEFAULT_WALK, model: dir });
  for (const w of largestWalks(imageSize))
    CASES.push({ ...w, label: `keys=${w.keys}&frames=${w.frames}&size=${w.size} (${w.label})`, model: dir });
}

console.log(
  `| request | model | total CPU ms (median of ${RUNS} seeds) | generator + pixels ms | GIF encoder ms | encoder share | KiB | slowest seed: total ms | slowest seed: encoder ms |`,
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const c of CASES) {
  const { manifest, generator } = await load(c.model);
  const numClasses = manifest.classes.length;
  const runs: { render: number; encode: number; bytes: number }[] = [];
  for (let run = -1; run < RUNS; run++) {
    let pixels!: ReturnType<typeof renderPoints>;
    let gif!: Uint8Array;
    const render = cpuMs(() => {
      const keys = walkKeys(`bench-${run}`, c.keys, numClasses, numClasses ? 'seeded' : 'none');
      pixels = renderPoints(
        generator,
        walkPoints(
          keys.map((k) => pointOfCell(generator.config, k)),
          c.frames,
        ),
        { size: c.size },
      );
    });
    const encode = cpuMs(() => {
      gif = encodeAnimatedGif(pixels, { fps: 12 });
    });
    if (run >= 0) runs.push({ render, encode, bytes: gif.byteLength }); // run −1 warms the code up
  }
  const render = median(runs.map((r) => r.render));
  const encode = median(runs.map((r) => r.encode));
  console.log(
    `| ${c.label} | ${manifest.name} (${manifest.imageSize} px) | ${(render + encode).toFixed(0)} | ${render.toFixed(0)} | ${encode.toFixed(0)} | ${((100 * encode) / (render + encode)).toFixed(0)} % | ${(runs[0].bytes / 1024).toFixed(0)} | ${Math.max(...runs.map((r) => r.render + r.encode)).toFixed(0)} | ${Math.max(...runs.map((r) => r.encode)).toFixed(0)} |`,
  );
}

if (args.model) process.exit(0);

// Palette per frame or one for the animation, on the colour model: error against the true pixels.
const { generator } = await load('twemoji');
const keys = walkKeys('palette', 16, 0, 'none');
const pixels = renderPoints(
  generator,
  walkPoints(
    keys.map((k) => pointOfCell(generator.config, k)),
    12,
  ),
);
console.log(
  '\n| colour palette (twemoji, 16 keys × 12 frames, 32 px) | mean error (levels per channel) | worst frame | encode CPU ms | KiB |',
);
console.log('| --- | --- | --- | --- | --- |');
for (const mode of ['per-frame', 'global'] as PaletteMode[]) {
  let gif!: Uint8Array;
  const encode = cpuMs(() => {
    gif = encodeAnimatedGif(pixels, { fps: 12, palette: mode });
  });
  const reader = new GifReader(gif);
  const frame = new Uint8Array(pixels.size * pixels.size * 4);
  const errors: number[] = [];
  for (let f = 0; f < reader.numFrames(); f++) {
    reader.decodeAndBlitFrameRGBA(f, frame);
    let sum = 0;
    for (let p = 0; p < pixels.size * pixels.size; p++)
      for (let ch = 0; ch < 3; ch++) sum += Math.abs(frame[p * 4 + ch] - pixels.data[(f * pixels.size * pixels.size + p) * 3 + ch]);
    errors.push(sum / (pixels.size * pixels.size * 3));
  }
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  console.log(
    `| ${mode} | ${mean.toFixed(2)} | ${Math.max(...errors).toFixed(2)} | ${encode.toFixed(0)} | ${(gif.byteLength / 1024).toFixed(0)} |`,
  );
}
