/** Output of work run in the test's own process (the `gan` command line, the retrain script), kept from the terminal. */
import { vi } from 'vitest';

/** Runs `work` with stdout and stderr captured: its result and everything it printed, in order. */
export async function captured<T>(work: () => Promise<T>): Promise<{ result: T; out: string }> {
  let out = '';
  const capture = (chunk: unknown) => {
    out += String(chunk);
    return true;
  };
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    return { result: await work(), out };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}
