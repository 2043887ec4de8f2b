import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findExportDirs } from '@gan/registry';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

export interface GanRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts the `gan` command line as a child process (asynchronously: servers a test runs in its own
 * process must keep answering), for a test that signals it while it runs. The child gets its own
 * process group, which is ended afterwards: a local R2's workerd outlives a parent that was SIGKILLed.
 */
export function startGan(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<GanRun> } {
  const child = spawn(process.execPath, [path.join(repoRoot, 'trainer/bin/gan.js'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = new Promise<GanRun>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is already gone
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** Runs the `gan` command line to its end (see startGan). */
export function runGan(args: string[], env: Record<string, string> = {}): Promise<GanRun> {
  return startGan(args, env).done;
}

/**
 * `gan <command> …args --out <out> --backend <backend>`: a command that renders a file from a model
 * (sample, walk), on the wasm backend unless told otherwise.
 */
export function runRender(
  command: 'sample' | 'walk',
  args: string[],
  out: string,
  options: { backend?: string; env?: Record<string, string> } = {},
): Promise<GanRun> {
  return runGan([command, ...args, '--out', out, '--backend', options.backend ?? 'wasm'], options.env);
}

/**
 * The shipped generators: the exports under models/ (registry's findExportDirs) less those of another
 * kind, such as a model's learned upscaler (`"kind": "upscaler"` in its manifest).
 */
export function shippedGeneratorDirs(modelsDir = path.join(repoRoot, 'models')): string[] {
  return findExportDirs(modelsDir).filter((dir) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).kind === undefined);
}
