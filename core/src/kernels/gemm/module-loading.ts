/**
 * Where the compiled GEMM module comes from, and which variant this engine runs. A runtime that
 * cannot compile WebAssembly from bytes (workerd) hands it over with `provideGemmModule` (the worker
 * imports the `.wasm`, which arrives compiled); in Node the files are read from disk (through
 * `process.getBuiltinModule`, so nothing here imports a Node module and the worker can bundle this
 * file). Relaxed SIMD (fused multiply-add where the CPU has it) when the engine validates that module,
 * plain SIMD otherwise; Node 20 validates it only after `enableRelaxedSimd()` sets a V8 flag.
 */
import type { GemmVariant } from './module-types.ts';

const fileName = (variant: GemmVariant, shared: boolean) => `gemm-${variant}${shared ? '-shared' : ''}.wasm`;
const provided = new Map<string, WebAssembly.Module>();
const compiled = new Map<string, WebAssembly.Module>();

/** Node's built-in modules without importing them (undefined outside Node). */
function nodeBuiltin<T>(name: string): T | undefined {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return process?.getBuiltinModule?.(name) as T | undefined;
}

/** The committed module's bytes (Node), or undefined where files cannot be read. */
function moduleBytes(variant: GemmVariant, shared: boolean): Uint8Array<ArrayBuffer> | undefined {
  const fs = nodeBuiltin<{ readFileSync(path: URL): Uint8Array<ArrayBuffer> }>('node:fs');
  return fs ? new Uint8Array(fs.readFileSync(new URL(`./${fileName(variant, shared)}`, import.meta.url))) : undefined;
}

/** Gives the kernel a compiled module (where the runtime cannot compile bytes: the worker's bundled `.wasm`). */
export function provideGemmModule(variant: GemmVariant, shared: boolean, module: WebAssembly.Module): void {
  provided.set(fileName(variant, shared), module);
}

/** The compiled module of a variant, or undefined when this engine cannot have it. */
export function gemmModule(variant: GemmVariant, shared: boolean): WebAssembly.Module | undefined {
  const name = fileName(variant, shared);
  const given = provided.get(name);
  if (given) return given;
  if (!compiled.has(name)) {
    const bytes = moduleBytes(variant, shared);
    // Not cached while invalid: enableRelaxedSimd() may make it valid later.
    if (!bytes || !WebAssembly.validate(bytes)) return undefined;
    compiled.set(name, new WebAssembly.Module(bytes));
  }
  return compiled.get(name);
}

/**
 * Lets Node 20's V8 compile relaxed SIMD (on by default from Node 22). Must run before the module is
 * compiled; harmless where relaxed SIMD is already on, and does nothing outside Node.
 */
export function enableRelaxedSimd(): void {
  const bytes = moduleBytes('relaxed-simd', false);
  const v8 = nodeBuiltin<{ setFlagsFromString(flags: string): void }>('node:v8');
  if (bytes && v8 && !WebAssembly.validate(bytes)) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
}

/** The best variant this engine has. */
export function bestGemmVariant(): GemmVariant {
  return gemmModule('relaxed-simd', false) ? 'relaxed-simd' : 'simd';
}

/**
 * Whether this engine bounds-checks every memory access (workerd does): there the convolution's tiles
 * load A as one vector split by shuffles (fewer loads), elsewhere as four splatted loads. Same bits.
 */
export const BOUNDS_CHECKED = typeof navigator !== 'undefined' && navigator.userAgent === 'Cloudflare-Workers';
