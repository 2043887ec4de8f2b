/**
 * Builds the Worker's embedded models: every exported model under models/<name>/ (a directory with a
 * manifest.json) becomes part of the bundle, so a fresh isolate serves it without reading R2.
 *
 * Each model's serving files (every file its manifest lists but the card and pictures, which are for
 * people: model.json, the shards, and whatever else a version's loader reads) are checked against the
 * sizes and sha256 the manifest lists, with core's model reader (the rules `gan publish` applies); a
 * model that fails is an error and nothing is written, so it cannot be deployed. Then
 * worker/src/embedded-models.gen.js is written: the manifest and JSON files as text, each .bin file
 * as a data module (wrangler's default rule for `**\/*.bin`: an ArrayBuffer in the bundle, no copy in
 * JavaScript).
 *
 * wrangler.toml's `[build] command` runs this before every `wrangler deploy`, `wrangler dev` and
 * dry run; tests/vitest.worker.config.ts runs it before the worker tests. It picks up whatever
 * models/ holds: a new version exported into models/emoji is embedded by the next build.
 *
 *   node --import tsx worker/scripts/embed-models.ts [--models-dir <dir>] [--out <file>]
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MANIFEST_FILE, type Manifest, parseManifest, readVerifiedFile } from '@gan/core/manifest';
import { parseModelJson, shardPaths } from '@gan/core/weights';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** models/, or GAN_MODELS_DIR (as `npm run dev` fills the local R2 from it). */
export const DEFAULT_MODELS_DIR = path.resolve(process.env.GAN_MODELS_DIR ?? path.join(root, 'models'));
/** Files a manifest lists that no loader reads: the model card and pictures. */
const PEOPLE_FILES = /(^README\.md|\.(png|svg|gif|jpe?g|webp))$/i;
const TEXT_FILES = /\.(json|txt)$/i;
const DATA_FILES = /\.bin$/i;
export const DEFAULT_OUT_FILE = path.join(root, 'worker/src/embedded-models.gen.js');

/** A model under models/ whose files cannot be embedded: the build stops. */
export class EmbeddedModelError extends Error {
  override name = 'EmbeddedModelError';
}

/** One model's checked serving files. */
export interface CheckedModel {
  /** Its directory under models/ (normally the model's name; `npm run dev -- ` on another folder may differ). */
  dir: string;
  manifest: Manifest;
  manifestText: string;
  /** The serving files: text (JSON) by content, data (.bin) by path, in the manifest's order. */
  files: { path: string; text?: string }[];
}

/**
 * The generator directories under `modelsDir`: those holding a manifest.json, sorted, less those whose
 * manifest declares another `kind` (a classifier, a learned upscaler), which are not served as models.
 * A manifest that is not even JSON stays in, so the check below stops the build on it.
 */
export function modelDirs(modelsDir: string): string[] {
  return readdirSync(modelsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(modelsDir, d.name, MANIFEST_FILE)))
    .map((d) => d.name)
    .filter((dir) => declaredKind(path.join(modelsDir, dir, MANIFEST_FILE)) === undefined)
    .sort();
}

function declaredKind(manifestFile: string): unknown {
  try {
    return (JSON.parse(readFileSync(manifestFile, 'utf8')) as { kind?: unknown }).kind;
  } catch {
    return undefined;
  }
}

/** UTF-8 text that encodes back to exactly `bytes` (so the worker can check its sha256 from the text). */
function exactText(bytes: Uint8Array, what: string): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const back = new TextEncoder().encode(text);
  if (back.length !== bytes.length || back.some((b, i) => b !== bytes[i])) {
    throw new EmbeddedModelError(`${what} is not plain UTF-8 text, so it cannot be embedded as text`);
  }
  return text;
}

