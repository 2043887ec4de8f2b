/**
 * How core/asm is checked: Biome cannot parse AssemblyScript (its decorators, its `<i32>` casts), so
 * the AssemblyScript compiler itself is the linter here, with every warning it has (`--pedantic`) and
 * every feature a build uses; any diagnostic fails. (tests/core/gemm-kernels.test.ts checks the
 * committed `.wasm` are what the sources build to.)
 */
import asc from 'assemblyscript/asc';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const SOURCE = fileURLToPath(new URL('../../core/asm/gemm.ts', import.meta.url));

it('core/asm compiles with no diagnostic from asc --pedantic', async () => {
  const { error, stderr } = await asc.main(
    [
      SOURCE,
      '--runtime',
      'stub',
      '--importMemory',
      '--noAssert',
      '--pedantic',
      '--enable',
      'simd,bulk-memory,relaxed-simd,threads',
      '--noEmit',
    ],
    { writeFile: () => {} },
  );
  expect(error?.message).toBeUndefined();
  expect(stderr.toString()).toBe('');
});
