/**
 * The GEMM on more than one thread, for training in Node on tfjs's threaded WASM build.
 *
 * XNNPACK's thread pool runs only XNNPACK's operators; the project's kernels (the filter and input
 * gradients, the matrix products) ran on the calling thread alone, half the machine on 2 cores. Here
 * each helper is a worker_thread with its own instance of the same GEMM module on the backend's shared
 * memory and its own scratch. A call is split into independent parts (column blocks of a product,
 * images of a Winograd convolution): the helpers take parts 1…, the calling thread part 0, then waits
 * for them. Each part's numbers are computed exactly as on one thread (every output element is the
 * same running sum: see core/asm/gemm.ts), so results do not depend on the thread count.
 *
 * Signalling is a SharedArrayBuffer per helper: the call's sequence number (the helper waits on it
 * with Atomics.wait), the export to run and its integer arguments, and the sequence number it finished
 * (the caller waits on that, at most `timeoutMs`: a helper that died or hangs fails the call with
 * GemmThreadError instead of blocking the trainer forever; one whose exit was seen fails every later
 * call at once). Node only: the worker has no threads.
 */
import type { Worker as NodeWorker } from 'node:worker_threads';
import type { Gemm, GemmParallel, GemmParallelExport } from './gemm.ts';

export class GemmThreadError extends Error {
  override name = 'GemmThreadError';
}

/** Control block layout (int32 slots). */
const SEQUENCE = 0; // written by the caller: the call to run (−1: stop)
const FINISHED = 1; // written by the helper: the last call it finished
const FAILED = 2; // 1 when that call threw
const EXPORT = 3; // index into EXPORTS
const ARGUMENT_COUNT = 4;
const ARGUMENTS = 5;
const MAX_ARGUMENTS = 32;
/** Longest single wait for a helper: a gap longer than this past it means the process was stopped. */
const WAIT_SLICE_MS = 1000;

/** The exports a helper can run, by index in the control block. */
const EXPORTS: readonly GemmParallelExport[] = ['gemm', 'winograd', 'winogradPhases', 'winogradFilterGradient'];

