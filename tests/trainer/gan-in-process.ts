/** The `gan` command line run in the test's own process, for usage errors that stop it before any work. */
import { vi } from 'vitest';
import { main } from '@gan/trainer/cli';

/** `gan …args`: its exit code and what it wrote to stderr (kept from the terminal). */
export async function ganInProcess(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await main(['node', 'gan', ...args]), stderr };
  } finally {
    write.mockRestore();
  }
}
