/**
 * `npm run dev`: fills the local R2 that `wrangler dev` serves with every exported model in models/,
 * through the same publish code as `gan publish --local` (so what runs locally is what a publish
 * produces), then starts `wrangler dev`. Arguments after `--` go to wrangler:
 * `npm run dev -- --port 8799`. A `--persist-to <dir>` among them is honoured for the fill as well.
 * `GAN_MODELS_DIR` points the fill at another directory than models/.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExportIntegrityError, readExportedModel, type ExportedModel } from '../../trainer/src/registry/exported-model.ts';
import { openLocalR2 } from '../../trainer/src/registry/local-r2.ts';
import { publishModel, VersionConflictError } from '../../trainer/src/registry/publish.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Directories under models/ (one or two levels down) that hold an export's manifest.json. */
export function findExportDirs(modelsDir: string): string[] {
  if (!existsSync(modelsDir)) return [];
  const found: string[] = [];
  const visit = (dir: string, depth: number) => {
    if (existsSync(path.join(dir, 'manifest.json'))) found.push(dir);
    if (depth === 0) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith('.')) visit(path.join(dir, entry.name), depth - 1);
    }
  };
  for (const entry of readdirSync(modelsDir, { withFileTypes: true })) {
    if (entry.isDirectory()) visit(path.join(modelsDir, entry.name), 1);
  }
  return found.sort();
}

/** The value of `--persist-to` among wrangler's arguments (`--persist-to dir` or `--persist-to=dir`). */
export function persistToFrom(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--persist-to') return args[i + 1];
    if (args[i].startsWith('--persist-to=')) return args[i].slice('--persist-to='.length);
  }
  return undefined;
}

/** Publishes every export under `modelsDir` to the local R2; the newest export of each model ends up current. */
export async function fillLocalR2(options: { modelsDir: string; configPath: string; persistTo?: string; log?: (line: string) => void }): Promise<string[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const models: ExportedModel[] = [];
  for (const dir of findExportDirs(options.modelsDir)) {
    try {
      models.push(await readExportedModel(dir));
    } catch (error) {
      // models/ also holds things that are not generator exports (the evaluation classifier).
      if (error instanceof ExportIntegrityError) log(`dev: skipping ${path.relative(root, dir)}: ${error.message}`);
      else throw error;
    }
  }
  models.sort((a, b) => a.manifest.createdAt.localeCompare(b.manifest.createdAt));
  if (models.length === 0) {
    log('dev: no exported models under models/ (gan export --out models/<name>); the worker will answer 503');
    return [];
  }
  const storage = await openLocalR2({ configPath: options.configPath, persistTo: options.persistTo });
  const published: string[] = [];
  try {
    for (const model of models) {
      const id = `${model.manifest.name}@${model.manifest.version}`;
      try {
        const result = await publishModel(storage, model);
        log(`dev: ${id} → ${storage.description}: ${result.uploaded.length ? `${result.uploaded.length} objects uploaded` : 'already there'}`);
        published.push(id);
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
        log(`dev: ${id} not published: ${error.message} (delete .wrangler/state to start the local bucket afresh)`);
      }
    }
  } finally {
    await storage.close();
  }
  return published;
}

async function main(): Promise<void> {
  const wranglerArgs = process.argv.slice(2);
  const configPath = path.join(root, 'wrangler.toml');
  const persistTo = persistToFrom(wranglerArgs);
  await fillLocalR2({ modelsDir: path.resolve(process.env.GAN_MODELS_DIR ?? path.join(root, 'models')), configPath, persistTo: persistTo && path.resolve(persistTo) });
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
