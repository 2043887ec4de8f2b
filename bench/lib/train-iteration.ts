/** One training iteration of the reference architecture (the trainer's D step then G step), on synthetic data. */
import * as tf from '@tensorflow/tfjs-core';
import { type GeneratorUpsampling, buildDiscriminator, buildGenerator } from '@gan/core/model';
import { ARTICLE_ADAM, createAdam, discriminatorStep, generatorStep } from '@gan/trainer/train/step';
import { CONFIG, values } from './models.ts';

/** Standard normal noise (Box–Muller over a seeded hash sequence). */
function normal(size: number, seed: number): Float32Array {
  const u = values(2 * size, seed).map((v) => (v + 1) / 2);
  return Float32Array.from({ length: size }, (_, i) => Math.sqrt(-2 * Math.log(u[2 * i] + 1e-12)) * Math.cos(2 * Math.PI * u[2 * i + 1]));
}

/** A function that runs one iteration of a freshly built pair of networks at `batch` on `backend` (G upsampling as `gan train --upsampling`). */
export async function trainer(backend: 'wasm' | 'cpu', batch: number, upsampling: GeneratorUpsampling = 'transposed') {
  await tf.setBackend(backend);
  const models = { config: CONFIG, generator: buildGenerator(CONFIG, 1, upsampling), discriminator: buildDiscriminator(CONFIG, 1) };
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

/** GFLOP/s of a 1024² float32 matrix product on the active backend (median of 10): the GEMM ceiling. */
export function gemmGflops(): number {
  const n = 1024;
  const [a, b] = [tf.randomNormal([n, n]), tf.randomNormal([n, n])];
  const once = () => {
    const t0 = performance.now();
    tf.matMul(a, b).dispose(); // the WASM backend computes synchronously
    return performance.now() - t0;
  };
  for (let i = 0; i < 3; i++) once();
  const ms = Array.from({ length: 10 }, once).sort((x, y) => x - y)[5];
  tf.dispose([a, b]);
  return (2 * n ** 3) / ms / 1e6;
}

/** Floating-point operations of the GEMM kernels (convolutions, matrix products) in one call of `run`. */
export async function gemmFlops(run: () => Promise<void>, backendName = 'wasm'): Promise<number> {
  let flops = 0;
  const originals = ['Conv2D', 'FusedConv2D', 'BatchMatMul', '_FusedMatMul'].flatMap((name) => tf.getKernel(name, backendName) ?? []);
  for (const kernel of originals) {
    tf.unregisterKernel(kernel.kernelName, backendName);
    tf.registerKernel({
      ...kernel,
      // Object.assign keeps the kernel's marks (e.g. FAST_TRANSPOSED_MATMUL), which callers consult.
      kernelFunc: Object.assign((call: Parameters<tf.KernelFunc>[0]) => {
        const out = kernel.kernelFunc(call) as tf.TensorInfo;
        const inputs = call.inputs as Record<string, tf.TensorInfo>;
        const outputs = out.shape.reduce((p, d) => p * d, 1);
        if (kernel.kernelName.includes('Conv')) {
          const [kh, kw, ci] = inputs.filter.shape;
          flops += 2 * outputs * kh * kw * ci;
        } else {
          const a = inputs.a.shape;
          const transposeA = (call.attrs as { transposeA?: boolean }).transposeA;
          flops += 2 * outputs * (transposeA ? a[a.length - 2] : a[a.length - 1]);
        }
        return out;
      }, kernel.kernelFunc),
    });
  }
  try {
    await run();
  } finally {
    for (const kernel of originals) {
      tf.unregisterKernel(kernel.kernelName, backendName);
      tf.registerKernel(kernel);
    }
  }
  return flops;
}
