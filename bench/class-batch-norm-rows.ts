/**
 * How far a class-conditional G's per-class gamma and beta (`gan train --generator-conditioning
 * batch-norm`) have moved from where they start (1 and 0), and how far apart the classes' rows are:
 * a class affine that has hardly moved conditions G no more than its one-hot input does. Reads the
 * averaged weights (`generator_ema/`, what is exported) of a run's newest checkpoint, or the raw ones
 * of a run without a moving average.
 *
 *   node --import tsx bench/class-batch-norm-rows.ts --run <run directory>
 */
import { parseArgs } from 'node:util';
import { isClassAffineWeight } from '@gan/core/class-batch-norm';
import { EMA_PREFIX } from '@gan/trainer/train/ema';
import { loadLatestCheckpoint } from '@gan/trainer/train/checkpoint';
import { table } from './lib/stats.ts';

const { values: args } = parseArgs({ options: { run: { type: 'string' } } });
if (!args.run) throw new Error('--run <run directory> is required');
const { checkpoint } = await loadLatestCheckpoint(args.run);
if (!checkpoint) throw new Error(`${args.run} has no usable checkpoint`);
const prefix = [...checkpoint.tensors.keys()].some((n) => n.startsWith(`${EMA_PREFIX}/`)) ? EMA_PREFIX : 'generator';

const rms = (values: number[]) => Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
const rows: string[][] = [];
for (const [name, t] of checkpoint.tensors) {
  const weight = name.slice(prefix.length + 1);
  if (!name.startsWith(`${prefix}/`) || !isClassAffineWeight(weight)) continue;
  const [classes, channels] = t.shape;
  const start = weight.endsWith('/gamma') ? 1 : 0;
  const moved = rms(Array.from(t.data, (v) => v - start));
  // Per channel, the standard deviation of its value across the classes; then their RMS.
  const spread = rms(
    Array.from({ length: channels }, (_, c) => {
      const column = Array.from({ length: classes }, (_, k) => t.data[k * channels + c]);
      const mean = column.reduce((s, v) => s + v, 0) / classes;
      return Math.sqrt(column.reduce((s, v) => s + (v - mean) ** 2, 0) / classes);
    }),
  );
  rows.push([weight, `${classes}×${channels}`, moved.toFixed(3), spread.toFixed(3)]);
}
if (rows.length === 0) throw new Error(`${args.run} has no class-conditional batch norm (run it with --generator-conditioning batch-norm)`);
console.log(`${args.run}, step ${checkpoint.state.step}, ${prefix} weights`);
console.log(table(['weight', 'shape', 'RMS distance from its start (1 or 0)', 'RMS spread between classes'], rows));
