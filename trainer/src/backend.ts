/**
 * Picks the TensorFlow.js backend for training: the fastest one that is present and works.
 *
 * Order: tfjs-node-gpu (CUDA) → tfjs-node (libtensorflow on the CPU) → wasm (SIMD, with the filter
 * gradient kernel the trainer needs) → cpu (pure JavaScript). The node packages are never installed by
 * default (their install script downloads libtensorflow), so they are imported dynamically and any
 * failure — not installed, or installed without its native addon — falls through to the next one.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackendInternals } from '@gan/core/kernels/gemm/index';
import { type KernelChoice, parseKernelChoice } from '@gan/core/kernels/gemm/kernel-choice';
import { defaultWasmThreads, prepareWasmThreads, unrefWasmThreads } from './wasm-threads.ts';

export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = BackendName | 'auto';

/** Flag spellings accepted by `--backend`, mapped to the backend they select. */
export const BACKEND_ALIASES: Record<string, BackendChoice> = {
  auto: 'auto',
  'node-gpu': 'tensorflow-gpu',
  'tfjs-node-gpu': 'tensorflow-gpu',
  gpu: 'tensorflow-gpu',
  node: 'tensorflow',
  'tfjs-node': 'tensorflow',
  tensorflow: 'tensorflow',
  'tensorflow-gpu': 'tensorflow-gpu',
  wasm: 'wasm',
  cpu: 'cpu',
};

export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

export interface BackendSelection {
  name: BackendName;
  /** Threads the wasm backend computes on (XNNPACK's pool); 1 for the others, which manage their own. */
  threads: number;
  /** Why each faster backend was skipped, for the log. */
  skipped: { name: BackendName; reason: string }[];
}

/** Imports a module by a name the type checker must not resolve (the node backends are optional). */
async function importOptional(specifier: string): Promise<unknown> {
  return import(/* @vite-ignore */ specifier);
}

function reasonOf(err: unknown): string {
  if ((err as { code?: string } | null)?.code === 'ERR_MODULE_NOT_FOUND') return 'not installed';
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].slice(0, 200);
}

export interface BackendOptions {
  /** Threads for the wasm backend (default: one per core, at most 8); 1 uses the single-threaded build. */
  threads?: number;
  /** The project's kernels on the wasm backend (default: GAN_KERNELS from the environment, unset: all). */
  kernels?: KernelChoice;
}

async function activate(
  name: BackendName,
  options: Required<Pick<BackendOptions, 'kernels'>> & BackendOptions,
  log: (line: string) => void,
): Promise<number> {
  if (name === 'wasm') return activateWasm(options.threads ?? defaultWasmThreads(), options.kernels, log);
  switch (name) {
    case 'tensorflow-gpu':
      await importOptional('@tensorflow/tfjs-node-gpu');
      break;
    case 'tensorflow':
      await importOptional('@tensorflow/tfjs-node');
      break;
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      break;
  }
  // The node packages register the backend under the name 'tensorflow' (GPU or not).
  const registered = name === 'tensorflow-gpu' ? 'tensorflow' : name;
  if (!(await tf.setBackend(registered))) throw new BackendUnavailableError(`backend ${name} failed to initialise`);
  if (name === 'cpu') await registerTrainingKernels(name);
  return 1;
}

/**
 * The wasm backend on `threads` threads (see wasm-threads.ts); if the threaded build fails to start,
 * the single-threaded one. The thread count is fixed by the first initialisation in a process.
 */
async function activateWasm(threads: number, kernels: KernelChoice, log: (line: string) => void): Promise<number> {
  const started = await startWasm(threads, log);
  await registerTrainingKernels('wasm');
  await registerGemm(log, started, kernels);
  return started;
}

/**
 * Makes the wasm backend the active one, started on `threads` threads (the single-threaded build for
 * 1) unless this process started it before; returns the threads it runs on. No kernels of the
 * project's are placed.
 */
