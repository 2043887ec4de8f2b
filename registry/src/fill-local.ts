/**
 * Filling wrangler dev's local R2 from a directory of exports (`models/`): what `npm run dev`, the
 * worker benchmarks and the integration tests serve. Each export goes through `publishModel`, the
 * code `gan publish` runs against the real bucket, so what runs locally is what a publish produces.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ModelFilesError } from '@gan/core/manifest';
import { type ExportedModel, readExportedModel } from './exported-model.ts';
import { openLocalR2 } from './local-r2.ts';
import { VersionConflictError, publishModel } from './publish.ts';

/** Directories under `modelsDir` (one or two levels down) that hold an export's manifest.json. */
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

export interface FillLocalR2Options {
  modelsDir: string;
  /** wrangler.toml binding the models bucket. */
  configPath: string;
  /** wrangler's `--persist-to` directory (default `.wrangler/state` beside wrangler.toml). */
  persistTo?: string;
  log?: (line: string) => void;
}

/** Publishes every export under `modelsDir` to the local R2; the newest export of each model ends up current. */
export async function fillLocalR2(options: FillLocalR2Options): Promise<string[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const models: ExportedModel[] = [];
  for (const dir of findExportDirs(options.modelsDir)) {
    const kind = declaredKind(dir);
    if (kind !== undefined) {
      // A model's learned upscaler or a classifier: published with the version that names it, not as a model.
      log(`not a model, left out: ${path.relative(process.cwd(), dir)} (${String(kind)})`);
      continue;
    }
    try {
      models.push(await readExportedModel(dir));
    } catch (error) {
      // models/ also holds things that are not generator exports (the evaluation classifier).
      if (error instanceof ModelFilesError) log(`skipping ${path.relative(process.cwd(), dir)}: ${error.message}`);
      else throw error;
    }
  }
  models.sort((a, b) => a.manifest.createdAt.localeCompare(b.manifest.createdAt));
  if (models.length === 0) {
    log('no exported models under models/ (gan export --out models/<name>); the worker will answer 503');
    return [];
  }
  const storage = await openLocalR2({ configPath: options.configPath, persistTo: options.persistTo });
  const published: string[] = [];
  try {
    for (const model of models) {
      const id = `${model.manifest.name}@${model.manifest.version}`;
      try {
        const result = await publishModel(storage, model);
        log(`${id} → ${storage.description}: ${result.uploaded.length ? `${result.uploaded.length} objects uploaded` : 'already there'}`);
        published.push(id);
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
        log(`${id} not published: ${error.message} (delete .wrangler/state to start the local bucket afresh)`);
      }
    }
  } finally {
    await storage.close();
  }
  return published;
}

/** The `kind` a manifest declares (generators declare none); undefined where it is not readable JSON. */
function declaredKind(dir: string): unknown {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { kind?: unknown }).kind;
  } catch {
    return undefined;
  }
}
