/**
 * `npm run dev`: fills the local R2 that `wrangler dev` serves with every exported model in models/,
 * through the same publish code as `gan publish --local` (so what runs locally is what a publish
 * produces), then starts `wrangler dev`. Arguments after `--` go to wrangler:
 * `npm run dev -- --port 8799`. A `--persist-to <dir>` among them is honoured for the fill as well.
 * `GAN_MODELS_DIR` points the fill at another directory than models/.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fillLocalR2 } from '@gan/registry/fill-local';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The value of `--persist-to` among wrangler's arguments (`--persist-to dir` or `--persist-to=dir`). */
export function persistToFrom(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--persist-to') return args[i + 1];
    if (args[i].startsWith('--persist-to=')) return args[i].slice('--persist-to='.length);
  }
  return undefined;
}

async function main(): Promise<void> {
  const wranglerArgs = process.argv.slice(2);
  const configPath = path.join(root, 'wrangler.toml');
  const persistTo = persistToFrom(wranglerArgs);
  await fillLocalR2({
    modelsDir: path.resolve(process.env.GAN_MODELS_DIR ?? path.join(root, 'models')),
    configPath,
    persistTo: persistTo && path.resolve(persistTo),
    log: (line) => console.log(`dev: ${line}`),
  });
  const child = spawn('npx', ['wrangler', 'dev', ...wranglerArgs], { cwd: root, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`dev: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
