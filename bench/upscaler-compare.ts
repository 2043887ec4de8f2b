/**
 * The README's row of emoji at 128 px with each filter: docs/emoji-upscale-<filter>.png, one grid
 * (`grid.png?seed=preview&rows=1&cols=4&size=128&filter=<filter>`) per filter, rendered through core's
 * pipeline on the serving path from a model version that ships an upscaler.
 *
 *   node --import tsx bench/upscaler-compare.ts --model <export dir with an upscaler>
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { gridCells, gridPng } from '@gan/core';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { activateServingBackend } from '@gan/trainer/serving-backend';

const { values: args } = parseArgs({ options: { model: { type: 'string' }, out: { type: 'string', default: 'docs' } } });
if (!args.model) throw new Error('--model is needed');
await activateServingBackend();
const { manifest, generator } = await loadExportedGenerator(args.model);
const cells = gridCells('preview', 1, 4, manifest.classes.length, 'seeded');
for (const filter of ['bilinear', 'nearest', 'learned'] as const) {
  const file = `${args.out}/emoji-upscale-${filter}.png`;
  writeFileSync(file, gridPng(generator, cells, { rows: 1, cols: 4, padding: 2 }, { size: 128, filter }));
  console.log(`wrote ${file} (${manifest.name}@${manifest.version})`);
}
