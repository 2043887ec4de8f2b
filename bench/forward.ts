/**
 * Generator forward pass, batch 1 and 64, reference architecture: tfjs WASM SIMD in Node (the fast
 * serving generator on the project's GanSubPixelConv kernel and on XNNPACK's convolutions, and as first
 * written; the plain layers model with the backend's own kernels and with ours), pure JS, and PyTorch
 * on the same weights — interleaved rounds, medians of wall-clock and of CPU time (the process's: on
 * a machine shared with other work, wall time measures the other work too; CPU time much less).
 * Also checks that all of them produce the same images.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FastGenerator, generatorInput, latentFromSeed } from '@gan/core';
import { registerWasmKernels, restoreWasmKernels } from '@gan/core/kernels/index';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG, SubPixel3x3Generator, layersGenerator, namedTensors, referenceWeights, writeWeightsForPyTorch } from './lib/models.ts';
import { type PyTorch, b64, fromB64 } from './lib/pytorch.ts';
import { fmtMs, interleaved, median, table, timeSyncCpu } from './lib/stats.ts';

type Backend = 'wasm' | 'cpu';

interface Contender {
  name: string;
  backend: Backend;
  /** Kernel set on the WASM backend while it runs. */
  kernels?: 'ours' | 'original';
  forward: (input: tf.Tensor2D) => tf.Tensor;
  inputs: Map<number, tf.Tensor2D>;
}

export interface ForwardResult {
  batch: number;
  /** Median wall-clock and CPU milliseconds by contender. */
  medians: Map<string, { ms: number; cpuMs: number }>;
}

interface Sample {
  ms: number;
  cpuMs: number;
}

function inputs(batches: number[]): Map<number, tf.Tensor2D> {
  return new Map(
    batches.map((n) => [
      n,
      generatorInput(
        CONFIG,
        Array.from({ length: n }, (_, i) => latentFromSeed(`bench-${i}`, CONFIG.latentSize)),
      ),
    ]),
  );
}

async function use(c: Pick<Contender, 'backend' | 'kernels'>) {
  if (tf.getBackend() !== c.backend) await tf.setBackend(c.backend);
  if (c.backend === 'wasm') {
    if (c.kernels === 'original') restoreWasmKernels();
    else registerWasmKernels();
  }
}