/** The helper's loop, run with `eval` (no file to resolve inside a bundle or a test runner). */
const HELPER_SCRIPT = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, exportNames } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const slots = new Int32Array(control);
let seen = 0;
for (;;) {
  Atomics.wait(slots, ${SEQUENCE}, seen);
  const sequence = Atomics.load(slots, ${SEQUENCE});
  if (sequence < 0) break;
  if (sequence === seen) continue;
  seen = sequence;
  let failed = 0;
  try {
    const args = Array.from(slots.subarray(${ARGUMENTS}, ${ARGUMENTS} + slots[${ARGUMENT_COUNT}]));
    exports[exportNames[slots[${EXPORT}]]](...args);
  } catch (e) {
    failed = 1;
  }
  Atomics.store(slots, ${FAILED}, failed);
  Atomics.store(slots, ${FINISHED}, sequence);
  Atomics.notify(slots, ${FINISHED});
}
`;

interface Helper {
  worker: NodeWorker;
  slots: Int32Array;
  /** Why the helper's thread ended, once its exit or error was seen. */
  ended?: string;
}

/**
 * Longest wait for a helper's part: parts are a few milliseconds to a second of work, so a helper
 * that has not finished by then has died (an exit the caller cannot see while it waits) or hangs.
 */
export const HELPER_TIMEOUT_MS = 60_000;

export interface GemmThreadOptions {
  /** Longest wait for a helper's part (default HELPER_TIMEOUT_MS). */
  timeoutMs?: number;
}

class HelperThreads implements GemmParallel {
  private sequence = 0;

  constructor(
    private readonly helpers: Helper[],
    private readonly timeoutMs: number,
  ) {}

  get count(): number {
    return this.helpers.length + 1;
  }

  run(name: GemmParallelExport, parts: number[][], here: (args: number[]) => void): void {
    const index = EXPORTS.indexOf(name);
    const sequence = ++this.sequence;
    const started = this.helpers.slice(0, parts.length - 1);
    const ended = started.find((h) => h.ended);
    if (ended) throw new GemmThreadError(`${name}: a helper thread has ended (${ended.ended})`);
    started.forEach(({ slots }, i) => {
      const args = parts[i + 1];
      if (args.length > MAX_ARGUMENTS) throw new GemmThreadError(`${name}: ${args.length} arguments`);
      slots[EXPORT] = index;
      slots[ARGUMENT_COUNT] = args.length;
      slots.set(args, ARGUMENTS);
      Atomics.store(slots, SEQUENCE, sequence);
      Atomics.notify(slots, SEQUENCE);
    });
    let failure: unknown;
    try {
      here(parts[0]);
    } catch (e) {
      failure = e;
    }
    let deadline = performance.now() + this.timeoutMs;
    for (const helper of started) {
      const { slots } = helper;
      for (let done = Atomics.load(slots, FINISHED); done !== sequence; done = Atomics.load(slots, FINISHED)) {
        const left = deadline - performance.now();
        if (left <= 0) {
          // Never handed another part: a hung helper could still write into this call's output.
          helper.ended ??= `did not finish a part in ${this.timeoutMs} ms`;
          failure ??= new GemmThreadError(`${name}: a helper thread did not finish its part in ${this.timeoutMs} ms (dead or hung)`);
          break;
        }
        // Waited in slices: a process stopped while waiting (SIGSTOP, as benches pause training) comes
        // back with its slice long past, and that time was no thread's work, so the deadline moves by it.
        const slice = Math.min(left, WAIT_SLICE_MS);
        const before = performance.now();
        Atomics.wait(slots, FINISHED, done, slice);
        const stopped = performance.now() - before - slice;
        if (stopped > WAIT_SLICE_MS) deadline += stopped;
      }
      if (slots[FAILED]) failure ??= new GemmThreadError(`${name} failed on a helper thread`);
    }
    if (failure) throw failure;
  }

  stop(): void {
    for (const { worker, slots } of this.helpers) {
      Atomics.store(slots, SEQUENCE, -1);
      Atomics.notify(slots, SEQUENCE);
      void worker.terminate();
    }
  }
}

/**
 * Starts `threads − 1` helper threads for `gemm` (whose memory must be shared: tfjs's threaded build)
 * and hands them to it; returns a function that stops them. Resolves once every helper is running.
 */
export async function startGemmThreads(gemm: Gemm, threads: number, options: GemmThreadOptions = {}): Promise<() => void> {
  const { Worker } = await import('node:worker_threads');
  const { module, memory } = gemm.instanceParts();
  if (!(memory.buffer instanceof SharedArrayBuffer)) throw new GemmThreadError('the backend memory is not shared');
  const helpers = await Promise.all(
    Array.from({ length: Math.max(0, threads - 1) }, async (): Promise<Helper> => {
      const control = new SharedArrayBuffer((ARGUMENTS + MAX_ARGUMENTS) * 4);
      const worker = new Worker(HELPER_SCRIPT, { eval: true, workerData: { module, memory, control, exportNames: EXPORTS } });
      await new Promise<void>((resolve, reject) => {
        worker.once('online', resolve);
        worker.once('error', reject);
      });
      worker.unref(); // a waiting helper must not keep the process alive
      const helper: Helper = { worker, slots: new Int32Array(control) };
      worker.once('error', (error) => {
        helper.ended ??= error.message;
      });
      worker.once('exit', (code) => {
        helper.ended ??= `exit code ${code}`;
      });
      return helper;
    }),
  );
  const threadsOf = new HelperThreads(helpers, options.timeoutMs ?? HELPER_TIMEOUT_MS);
  gemm.useParallel(threadsOf);
  return () => {
    gemm.useParallel(undefined);
    threadsOf.stop();
  };
}
