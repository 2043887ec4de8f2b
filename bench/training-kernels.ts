/**
 * The training kernels one by one, against the form each replaces, at the reference architecture's
 * shapes and batch 64, as `gan train` runs them (its backend set-up, a new filter every call as after
 * each optimiser step): the transposed convolutions and the strided convolutions against the XNNPACK
 * forms, the filter gradient against the composed XNNPACK form, and a whole iteration with and without
 * the element-wise kernels. Calls interleaved, medians.
 *
 *   node --import tsx bench/training-kernels.ts [--threads N] [--rounds R]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import {
  type GemmKernelName,
  GEMM_KERNEL_NAMES,
  registerElementwiseKernels,
  registerGemmKernels,
  restoreElementwiseKernels,
} from '@gan/core/kernels/gemm/index';
import { selectBackend } from '@gan/trainer/backend';
import { defaultWasmThreads } from '@gan/trainer/wasm-threads';
import { median, table } from './lib/stats.ts';
import { trainer } from './lib/train-iteration.ts';

const { values: args } = parseArgs({ options: { threads: { type: 'string' }, rounds: { type: 'string' } } });
tf.env().set('PROD', true);
const { threads } = await selectBackend('wasm', { threads: Number(args.threads ?? defaultWasmThreads()) });
const rounds = Number(args.rounds ?? 8);

/** All GEMM kernels but `without` (whose original, the composed XNNPACK form, takes over). */
const placeAllBut = (without: GemmKernelName[]) => registerGemmKernels({ only: GEMM_KERNEL_NAMES.filter((k) => !without.includes(k)) });

/** Milliseconds of `call` with ours and with the replaced form, interleaved; a new filter each call. */
function compare(
  without: GemmKernelName[],
  filterShape: [number, number, number, number],
  call: (filter: tf.Tensor4D) => tf.Tensor,
): [number, number] {
  const times: [number[], number[]] = [[], []];
  for (let r = 0; r < rounds; r++)
    for (const [i, ours] of [true, false].entries()) {
      if (ours) registerGemmKernels();
      else placeAllBut(without);
      const filter = tf.randomNormal(filterShape) as tf.Tensor4D;
      const t0 = performance.now();
      const out = call(filter);
      out.dataSync();
      times[i].push(performance.now() - t0);
      tf.dispose([out, filter]);
    }
  registerGemmKernels();
  return [median(times[0]), median(times[1])];
}

const rows: string[][] = [];
const row = (kernel: string, shape: string, [ours, theirs]: [number, number]) =>
  rows.push([kernel, shape, ours.toFixed(1), theirs.toFixed(1), `${(theirs / ours).toFixed(2)}×`]);

for (const [x, f] of [
  [
    [64, 8, 8, 128],
    [4, 4, 128, 256],
  ],
  [
    [64, 16, 16, 64],
    [4, 4, 64, 128],
  ],
] as [[number, number, number, number], [number, number, number, number]][]) {
  const dy = tf.randomNormal([x[0], x[1] / 2, x[2] / 2, f[3]]) as tf.Tensor4D;
  const input = tf.randomNormal(x) as tf.Tensor4D;
  const layer = `${x.slice(1).join('x')} ↔ ${dy.shape.slice(1).join('x')}`;
  row(
    'Conv2DBackpropInput (Winograd per output phase)',
    layer,
    compare(['Conv2DBackpropInput'], f, (w) => tf.conv2dTranspose(dy, w, x, 2, 'same')),
  );
  row(
    'Conv2D, stride 2 (Winograd over input phases)',
    layer,
    compare(['Conv2D', 'FusedConv2D'], f, (w) => tf.conv2d(input, w, 2, 'same')),
  );
  const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: f } as unknown as tf.NamedAttrMap;
  row(
    "Conv2DBackpropFilter (Winograd's filter gradient)",
    layer,
    compare(['Conv2DBackpropFilter'], f, () => tf.engine().runKernel('Conv2DBackpropFilter', { x: input, dy }, attrs) as tf.Tensor),
  );
  tf.dispose([dy, input]);
}

// The element-wise kernels: a whole iteration with and without them, interleaved.
const iteration = await trainer('wasm', 64);
await iteration();
const iterationTimes: [number[], number[]] = [[], []];
for (let r = 0; r < Math.max(3, rounds / 2); r++)
  for (const [i, ours] of [true, false].entries()) {
    if (ours) registerElementwiseKernels();
    else restoreElementwiseKernels();
    await iteration(); // the first after a switch warms the other kernels' buffers
    const t0 = performance.now();
    await iteration();
    iterationTimes[i].push(performance.now() - t0);
  }
registerElementwiseKernels();
row('element-wise kernels (a whole iteration)', 'batch 64', [median(iterationTimes[0]), median(iterationTimes[1])]);

console.log(`Training kernels, ${threads} thread(s), batch 64, medians of ${rounds} interleaved calls (ms)\n`);
console.log(table(['kernel', 'layer', 'ours', 'replaced form', 'speed-up'], rows));
