/**
 * `gan derive`: a NEW version of an exported model, with the same generator files and something
 * added to how it serves — a scorer and candidate sampling today (additions.ts's scorerAddition);
 * another addition (an upscaler) plugs in the same way: files of its own, a manifest section, a
 * card section. A published version is never changed: serving behaviour that would change bytes
 * comes as a new version, which a pinned URL of the old one never sees.
 *
 * The new version keeps the source's name, architecture, data set, training and metrics (the
 * generator is the same), gets its own version name and creation time, lists every file with its
 * sha256, re-renders sample.png through the new version (so it shows what it serves), and has the
 * source's card with its title updated and a section per addition appended.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { type Manifest, MANIFEST_FILE, buildManifest, gridPng, loadGenerator, sha256Hex, versionName } from '@gan/core';
import { readExportedModel } from '@gan/registry';
import { writeDirectoryAtomically } from '../atomic-write.ts';
import { previewLayout } from '../train/preview.ts';

/** What one addition brings to the derived version. */
export interface VersionAddition {
  /** Files added beside the generator's (plain names; they must not replace the source's). */
  files: Map<string, Uint8Array>;
  /** Manifest fields it sets (e.g. `sampling`). */
  manifest: Partial<Pick<Manifest, 'sampling' | 'upscaler'>>;
  /** Markdown appended to the card (a section with its own heading). */
  card: string;
}

export class DeriveError extends Error {
  override name = 'DeriveError';
}

export interface DeriveOptions {
  /** Exported model directory to derive from. */
  model: string;
  out: string;
  additions: VersionAddition[];
  version?: string;
  now?: Date;
  /** Markdown appended after the additions' sections. */
  cardNotes?: string;
}

export interface DeriveResult {
  outDir: string;
  manifest: Manifest;
  files: string[];
}

/** Files the derived version renders or writes anew rather than copying. */
const RENEWED = new Set(['README.md', 'sample.png', MANIFEST_FILE]);

export async function deriveVersion(options: DeriveOptions): Promise<DeriveResult> {
  if (options.additions.length === 0) throw new DeriveError('nothing to add: name at least one addition (e.g. --scorer)');
  const source = await readExportedModel(options.model);
  const old = source.manifest;
  const files = new Map([...source.files].filter(([p]) => !RENEWED.has(p)));
  let manifestFields: Partial<Pick<Manifest, 'sampling' | 'upscaler'>> = {};
  for (const addition of options.additions) {
    for (const [p, bytes] of addition.files) {
      if (files.has(p) || RENEWED.has(p))
        throw new DeriveError(`${p} would replace a file of the model: an addition brings files of its own`);
      files.set(p, bytes);
    }
    manifestFields = { ...manifestFields, ...addition.manifest };
  }

  // The version name's digest covers every file it serves from (the generator's and the additions')
  // and the manifest fields the additions set (K), so two derivations differ in name as they differ.
  const digestInput = [
    ...[...files].sort(([a], [b]) => a.localeCompare(b)).map(([, b]) => b),
    new TextEncoder().encode(JSON.stringify(manifestFields)),
  ];
  const joined = new Uint8Array(digestInput.reduce((s, b) => s + b.byteLength, 0));
  let offset = 0;
  for (const b of digestInput) {
    joined.set(b, offset);
    offset += b.byteLength;
  }
  const now = options.now ?? new Date();
  const version = options.version ?? versionName(now, await sha256Hex(joined as Uint8Array<ArrayBuffer>));
  if (version === old.version) throw new DeriveError(`the derived version must differ from ${old.version}`);

  const { formatVersion, imageSize, channels, latentSize, files: _files, sampling: _sampling, ...kept } = old;
  const base = { ...kept, version, createdAt: now.toISOString(), ...manifestFields };
  const draft = await buildManifest(base, files);
  files.set('sample.png', await sampleGrid(draft, files));
  const oldCard = source.files.get('README.md');
  const card = [
    retitle(oldCard ? new TextDecoder().decode(oldCard) : `# ${old.name} — ${old.version}\n`, old, version).trimEnd(),
    `## Derived version\nThis version serves the generator of \`${old.name}@${old.version}\` unchanged (the same model.json and weight files); what it adds follows. Figures above this section were measured on that version's plain samples unless a section says otherwise.`,
    ...options.additions.map((a) => a.card.trim()),
    ...(options.cardNotes?.trim() ? [options.cardNotes.trim()] : []),
  ].join('\n\n');
  files.set('README.md', new TextEncoder().encode(`${card}\n`));
  const manifest = await buildManifest(base, files);

  const target = path.resolve(options.out);
  if (existsSync(target)) {
    const entries = await readdir(target);
    if (entries.length > 0 && !entries.includes(MANIFEST_FILE)) {
      throw new DeriveError(`${target} exists and is not an export (no manifest.json): choose an empty or new --out`);
    }
  }
  await writeDirectoryAtomically(target, [...files, [MANIFEST_FILE, JSON.stringify(manifest, null, 2)]]);
  return { outDir: target, manifest, files: [...files.keys(), MANIFEST_FILE] };
}

/** The card's title line names the new version; elsewhere the old version stays as the source it is. */
function retitle(card: string, old: Manifest, version: string): string {
  const [first, ...rest] = card.split('\n');
  const title = first.startsWith('# ') ? `# ${old.name} — ${version}` : first;
  return [title, ...rest].join('\n');
}

/** The preview grid rendered through the derived version itself (its sampling included). */
async function sampleGrid(manifest: Manifest, files: Map<string, Uint8Array>): Promise<Uint8Array> {
  const generator = await loadGenerator(`${manifest.name}@${manifest.version}`, manifest, async (p) => files.get(p));
  try {
    const { rows, cols, cells } = previewLayout(manifest.architecture);
    return gridPng(generator, cells, { rows, cols, padding: 2 });
  } finally {
    generator.dispose();
  }
}
