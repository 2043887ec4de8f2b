/**
 * Where a training iteration's time goes, per tfjs kernel: wall time of each kernel call minus the
 * kernels it calls itself (our composed kernels run others), summed over two iterations of the
 * reference architecture at batch 64 on WASM; then the GEMM kernels' share and their GFLOP/s.
 *
 *   node --import tsx bench/profile-train.ts [--threads N]
 *
 * Matrix products run on the project's GEMM as in `gan train`; GAN_KERNELS=tfjs profiles tfjs's own.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { gemmKernelVariant } from '@gan/core/kernels/gemm/index';
import { selectBackend } from '@gan/trainer/backend';
import { defaultWasmThreads } from '@gan/trainer/wasm-threads';
import { table } from './lib/stats.ts';
import { gemmFlops, trainer } from './lib/train-iteration.ts';

const { values: args } = parseArgs({ options: { threads: { type: 'string' } } });
tf.env().set('PROD', true);
const { threads } = await selectBackend('wasm', { threads: Number(args.threads ?? defaultWasmThreads()) });

const self = new Map<string, { ms: number; calls: number }>();
const stack: number[] = []; // time spent in nested kernels, per open call
for (const kernel of tf.getKernelsForBackend('wasm')) {
  const run = kernel.kernelFunc;
  tf.unregisterKernel(kernel.kernelName, 'wasm');
  tf.registerKernel({
    ...kernel,
    // Object.assign keeps the kernel's marks (e.g. FAST_TRANSPOSED_MATMUL), which callers consult.
    kernelFunc: Object.assign((call: Parameters<tf.KernelFunc>[0]) => {
      stack.push(0);
      const t0 = performance.now();
      const out = run(call);
      const total = performance.now() - t0;
      const nested = stack.pop()!;
      if (stack.length) stack[stack.length - 1] += total;
      const entry = self.get(kernel.kernelName) ?? { ms: 0, calls: 0 };
      entry.ms += total - nested;
      entry.calls++;
      self.set(kernel.kernelName, entry);
      return out;
    }, run),
  });
}

const iteration = await trainer('wasm', 64);
await iteration();
self.clear();
const reps = 2;
const t0 = performance.now();
for (let i = 0; i < reps; i++) await iteration();
const wall = (performance.now() - t0) / reps;
const rows = [...self].sort((a, b) => b[1].ms - a[1].ms);
const inKernels = rows.reduce((sum, [, e]) => sum + e.ms, 0) / reps;
const products = gemmKernelVariant('BatchMatMul')
  ? `matrix products on the ${gemmKernelVariant('BatchMatMul')} GEMM`
  : "tfjs's matrix products";
console.log(`WASM, ${threads} thread(s), ${products}: ${wall.toFixed(0)} ms per iteration, ${inKernels.toFixed(0)} ms in kernels\n`);
console.log(
  table(
    ['kernel', 'ms / iteration (self)', 'share', 'calls / iteration'],
    rows
      .filter(([, e]) => e.ms / reps >= 0.5)
      .map(([name, e]) => [name, (e.ms / reps).toFixed(1), `${((100 * e.ms) / reps / wall).toFixed(1)} %`, e.calls / reps]),
  ),
);

// The convolution and matrix-product kernels (XNNPACK's or the project's): their share of the iteration
// and the rate of the direct form's multiply-adds (Winograd computes fewer, so it can exceed the GEMM's).
const GEMMS = ['Conv2D', 'FusedConv2D', 'BatchMatMul', '_FusedMatMul', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];
const gemmMs = rows.filter(([name]) => GEMMS.includes(name)).reduce((sum, [, e]) => sum + e.ms, 0) / reps;
const gflop = (await gemmFlops(iteration)) / 1e9;
console.log(
  `\nConvolution and matrix-product kernels: ${gemmMs.toFixed(0)} ms (${((100 * gemmMs) / wall).toFixed(0)} % of the iteration), ` +
    `${gflop.toFixed(1)} GFLOP, ${(gflop / (gemmMs / 1000)).toFixed(1)} GFLOP/s`,
);
