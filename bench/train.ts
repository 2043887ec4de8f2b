/**
 * Training throughput at batch 64 for the reference architecture: one iteration is the trainer's
 * discriminatorStep then generatorStep (trainer/src/train/step.ts), on tfjs WASM with our kernels and
 * matrix products (as `gan train`), with our kernels only (GAN_KERNELS=tfjs: the before of the GEMM),
 * with the backend's own kernels (plus the filter gradient, without which it cannot train), and the
 * same iteration in PyTorch; optionally pure JS at a small batch. Interleaved rounds, medians. Also `gan
 * train`'s iteration with `--upsampling resize` (G's stride-2 stages as ResizeConv2D layers).
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmKernels, restoreWasmKernels } from '@gan/core/kernels/index';
import {
  bestGemmVariant,
  enableRelaxedSimd,
  registerElementwiseKernels,
  registerGemmKernels,
  restoreElementwiseKernels,
  restoreGemmKernels,
} from '@gan/core/kernels/gemm/index';
import { defaultWasmThreads } from '@gan/trainer/wasm-threads';
import type { PyTorch } from './lib/pytorch.ts';
import { ThreadedTrainer } from './lib/threaded-trainer.ts';
import { gemmFlops, gemmGflops, trainer } from './lib/train-iteration.ts';
import { fmtMs, interleaved, median, table, timeAsync } from './lib/stats.ts';

export interface TrainResult {
  imagesPerSecond: Map<string, number>;
}

/**
 * Iterations per contender per round, back to back as in a training run (PyTorch's too): a single
 * iteration after the others' turn starts with cold caches and sleeping thread pools.
 */
const REPS = 3;

