/**
 * The PyTorch reference (bench/pytorch/dcgan.py) as a child process speaking JSON lines, so its
 * measurements can be interleaved with ours. Runs Debian's python (/usr/bin/python3: python3-torch
 * lives there, not in other pythons on PATH) after bench/pytorch/setup.sh installed what is missing.
 * OpenBLAS runs one thread: torch's own threads plus OpenBLAS threads oversubscribe two cores.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('../pytorch/', import.meta.url));

export class PyTorch {
  private readonly lines: AsyncIterator<string>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  /** Installs the dependencies if needed and starts the reference; undefined (with the reason) if it cannot. */
  static async start(): Promise<PyTorch | string> {
    try {
      execFileSync('sh', [`${here}setup.sh`], { stdio: ['ignore', 'pipe', 'inherit'] });
    } catch (e) {
      return `PyTorch set-up failed: ${(e as Error).message.split('\n')[0]}`;
    }
    const child = spawn('/usr/bin/python3', [`${here}dcgan.py`], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '2' },
    });
    child.stderr.on('data', (d) => process.stderr.write(`[pytorch] ${d}`));
    const py = new PyTorch(child);
    await py.send({ cmd: 'info' });
    return py;
  }

  async send<T = Record<string, unknown>>(cmd: Record<string, unknown>): Promise<T> {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error('the PyTorch reference exited');
    const reply = JSON.parse(next.value);
    if (reply.error) throw new Error(`PyTorch: ${reply.error}`);
    return reply as T;
  }

  close(): void {
    this.child.stdin.end();
  }
}

export const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
export const fromB64 = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
