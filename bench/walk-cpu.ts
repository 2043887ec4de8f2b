/**
 * CPU time of walk.gif requests, and the colour-palette choice of core/src/gif.ts, measured once
 * through core's render pipeline on the WASM backend in one thread (as the worker runs it), with the
 * shipped models: `node --import tsx bench/walk-cpu.ts`. RELIABILITY.md quotes its output.
 *
 * `--model <export dir>` (repeatable) measures instead the largest walks the work bounds allow each
 * given export (bench/lib/work-bounds.ts), e.g. a 64-pixel generator against a 32-pixel one.
 * `--runs <n>`: walks of n seeds per request (default 3); the encoder's cost depends on the frames'
 * colours, so the slowest seed is printed beside the median.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from 'node:util';
import { GifReader } from 'omggif';
import { type PaletteMode, encodeAnimatedGif, pointOfCell, registerWasmKernels, renderPoints, walkKeys, walkPoints } from '@gan/core';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { largestWalks } from './lib/work-bounds.ts';

const { values: args } = parseArgs({ options: { model: { type: 'string', multiple: true }, runs: { type: 'string', default: '3' } } });
const RUNS = Number(args.runs);

await tf.setBackend('wasm');
registerWasmKernels();

const cpuMs = (f: () => void) => {
  const start = process.cpuUsage();
  f();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Case {
  label: string;
  /** A shipped model's name (models/<name>) or an export directory. */
  model: string;
  keys: number;
  frames: number;
  size?: number;
  each?: boolean;
}
const SHIPPED_CASES: Case[] = [
  { label: 'default walk (4 keys × 12 frames, 32 px)', model: 'twemoji', keys: 4, frames: 12 },
  { label: 'default walk (4 keys × 12 frames, 32 px)', model: 'mnist', keys: 4, frames: 12 },
  { label: 'class=each (10 keys × 12 frames, 32 px)', model: 'mnist', keys: 10, frames: 12, each: true },
  { label: 'largest allowed: keys=16&frames=16 (256 frames of 32 px)', model: 'twemoji', keys: 16, frames: 16 },
  { label: 'largest allowed: keys=16&frames=16 (256 frames of 32 px)', model: 'mnist', keys: 16, frames: 16 },
  { label: 'largest allowed: keys=4&frames=16&size=64 (64 frames of 64 px)', model: 'twemoji', keys: 4, frames: 16, size: 64 },
  { label: 'largest frames allowed: keys=2&frames=2&size=256 (4 frames of 256 px)', model: 'twemoji', keys: 2, frames: 2, size: 256 },
];

const models = new Map<string, Awaited<ReturnType<typeof loadExportedGenerator>>>();
const load = async (dir: string) => {
  if (!models.has(dir)) models.set(dir, await loadExportedGenerator(dir.includes('/') ? dir : `models/${dir}`));
  return models.get(dir)!;
};
const CASES: Case[] = [];
for (const dir of args.model ?? []) {
  const { imageSize } = (await load(dir)).manifest;
  for (const w of largestWalks(imageSize))
    CASES.push({ ...w, label: `keys=${w.keys}&frames=${w.frames}&size=${w.size} (${w.label})`, model: dir });
}
if (CASES.length === 0) CASES.push(...SHIPPED_CASES);

console.log(
  `| request | model | total CPU ms | generator + pixels ms | GIF encoder ms | encoder share | KiB | slowest of ${RUNS} seeds: encoder ms |`,
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const c of CASES) {
  const { manifest, generator } = await load(c.model);
  const numClasses = manifest.classes.length;
  const runs: { render: number; encode: number; bytes: number }[] = [];
  for (let run = 0; run < RUNS; run++) {
    let pixels!: ReturnType<typeof renderPoints>;
    let gif!: Uint8Array;
    const render = cpuMs(() => {
      const keys = walkKeys(`bench-${run}`, c.keys, numClasses, c.each ? 'each' : numClasses ? 'seeded' : 'none');
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
    runs.push({ render, encode, bytes: gif.byteLength });
  }
  const render = median(runs.map((r) => r.render));
  const encode = median(runs.map((r) => r.encode));
  console.log(
    `| ${c.label} | ${manifest.name} (${manifest.imageSize} px) | ${(render + encode).toFixed(0)} | ${render.toFixed(0)} | ${encode.toFixed(0)} | ${((100 * encode) / (render + encode)).toFixed(0)} % | ${(runs[0].bytes / 1024).toFixed(0)} | ${Math.max(...runs.map((r) => r.encode)).toFixed(0)} |`,
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