export async function startWasm(threads: number, log: (line: string) => void = () => {}): Promise<number> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const start = async (n: number) => {
    const restore = prepareWasmThreads(n, wasm.setThreadsCount);
    try {
      return await tf.setBackend('wasm');
    } finally {
      restore();
    }
  };
  let ok = await start(threads);
  if (!ok && threads > 1) {
    log(`wasm: the threaded build did not start; using one thread`);
    ok = await start(1);
  }
  if (!ok) throw new BackendUnavailableError('backend wasm failed to initialise');
  unrefWasmThreads((tf.backend() as unknown as { wasm: unknown }).wasm);
  return wasm.getThreadsCount();
}

/**
 * The matrix products on this project's AssemblyScript GEMM (core/src/kernels/gemm), relaxed SIMD
 * where the engine has it (Node 20 after a V8 flag); `kernels` (GAN_KERNELS) chooses which
 * (core/src/kernels/gemm/kernel-choice.ts): tfjs keeps tfjs's own, matmul leaves the filter gradient
 * on XNNPACK's convolution. On the threaded
 * build it splits large products and Winograd convolutions over as many threads as XNNPACK has
 * (gemm/threads.ts), computing each output element the same way on any thread count, and leaves
 * XNNPACK the forward convolutions and large plain products.
 */
async function registerGemm(log: (line: string) => void, threads: number, kernels: KernelChoice): Promise<void> {
  const gemm = await import('@gan/core/kernels/gemm/index');
  const only = gemm.gemmKernelsOf(kernels);
  if (only.length === 0) {
    log('wasm: matrix products on tfjs kernels (GAN_KERNELS=tfjs)');
    return;
  }
  gemm.enableRelaxedSimd();
  const variant = gemm.bestGemmVariant();
  const placed = gemm.registerGemmKernels({ variant, only });
  if (gemm.elementwiseKernelsOf(kernels)) placed.push(...gemm.registerElementwiseKernels({ variant }));
  if (threads > 1) {
    const { startGemmThreads } = await import('@gan/core/kernels/gemm/threads');
    await startGemmThreads(gemm.Gemm.of(tf.backend() as unknown as WasmBackendInternals, variant), threads);
  }
  log(`wasm: ${placed.join(', ')} on the project's ${variant} GEMM, ${threads} thread(s)`);
}

/**
 * The wasm backend lacks kernels that training needs (Conv2DBackpropFilter), and its transposed
 * convolution is a plain loop; core has fast replacements built from kernels it runs well. The pure-JS
 * backend has a filter gradient, but a naive one: the same composed kernel trains ~12x faster there.
 */
async function registerTrainingKernels(name: 'wasm' | 'cpu'): Promise<void> {
  const { registerWasmKernels } = await import('@gan/core/kernels/index');
  if (name === 'wasm') registerWasmKernels();
  else registerWasmKernels('cpu', ['Conv2DBackpropFilter']);
}

/**
 * Activates `choice` (or the best present backend for 'auto'). An explicit choice that fails throws
 * BackendUnavailableError; 'auto' falls back and records why.
 */
export async function selectBackend(
  choice: BackendChoice = 'auto',
  options: BackendOptions = {},
  log: (line: string) => void = () => {},
): Promise<BackendSelection> {
  // Read here, before any backend is tried: a bad value is the caller's error, not a reason to fall back.
  const configured = { ...options, kernels: options.kernels ?? parseKernelChoice(process.env.GAN_KERNELS) };
  if (choice !== 'auto') {
    try {
      const threads = await activate(choice, configured, log);
      return { name: choice, threads, skipped: [] };
    } catch (err) {
      if (err instanceof BackendUnavailableError) throw err;
      throw new BackendUnavailableError(`backend ${choice} is not available: ${reasonOf(err)}`);
    }
  }
  const skipped: BackendSelection['skipped'] = [];
  for (const name of BACKEND_NAMES) {
    try {
      const threads = await activate(name, configured, log);
      return { name, threads, skipped };
    } catch (err) {
      skipped.push({ name, reason: reasonOf(err) });
    }
  }
  throw new BackendUnavailableError(`no TensorFlow.js backend works: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/** Parses a `--backend` value; undefined when it is not a known name. */
export function parseBackendChoice(value: string): BackendChoice | undefined {
  return BACKEND_ALIASES[value.toLowerCase()];
}
