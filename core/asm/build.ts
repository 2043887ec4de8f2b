/**
 * Builds the AssemblyScript matrix kernels (core/asm/gemm.ts) into the `.wasm` files committed under
 * core/src/kernels/gemm/, so installs, tests, `npm run dev` and deploys need no build step; a test
 * rebuilds them and compares bytes. After editing gemm.ts or elementwise.ts: `npm run build:kernels`.
 *
 * Four builds: plain SIMD and relaxed SIMD (f32x4.relaxed_madd), each for an unshared memory (tfjs's
 * single-threaded build) and a shared one (its threaded build): an imported memory must match the
 * module's declaration in sharedness.
 */
import asc from 'assemblyscript/asc';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./gemm.ts', import.meta.url));
export const GEMM_OUT_DIR = fileURLToPath(new URL('../src/kernels/gemm/', import.meta.url));

export class KernelBuildError extends Error {
  override name = 'KernelBuildError';
}

export const GEMM_BUILDS = {
  'gemm-simd.wasm': { relaxed: false, shared: false },
  'gemm-relaxed-simd.wasm': { relaxed: true, shared: false },
  'gemm-simd-shared.wasm': { relaxed: false, shared: true },
  'gemm-relaxed-simd-shared.wasm': { relaxed: true, shared: true },
} as const;
export type GemmBuildName = keyof typeof GEMM_BUILDS;

/** Compiles one build in memory. */
export async function buildGemm(name: GemmBuildName): Promise<Uint8Array> {
  const { relaxed, shared } = GEMM_BUILDS[name];
  const features = ['simd', 'bulk-memory', ...(relaxed ? ['relaxed-simd'] : []), ...(shared ? ['threads'] : [])];
  const argv = [SOURCE, '--runtime', 'stub', '--importMemory', '--noAssert', '-O3', '--use', 'abort=', '--enable', features.join(','), '-o', 'out.wasm'];
  if (shared) argv.push('--sharedMemory', '--maximumMemory', '65536');
  let binary: Uint8Array | undefined;
  const { error, stderr } = await asc.main(argv, {
    writeFile: (file, contents) => {
      if (file.endsWith('.wasm')) binary = contents as Uint8Array;
    },
  });
  if (error || !binary) throw new KernelBuildError(`asc failed for ${name}: ${error?.message ?? 'no output'}\n${stderr.toString()}`);
  return binary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const name of Object.keys(GEMM_BUILDS) as GemmBuildName[]) {
    const binary = await buildGemm(name);
    writeFileSync(GEMM_OUT_DIR + name, binary);
    console.log(`${name}: ${binary.length} bytes`);
  }
}