export async function benchForward(opts: {
  py?: PyTorch;
  quick: boolean;
  cpu: boolean;
}): Promise<{ text: string; results: ForwardResult[] }> {
  const batches = [1, 64];
  await tf.setBackend('cpu');
  const weights = referenceWeights();
  const contenders: Contender[] = [];
  for (const backend of ['wasm', ...(opts.cpu ? ['cpu'] : [])] as Backend[]) {
    await tf.setBackend(backend);
    const named = namedTensors(weights);
    const fast = FastGenerator.fromWeights(CONFIG, named);
    const before = new SubPixel3x3Generator(named);
    const layers = layersGenerator(weights);
    const ins = inputs(batches);
    const label = backend === 'wasm' ? 'tfjs WASM' : 'tfjs pure JS';
    if (backend === 'wasm') {
      contenders.push({
        name: `${label}: fast generator, GanSubPixelConv (project's GEMM, Winograd)`,
        backend,
        kernels: 'ours',
        forward: (x) => fast.forward(x),
        inputs: ins,
      });
      contenders.push({
        name: `${label}: fast generator, XNNPACK convolutions (2x2 phases)`,
        backend,
        kernels: 'original',
        forward: (x) => fast.forward(x),
        inputs: ins,
      });
    } else {
      contenders.push({ name: `${label}: fast generator (2x2 phases)`, backend, forward: (x) => fast.forward(x), inputs: ins });
    }
    contenders.push({
      name: `${label}: fast generator as first written (3x3 + DepthToSpace)`,
      backend,
      kernels: 'original',
      forward: (x) => before.forward(x),
      inputs: ins,
    });
    if (backend === 'wasm') {
      contenders.push({
        name: `${label}: layers model, backend's kernels`,
        backend,
        kernels: 'original',
        forward: (x) => layers.predict(x) as tf.Tensor,
        inputs: ins,
      });
      contenders.push({
        name: `${label}: layers model, our kernels`,
        backend,
        kernels: 'ours',
        forward: (x) => layers.predict(x) as tf.Tensor,
        inputs: ins,
      });
    } else {
      contenders.push({ name: `${label}: layers model`, backend, forward: (x) => layers.predict(x) as tf.Tensor, inputs: ins });
    }
  }

  // Same images everywhere (4 seeds).
  const check = inputs([4]).get(4)!.dataSync() as Float32Array;
  const outputs = new Map<string, Float32Array>();
  for (const c of contenders) {
    await use(c);
    outputs.set(c.name, (await tf.tidy(() => c.forward(tf.tensor2d(check, [4, CONFIG.latentSize]))).data()) as Float32Array);
  }
  const reference = outputs.get(contenders[0].name)!;
  if (opts.py) {
    const path = join(tmpdir(), 'gan-edge-bench-generator.json');
    writeWeightsForPyTorch(weights, path);
    await opts.py.send({ cmd: 'load', weights: path });
    const reply = await opts.py.send<{ output: string }>({ cmd: 'forward', input: b64(check), n: 4 });
    outputs.set('PyTorch', fromB64(reply.output));
  }
  const agreement = [...outputs].map(([name, out]) => {
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < out.length; i++) {
      worst = Math.max(worst, Math.abs(out[i] - reference[i]));
      scale = Math.max(scale, Math.abs(out[i]));
    }
    return [name, worst.toExponential(1), scale.toFixed(3)];
  });

  const results: ForwardResult[] = [];
  const sections: string[] = [];
  for (const n of batches) {
    const reps = n === 1 ? (opts.quick ? 10 : 30) : opts.quick ? 1 : 2;
    const rounds = n === 1 ? (opts.quick ? 3 : 5) : opts.quick ? 2 : 4;
    const pairs = ({ ms, cpuMs }: { ms: number[]; cpuMs: number[] }): Sample[] => ms.map((m, i) => ({ ms: m, cpuMs: cpuMs[i] }));
    const runners = contenders
      .filter((c) => !(c.backend === 'cpu' && n === 64 && opts.quick))
      .map((c) => ({
        name: c.name,
        run: async () => {
          await use(c);
          const x = c.inputs.get(n)!;
          c.forward(x).dispose(); // warm (operator caches, first-call set-up)
          return pairs(
            timeSyncCpu(() => {
              const y = c.forward(x);
              y.dataSync();
              y.dispose();
            }, reps),
          );
        },
      }));
    const torchOneThread = `PyTorch ${PyTorchVersion} CPU, 1 thread`;
    if (opts.py) {
      for (const threads of [1, 2]) {
        runners.push({
          name: threads === 1 ? torchOneThread : `PyTorch ${PyTorchVersion} CPU, ${threads} threads`,
          run: async () =>
            pairs(
              await opts
                .py!.send<{ ms: number[]; cpu_ms: number[] }>({ cmd: 'time_forward', batch: n, reps, threads })
                .then((r) => ({ ms: r.ms, cpuMs: r.cpu_ms })),
            ),
        });
      }
    }
    const samples = await interleaved<Sample>(runners, rounds);
    const medians = new Map([...samples].map(([k, v]) => [k, { ms: median(v.map((s) => s.ms)), cpuMs: median(v.map((s) => s.cpuMs)) }]));
    results.push({ batch: n, medians });
    const torchBest = Math.min(...[...medians].filter(([k]) => k.startsWith('PyTorch')).map(([, v]) => v.ms));
    const torchCpu = medians.get(torchOneThread)?.cpuMs ?? Number.NaN;
    const ratio = (x: number, y: number) => (Number.isFinite(x / y) ? `${(x / y).toFixed(2)}×` : '–');
    const rows = [...medians].map(([name, { ms, cpuMs }]) => [
      name,
      fmtMs(ms),
      fmtMs(cpuMs),
      ((1000 / cpuMs) * n).toFixed(0),
      ratio(ms, torchBest),
      name.includes('thread') && !name.endsWith('1 thread') ? '–' : ratio(cpuMs, torchCpu),
    ]);
    sections.push(
      `Generator forward, batch ${n} (median of ${samples.values().next().value!.length} runs each, ${rounds} interleaved rounds)\n\n` +
        table(['implementation', 'ms', 'CPU ms', 'images per CPU second', 'time vs best PyTorch', 'CPU time vs PyTorch 1 thread'], rows),
    );
  }
  const text = [
    ...sections,
    `Largest difference from "${contenders[0].name}" on 4 seeds\n\n${table(['implementation', 'max abs difference', 'max abs output'], agreement)}`,
  ].join('\n\n');
  return { text, results };
}

let PyTorchVersion = '';
export function setPyTorchVersion(v: string) {
  PyTorchVersion = v;
}
