/**
 * Training throughput at batch 64 for the reference architecture: one iteration is the trainer's
 * discriminatorStep then generatorStep (trainer/src/train/step.ts), on tfjs WASM with our kernels and
 * with the backend's own kernels (plus the filter gradient, without which it cannot train), and the
 * same iteration in PyTorch; optionally pure JS at a small batch. Interleaved rounds, medians.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmKernels, restoreWasmKernels } from '@gan/core/kernels/index';
import { buildDiscriminator, buildGenerator } from '@gan/core/model';
import { ARTICLE_ADAM, createAdam, discriminatorStep, generatorStep } from '../trainer/src/train/step.ts';
import { CONFIG, values } from './lib/models.ts';
import type { PyTorch } from './lib/pytorch.ts';
import { fmtMs, interleaved, median, table, timeAsync } from './lib/stats.ts';

/** Standard normal noise (Box–Muller over a seeded hash sequence). */
function normal(size: number, seed: number): Float32Array {
  const u = values(2 * size, seed).map((v) => (v + 1) / 2);
  return Float32Array.from({ length: size }, (_, i) => Math.sqrt(-2 * Math.log(u[2 * i] + 1e-12)) * Math.cos(2 * Math.PI * u[2 * i + 1]));
}

async function trainer(backend: 'wasm' | 'cpu', batch: number) {
  await tf.setBackend(backend);
  const models = { config: CONFIG, generator: buildGenerator(CONFIG, 1), discriminator: buildDiscriminator(CONFIG, 1) };
  const dOpt = createAdam(ARTICLE_ADAM);
  const gOpt = createAdam(ARTICLE_ADAM);
  const real = tf.tensor4d(values(batch * 32 * 32 * 3, 21), [batch, 32, 32, 3]);
  let step = 0;
  return async () => {
    if (tf.getBackend() !== backend) await tf.setBackend(backend);
    step++;
    await discriminatorStep(models, dOpt, { real, noise: normal(batch * CONFIG.latentSize, 2 * step) });
    await generatorStep(models, gOpt, { noise: normal(batch * CONFIG.latentSize, 2 * step + 1) });
  };
}

export interface TrainResult {
  imagesPerSecond: Map<string, number>;
}

export async function benchTrain(opts: { py?: PyTorch; quick: boolean; cpu: boolean; torchVersion: string }): Promise<{ text: string; results: TrainResult }> {
  const batch = 64;
  const ours = await trainer('wasm', batch);
  const theirs = await trainer('wasm', batch);
  const withKernels = async (set: 'ours' | 'original', fn: () => Promise<void>) => {
    await tf.setBackend('wasm');
    restoreWasmKernels();
    registerWasmKernels('wasm', set === 'ours' ? undefined : ['Conv2DBackpropFilter']);
    return fn();
  };
  await withKernels('ours', ours);
  await withKernels('original', theirs);
  const contenders: { name: string; batch: number; run: () => Promise<number[]> }[] = [
    { name: 'tfjs WASM, our kernels', batch, run: () => timeAsync(() => withKernels('ours', ours), 1) },
    { name: "tfjs WASM, backend's kernels + filter gradient", batch, run: () => timeAsync(() => withKernels('original', theirs), 1) },
  ];
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
        run: async () => (await opts.py!.send<{ ms: number[] }>({ cmd: 'time_train', batch, reps: 3, threads })).ms,
      });
    }
  }
  await tf.setBackend('wasm');
  registerWasmKernels();
  const samples = await interleaved(contenders, opts.quick ? 2 : 3);
  const imagesPerSecond = new Map<string, number>();
  const rows = contenders.map((c) => {
    const ms = median(samples.get(c.name)!);
    const ips = (c.batch / ms) * 1000;
    imagesPerSecond.set(c.name, ips);
    return [c.name, c.batch, fmtMs(ms), ips.toFixed(1)];
  });
  const best = Math.max(...[...imagesPerSecond].filter(([k]) => k.startsWith('PyTorch')).map(([, v]) => v));
  const text =
    `Training iteration (D step + G step), reference architecture (median of ${samples.values().next().value!.length} each, interleaved)\n\n` +
    table(
      ['implementation', 'batch', 'ms / iteration', 'images/s', 'vs best PyTorch'],
      rows.map((r, i) => [...r, Number.isFinite(best) ? `${(imagesPerSecond.get(contenders[i].name)! / best).toFixed(3)}×` : '–']),
    );
  return { text, results: { imagesPerSecond } };
}
