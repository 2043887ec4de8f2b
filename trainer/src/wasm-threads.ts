/**
 * Multi-threaded WASM in Node: XNNPACK's thread pool on all cores, for training.
 *
 * tfjs-backend-wasm ships a threaded SIMD build, and its emscripten glue knows Node's worker_threads,
 * but three things keep it off in Node (tfjs issue 3830); each is bridged here, only while the backend
 * initialises:
 *  1. the WASM_HAS_MULTITHREAD_SUPPORT flag evaluates to false under Node: it is set;
 *  2. the pthread workers are started from a blob: URL, which worker_threads refuses: a Worker subclass
 *     runs the same worker script with `eval`, and loads the glue with `require` instead of
 *     `importScripts(blob:…)`;
 *  3. the backend caps its pool at half the logical cores (it assumes two hyper-threads per core):
 *     os.cpus() reports twice the threads asked for.
 * XNNPACK splits each operator's output tiles between the threads, so results are the same as on one
 * thread (a test checks it). The worker (workerd) has no threads; this is the trainer's alone.
 */
import { createRequire } from 'node:module';
import * as os from 'node:os';
import type { WorkerOptions } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);

/** The backend pre-creates this many pthread workers; XNNPACK cannot use more threads. */
export const MAX_WASM_THREADS = 8;

/** Threads to use when not told: one per core the process may run on, within the backend's limit. */
export function defaultWasmThreads(): number {
  return Math.min(MAX_WASM_THREADS, os.availableParallelism());
}

type WorkerThreads = typeof import('node:worker_threads');

/**
 * Call after importing '@tensorflow/tfjs-backend-wasm' and before `tf.setBackend('wasm')`; call the
 * returned function once the backend has initialised (or failed to). `threads` ≤ 1 asks for the
 * single-threaded build.
 */
export function prepareWasmThreads(threads: number, setThreadsCount: (n: number) => void): () => void {
  const multi = threads > 1;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', multi);
  if (!multi) return () => {};
  setThreadsCount(threads);

  // The glue reads these through require(), so the patched properties are what it sees.
  const workerThreads = require('node:worker_threads') as WorkerThreads;
  const osModule = require('node:os') as typeof os;
  const BaseWorker = workerThreads.Worker;
  const cpus = osModule.cpus;
  const gluePath = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js') as {
    wasmWorkerContents: string;
  };
  // The script is stored with its newlines unescaped inside string literals (tfjs escapes them too).
  const workerScript =
    wasmWorkerContents.replace(/\n/g, '\\n') +
    `;{const load=global.importScripts;global.importScripts=(url)=>{` +
    `if(String(url).startsWith('blob:'))global.WasmBackendModuleThreadedSimd=require(${JSON.stringify(gluePath)});else load(url)}}`;

  class PthreadWorker extends BaseWorker {
    constructor(url: string | URL, options?: WorkerOptions) {
      if (String(url).startsWith('blob:')) super(workerScript, { ...options, eval: true });
      else super(url, options);
    }
  }
  workerThreads.Worker = PthreadWorker;
  osModule.cpus = () => Array.from({ length: 2 * threads }, () => cpus()[0]);
  return () => {
    workerThreads.Worker = BaseWorker;
    osModule.cpus = cpus;
  };
}

interface PthreadRegistry {
  PThread?: { runningWorkers: { unref(): void }[] };
}

/**
 * Lets the process exit while the pool's threads wait for work: emscripten refs a worker while a
 * pthread runs on it, and XNNPACK's pool threads run for the life of the backend.
 */
export function unrefWasmThreads(module: unknown): void {
  for (const worker of (module as PthreadRegistry).PThread?.runningWorkers ?? []) worker.unref();
}
