/**
 * The TensorFlow.js WASM backend with SIMD, inside workerd.
 *
 * workerd forbids compiling WebAssembly from bytes at run time ("Wasm code generation disallowed by
 * embedder"): the only way in is a `.wasm` file imported by the bundle, which arrives already compiled
 * as a `WebAssembly.Module`. tfjs cannot take a Module (it fetches bytes and instantiates them), so for
 * the duration of `setBackend('wasm')` only:
 *
 * - the wasm file map points tfjs at a private URL and asks it to use the platform's fetch;
 * - the platform's fetch answers that URL with a response whose `arrayBuffer()` is the Module;
 * - `WebAssembly.instantiate(module, imports)` resolves to `{ instance, module }`, the shape the
 *   Emscripten glue expects from instantiating bytes.
 *
 * Both patches are undone afterwards. Threads are off (no SharedArrayBuffer workers in Workers), and
 * only the SIMD binary is shipped, so a runtime without SIMD fails loudly instead of running slowly.
 *
 * The generator's layers then run on this project's own GEMM (core's GanSubPixelConv kernel), from
 * its plain-SIMD module, bundled the same way: the relaxed-SIMD one could round differently from CPU
 * to CPU, and `gan sample` must keep writing the bytes the worker serves.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import simdModule from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm';
import gemmSimdModule from '@gan/core/kernels/gemm/gemm-simd.wasm';
// The serving kernels only (the set `gan sample` registers too), by their own modules: core's
// kernels/index would bring the training kernels (filter and input gradients, Tile) into the bundle.
import { provideGemmModule } from '@gan/core/kernels/gemm/gemm';
import { registerServingKernels } from '@gan/core/kernels/serving';

const SIMD_FILE = 'tfjs-backend-wasm-simd.wasm';
const SIMD_URL = `https://wasm.invalid/${SIMD_FILE}`;

export class BackendInitError extends Error {
  override name = 'BackendInitError';
}

export interface BackendInfo {
  backend: string;
  simd: boolean;
  threads: boolean;
  tfjsVersion: string;
}

let ready: Promise<BackendInfo> | undefined;

/** Initialises the WASM SIMD backend once per isolate; later calls share the same promise. */
export function initBackend(): Promise<BackendInfo> {
  ready ??= initialise().catch((error: unknown) => {
    ready = undefined; // a failed start is retried by the next request
    throw error;
  });
  return ready;
}

async function initialise(): Promise<BackendInfo> {
  const env = tf.env();
  env.set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  const simd = await env.getAsync('WASM_HAS_SIMD_SUPPORT');
  if (!simd) throw new BackendInitError('this runtime has no WebAssembly SIMD; only the SIMD build is bundled');

  // tfjs wants an entry for every binary; only the SIMD one is bundled (and chosen: SIMD on, threads off).
  setWasmPaths(
    {
      [SIMD_FILE]: SIMD_URL,
      'tfjs-backend-wasm.wasm': 'https://wasm.invalid/not-bundled/tfjs-backend-wasm.wasm',
      'tfjs-backend-wasm-threaded-simd.wasm': 'https://wasm.invalid/not-bundled/tfjs-backend-wasm-threaded-simd.wasm',
    },
    true,
  );
  const platform = env.platform;
  const platformFetch = platform.fetch;
  const instantiate = WebAssembly.instantiate;
  // With nodejs_compat, Emscripten would take its Node branch (and need __dirname): hide `process`.
  const g = globalThis as { process?: unknown };
  const hadProcess = Object.hasOwn(g, 'process');
  const savedProcess = g.process;

  platform.fetch = (async (path: string, init?: RequestInit) => {
    if (path !== SIMD_URL) return platformFetch.call(platform, path, init);
    return { ok: true, arrayBuffer: async () => simdModule };
  }) as typeof platform.fetch;
  WebAssembly.instantiate = (async (source: unknown, imports?: WebAssembly.Imports) => {
    if (source instanceof WebAssembly.Module) {
      const instance = await instantiate(source, imports);
      return { instance, module: source };
    }
    return instantiate(source as BufferSource, imports);
  }) as typeof WebAssembly.instantiate;
  if (hadProcess) g.process = undefined;
  try {
    const ok = await tf.setBackend('wasm');
    if (!ok || tf.getBackend() !== 'wasm') throw new BackendInitError('the WASM backend failed to initialise');
    await tf.ready();
  } finally {
    platform.fetch = platformFetch;
    WebAssembly.instantiate = instantiate;
    if (hadProcess) g.process = savedProcess;
  }
  provideGemmModule('simd', false, gemmSimdModule);
  registerServingKernels();
  return {
    backend: tf.getBackend(),
    simd: Boolean(await env.getAsync('WASM_HAS_SIMD_SUPPORT')),
    threads: Boolean(await env.getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
    tfjsVersion: tf.version_core,
  };
}

/**
 * Bytes of the WASM backend's linear memory: the weights, activations and pixels of every render
 * live there, and it only ever grows, so it is the figure to watch for leaks under load.
 */
export function wasmHeapBytes(): number | undefined {
  const backend = tf.findBackend('wasm') as { wasm?: { HEAPU8?: Uint8Array } } | null;
  return backend?.wasm?.HEAPU8?.byteLength;
}
