import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The project's wrangler.toml for a bench, written into `dir` (returns its path): the entry point and
 * build command made absolute, no file watching, and without the per-client rate limits (one client
 * measuring, not a visitor). `minify: false` keeps the functions' names, for profiles.
 */
export function benchWranglerConfig(dir: string, options: { minify?: boolean } = {}): string {
  let text = readFileSync(join(root, 'wrangler.toml'), 'utf8')
    .replace(/^main = "(.*)"$/m, (_, main: string) => `main = "${join(root, main)}"`)
    .replace(/^command = "(.*)"$/m, (_, command: string) => `command = "cd ${root} && ${command}"`)
    .replace(/^watch_dir = .*$/m, '')
    .replace(/\[\[ratelimits\]\][^[]*/g, '');
  if (options.minify === false) text = text.replace(/^minify = true$/m, 'minify = false');
  const path = join(dir, 'wrangler.toml');
  writeFileSync(path, text);
  return path;
}

export interface WranglerDev {
  url: string;
  child: ChildProcess;
  /** What wrangler printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `wrangler dev` on 127.0.0.1:`port` in its own process group (wrangler runs workerd children)
 * and resolves once `readyPath` answers at all.
 */
export async function startWranglerDev(
  port: number,
  args: string[],
  options: { readyPath?: string; timeoutMs?: number } = {},
): Promise<WranglerDev> {
  const child = spawn('npx', ['wrangler', 'dev', '--port', String(port), '--ip', '127.0.0.1', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  };
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited: ${output.slice(-800)}`);
    try {
      await (await fetch(`${url}${options.readyPath ?? '/v1/openapi.json'}`)).arrayBuffer();
      return { url, child, output: () => output, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await stop();
  throw new Error(`wrangler dev did not start: ${output.slice(-800)}`);
}