export async function benchTrain(opts: {
  py?: PyTorch;
  quick: boolean;
  cpu: boolean;
  torchVersion: string;
}): Promise<{ text: string; results: TrainResult }> {
  const batch = 64;
  enableRelaxedSimd();
  const withGemm = await trainer('wasm', batch);
  const resize = await trainer('wasm', batch, 'resize');
  const ours = await trainer('wasm', batch);
  const theirs = await trainer('wasm', batch);
  /** 'gemm': as `gan train` (the project's SIMD kernels); 'ours': GAN_KERNELS=tfjs; 'original': tfjs's + the filter gradient. */
  const withKernels = async <T>(set: 'gemm' | 'ours' | 'original', fn: () => Promise<T>): Promise<T> => {
    await tf.setBackend('wasm');
    restoreElementwiseKernels();
    restoreGemmKernels(); // placed over ours: off first
    restoreWasmKernels();
    registerWasmKernels('wasm', set === 'original' ? ['Conv2DBackpropFilter'] : undefined);
    if (set === 'gemm') {
      registerGemmKernels();
      registerElementwiseKernels();
    }
    return fn();
  };
  await withKernels('gemm', withGemm);
  await withKernels('gemm', resize);
  await withKernels('ours', ours);
  await withKernels('original', theirs);
  const names = { gemm: 'tfjs WASM, our SIMD kernels (gan train)', ours: 'tfjs WASM, composed kernels only (GAN_KERNELS=tfjs)' };
  const contenders: { name: string; batch: number; run: () => Promise<number[]> }[] = [
    { name: names.gemm, batch, run: () => withKernels('gemm', () => timeAsync(withGemm, REPS)) },
    { name: `${names.gemm}, G with --upsampling resize`, batch, run: () => withKernels('gemm', () => timeAsync(resize, REPS)) },
    { name: names.ours, batch, run: () => withKernels('ours', () => timeAsync(ours, REPS)) },
    { name: "tfjs WASM, backend's kernels + filter gradient", batch, run: () => withKernels('original', () => timeAsync(theirs, REPS)) },
  ];
  const threads = defaultWasmThreads();
  const threaded = threads > 1 ? await ThreadedTrainer.start(threads, batch) : undefined;
  const threadedTfjs = threads > 1 ? await ThreadedTrainer.start(threads, batch, { GAN_KERNELS: 'tfjs' }) : undefined;
  if (threaded && threadedTfjs) {
    contenders.push({ name: `${names.gemm}, ${threaded.threads} threads`, batch, run: () => threaded.time(REPS) });
    contenders.push({ name: `${names.ours}, ${threadedTfjs.threads} threads`, batch, run: () => threadedTfjs.time(REPS) });
  }
  const cpuBatch = 4;
  if (opts.cpu) {
    // The cpu backend's own filter gradient takes ~130 s per iteration even at batch 4: measured with ours.
    registerWasmKernels('cpu', ['Conv2DBackpropFilter']);
    const cpu = await trainer('cpu', cpuBatch);
    await cpu();
    contenders.push({ name: `tfjs pure JS + our filter gradient (batch ${cpuBatch})`, batch: cpuBatch, run: () => timeAsync(cpu, 1) });
  }
  if (opts.py) {
    for (const threads of [1, 2]) {
      contenders.push({
        name: `PyTorch ${opts.torchVersion} CPU, ${threads} thread${threads > 1 ? 's' : ''}`,
        batch,
        run: async () => (await opts.py!.send<{ ms: number[] }>({ cmd: 'time_train', batch, reps: REPS, threads })).ms,
      });
    }
  }
  await tf.setBackend('wasm');
  registerWasmKernels();
  const samples = await interleaved(contenders, opts.quick ? 2 : 3);
  // What the GEMMs alone would take at the best rate WASM reaches here: the floor of an iteration.
  const iterationGflop = (await gemmFlops(() => withKernels('ours', ours))) / 1e9;
  restoreElementwiseKernels();
  restoreGemmKernels();
  const ceilings: [string, number][] = [['1 thread', gemmGflops()]];
  if (threaded) ceilings.push([`${threaded.threads} threads`, await threaded.gemmGflops()]);
  threaded?.stop();
  threadedTfjs?.stop();
  const imagesPerSecond = new Map<string, number>();
  const rows = contenders.map((c) => {
    const ms = median(samples.get(c.name)!);
    const ips = (c.batch / ms) * 1000;
    imagesPerSecond.set(c.name, ips);
    return [c.name, c.batch, fmtMs(ms), ips.toFixed(1)];
  });
  const best = Math.max(...[...imagesPerSecond].filter(([k]) => k.startsWith('PyTorch')).map(([, v]) => v));
  const text =
    `Training iteration (D step + G step), reference architecture (median of ${samples.values().next().value!.length} each: ${REPS} in a row per round, rounds interleaved)\n\n` +
    table(
      ['implementation', 'batch', 'ms / iteration', 'images/s', 'vs best PyTorch'],
      rows.map((r, i) => [...r, Number.isFinite(best) ? `${(imagesPerSecond.get(contenders[i].name)! / best).toFixed(3)}×` : '–']),
    );
  const speedUp = (suffix: string) => median(samples.get(names.ours + suffix)!) / median(samples.get(names.gemm + suffix)!);
  const gemmLine =
    `\n\nThe project's SIMD kernels (core/src/kernels/gemm, ${bestGemmVariant()}) against tfjs's (GAN_KERNELS=tfjs), same run: ` +
    `${speedUp('').toFixed(2)}× on 1 thread` +
    (threaded ? `, ${speedUp(`, ${threaded.threads} threads`).toFixed(2)}× on ${threaded.threads} threads` : '') +
    '.';
  const floor =
    `\n\nThe iteration's convolutions and matrix products are ${iterationGflop.toFixed(1)} GFLOP. A 1024² float32 matrix product on ` +
    `WASM reaches ${ceilings.map(([t, g]) => `${g.toFixed(1)} GFLOP/s on ${t}`).join(', ')}; at that rate the GEMMs alone take ` +
    ceilings
      .map(([t, g]) => `${fmtMs((iterationGflop / g) * 1000)} ms (${t}, ${((batch * g) / iterationGflop).toFixed(0)} images/s at most)`)
      .join(', ') +
    '.';
  return { text: text + gemmLine + floor, results: { imagesPerSecond } };
}