/** Checks one model directory's manifest and serving files; throws EmbeddedModelError saying what is wrong. */
export async function checkModel(modelsDir: string, dir: string): Promise<CheckedModel> {
  const label = `models/${dir}`;
  const read = async (file: string) => {
    try {
      return new Uint8Array(readFileSync(path.join(modelsDir, dir, file)));
    } catch {
      return undefined;
    }
  };
  try {
    const manifestBytes = (await read(MANIFEST_FILE))!;
    const manifest = parseManifest(manifestBytes, label);
    // model.json and every shard it names must be listed (readVerifiedFile refuses unlisted ones).
    const modelJson = parseModelJson(exactText(await readVerifiedFile(label, manifest, 'model.json', read), `${label}/model.json`));
    for (const shard of shardPaths(modelJson)) await readVerifiedFile(label, manifest, shard, read);
    const files: CheckedModel['files'] = [];
    for (const { path: file } of manifest.files) {
      if (PEOPLE_FILES.test(file)) continue;
      const bytes = await readVerifiedFile(label, manifest, file, read);
      if (TEXT_FILES.test(file)) files.push({ path: file, text: exactText(bytes, `${label}/${file}`) });
      else if (DATA_FILES.test(file)) files.push({ path: file });
      else throw new EmbeddedModelError(`${label}: ${file} is neither JSON nor .bin, so the bundle cannot hold it`);
    }
    return { dir, manifest, manifestText: exactText(manifestBytes, `${label}/${MANIFEST_FILE}`), files };
  } catch (error) {
    if (error instanceof EmbeddedModelError) throw error;
    throw new EmbeddedModelError(`${label} cannot be embedded: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The generated module's text: imports of the data files and one entry per model. */
export function moduleText(models: CheckedModel[], outFile: string, modelsDir: string): string {
  const lines = [
    '// Generated by worker/scripts/embed-models.ts from models/ (checked against each manifest): do not edit.',
    '// The types are in embedded-models.gen.d.ts.',
  ];
  const entries: string[] = [];
  models.forEach((m, i) => {
    const files = m.files.map((file, j) => {
      if (file.text !== undefined) return `    [${JSON.stringify(file.path)}, ${JSON.stringify(file.text)}],`;
      const name = `data${i}_${j}`;
      const relative = path
        .relative(path.dirname(outFile), path.join(modelsDir, m.dir, file.path))
        .split(path.sep)
        .join('/');
      lines.push(`import ${name} from ${JSON.stringify(relative.startsWith('.') ? relative : `./${relative}`)};`);
      return `    [${JSON.stringify(file.path)}, ${name}],`;
    });
    const entry = ['  {', `    dir: ${JSON.stringify(m.dir)},`, `    manifest: ${JSON.stringify(m.manifestText)},`, '    files: ['];
    entries.push([...entry, ...files, '    ],', '  },'].join('\n'));
  });
  lines.push('', '/** @type {import("./embedded-models.gen.d.ts").EmbeddedModelFiles[]} */');
  lines.push(`export const EMBEDDED_MODEL_FILES = [${entries.length ? `\n${entries.join('\n')}\n` : ''}];`, '');
  return lines.join('\n');
}

export interface EmbedOptions {
  modelsDir?: string;
  outFile?: string;
  log?: (line: string) => void;
}

/** Checks every model under models/ and writes the generated module (only if all pass). */
export async function embedModels(options: EmbedOptions = {}): Promise<CheckedModel[]> {
  const modelsDir = path.resolve(options.modelsDir ?? DEFAULT_MODELS_DIR);
  const outFile = path.resolve(options.outFile ?? DEFAULT_OUT_FILE);
  const models: CheckedModel[] = [];
  // Several exports of one model (e.g. models/blobs-b1 and models/blobs-b2): the newest is embedded, as
  // the newest is the one `npm run dev` leaves current in the local R2.
  const newest = new Map<string, CheckedModel>();
  for (const dir of modelDirs(modelsDir)) {
    const checked = await checkModel(modelsDir, dir);
    const other = newest.get(checked.manifest.name);
    if (!other || other.manifest.createdAt < checked.manifest.createdAt) newest.set(checked.manifest.name, checked);
  }
  models.push(...[...newest.values()].sort((a, b) => a.manifest.name.localeCompare(b.manifest.name)));
  const text = moduleText(models, outFile, modelsDir);
  const old = existsSync(outFile) ? readFileSync(outFile, 'utf8') : undefined;
  if (old !== text) writeFileSync(outFile, text);
  for (const m of models)
    options.log?.(`embedded ${m.manifest.name}@${m.manifest.version} (${m.files.map((f) => f.path).join(', ')}: sha256 checked)`);
  return models;
}

function argValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  embedModels({
    modelsDir: argValue(args, '--models-dir'),
    outFile: argValue(args, '--out'),
    log: (l) => console.log(`embed-models: ${l}`),
  }).catch((error: unknown) => {
    console.error(`embed-models: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
