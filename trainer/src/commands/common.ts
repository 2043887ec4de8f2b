/** What the subcommands share: flag parsers that name the flag, the usage error, backend choice. */
import { InvalidArgumentError, Option } from 'commander';
import { type BackendChoice, BACKEND_ALIASES, parseBackendChoice, selectBackend } from '../backend.ts';
import { MAX_WASM_THREADS, defaultWasmThreads } from '../wasm-threads.ts';

/** Bad usage found after parsing (flags that conflict, a value that is wrong in context): exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
  }
}

export const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER ? `must be an integer ≥ ${min}` : `must be an integer from ${min} to ${max}`,
      );
    }
    return n;
  };

export const positiveNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
};

export const nonNegativeNumber = (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number ≥ 0');
  return n;
};

export const fraction = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n >= 1) throw new InvalidArgumentError('must be a number in [0, 1)');
  return n;
};

export const oneOf =
  <T extends number>(...allowed: T[]) =>
  (value: string): T => {
    const n = Number(value) as T;
    if (!allowed.includes(n)) throw new InvalidArgumentError(`must be one of ${allowed.join(', ')}`);
    return n;
  };

export function backendOption(): Option {
  return new Option(
    '--backend <name>',
    `TensorFlow.js backend: auto (best present: tensorflow-gpu, tensorflow, wasm, cpu) or one of ${Object.keys(BACKEND_ALIASES)
      .filter((n) => n !== 'auto')
      .join(', ')}`,
  )
    .default('auto')
    .argParser((value: string) => {
      const choice = parseBackendChoice(value);
      if (!choice) throw new InvalidArgumentError(`unknown backend; use auto, wasm, cpu, tensorflow or tensorflow-gpu`);
      return choice;
    });
}

export function threadsOption(): Option {
  return new Option('--threads <n>', `threads for the wasm backend (default: one per core, here ${defaultWasmThreads()})`).argParser(
    integer(1, MAX_WASM_THREADS),
  );
}

/** What `backendOption()` and `threadsOption()` parse into. */
export interface BackendFlags {
  backend: BackendChoice;
  threads?: number;
}

/** Activates the backend and says which one runs (and why faster ones were skipped). */
export async function activateBackend(flags: BackendFlags, log: (line: string) => void): Promise<string> {
  const selection = await selectBackend(flags.backend, { threads: flags.threads }, log);
  for (const s of selection.skipped) log(`backend ${s.name} unavailable: ${s.reason}`);
  log(
    `backend: ${selection.name}${selection.name === 'wasm' ? ` (${selection.threads} thread${selection.threads === 1 ? '' : 's'})` : ''}`,
  );
  return selection.name;
}

export const info = (line: string) => process.stdout.write(`${line}\n`);
export const warn = (line: string) => process.stderr.write(`${line}\n`);
