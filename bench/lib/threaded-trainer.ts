/**
 * The training iteration on multi-threaded WASM, in a child process: the thread count of the wasm
 * backend is fixed when a process first initialises it, and this benchmark's own process runs the
 * single-threaded backend (the one the worker uses). Asked over IPC, so its timings interleave with
 * the others'.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./threaded-trainer-child.ts', import.meta.url));

interface Reply {
  threads?: number;
  ms?: number[];
  gflops?: number;
  error?: string;
}

export class ThreadedTrainer {
  private constructor(
    private readonly proc: ChildProcess,
    readonly threads: number,
  ) {}

  /** `env` adds to the child's environment (e.g. GAN_KERNELS=tfjs for tfjs's own matrix products). */
  static async start(threads: number, batch: number, env: Record<string, string> = {}): Promise<ThreadedTrainer> {
    const proc = fork(child, [String(threads), String(batch)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...env },
    });
    const ready = await ThreadedTrainer.reply(proc);
    return new ThreadedTrainer(proc, ready.threads!);
  }

  private static reply(proc: ChildProcess): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the threaded trainer exited (${code})`));
      proc.once('exit', onExit);
      proc.once('message', (m: Reply) => {
        proc.off('exit', onExit);
        if (m.error) reject(new Error(m.error));
        else resolve(m);
      });
    });
  }

  /** Milliseconds of each of `reps` iterations. */
  async time(reps: number): Promise<number[]> {
    this.proc.send({ reps });
    return (await ThreadedTrainer.reply(this.proc)).ms!;
  }

  /** GFLOP/s of a 1024² matrix product on this process's threads. */
  async gemmGflops(): Promise<number> {
    this.proc.send({ gemm: true });
    return (await ThreadedTrainer.reply(this.proc)).gflops!;
  }

  stop(): void {
    this.proc.kill();
  }
}
