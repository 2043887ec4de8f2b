/**
 * The upscaler's export, written like a generator's: `upscaler.json` (tfjs's weightsManifest form),
 * its weight shard(s) `upscaler-group1-shardKofN.bin`, `manifest.json` with the size and sha256 of
 * every file, and a card (README.md). The same two weight files, byte for byte, are what a model
 * version that ships the upscaler lists (its manifest's `upscaler` entry): `gan derive --upscaler`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  DatasetInfoSchema,
  FileEntrySchema,
  MANIFEST_FILE,
  ModelNameSchema,
  ModelVersionSchema,
  describeFiles,
  readVerifiedFile,
  sha256Hex,
  versionName,
} from '@gan/core';
import { UPSCALER_WEIGHTS_FILE, UpscalerConfigSchema, upscalerMultiplyAdds } from '@gan/core/upscaler';
import { encodeUpscalerFiles } from '@gan/core/upscaler-files';
import { z } from 'zod';
import { writeDirectoryAtomically } from '../atomic-write.ts';
import { UpscalerSettingsSchema, checkpointUpscaler } from './train.ts';

export const UpscalerManifestSchema = z
  .object({
    formatVersion: z.literal(1),
    kind: z.literal('upscaler'),
    name: ModelNameSchema,
    version: ModelVersionSchema,
    createdAt: z.string().datetime(),
    architecture: UpscalerConfigSchema,
    /** The model version whose images it was made for (and checked on). */
    trainedFor: z.object({ name: ModelNameSchema, version: ModelVersionSchema }).strict(),
    dataset: DatasetInfoSchema,
    /** Each stage's settings, in order, with its steps and CPU seconds. */
    training: z.array(z.object({ run: z.string(), settings: UpscalerSettingsSchema, cpuSeconds: z.number().optional() })),
    metrics: z.record(z.string(), z.unknown()).default({}),
    files: z.array(FileEntrySchema).min(1),
  })
  .strict();
export type UpscalerManifest = z.infer<typeof UpscalerManifestSchema>;

export class UpscalerExportError extends Error {
  override name = 'UpscalerExportError';
}

export interface UpscalerExportOptions {
  /** Run directories of the stages, in order; the last one's checkpoint is exported. */
  runs: string[];
  out: string;
  name: string;
  trainedFor: { name: string; version: string };
  dataset: z.infer<typeof DatasetInfoSchema>;
  metrics?: Record<string, unknown>;
  /** Markdown appended to the card (figures, samples). */
  cardNotes?: string;
  now?: Date;
}

async function cpuSecondsOf(run: string): Promise<number | undefined> {
  const file = path.join(run, 'cpu-seconds.json');
  if (!existsSync(file)) return undefined;
  return (JSON.parse(await readFile(file, 'utf8')) as { seconds: number }).seconds;
}

/** The weight files of the last stage's checkpoint: upscaler.json and its shard(s). */
export async function upscalerFiles(
  run: string,
): Promise<{ files: Map<string, Uint8Array>; settings: z.infer<typeof UpscalerSettingsSchema> }> {
  const { settings, weights } = await checkpointUpscaler(run);
  const named = Object.entries(weights).map(([name, t]) => ({ name, shape: t.shape, data: t.dataSync() as Float32Array }));
  for (const t of Object.values(weights)) t.dispose();
  return { files: encodeUpscalerFiles(settings.config, named), settings };
}

function card(m: UpscalerManifest, notes: string | undefined): string {
  const a = m.architecture;
  const stages = m.training
    .map(
      (t, i) =>
        `| ${i + 1} | ${t.settings.steps} | ${t.settings.featureWeight} | ${t.settings.adversarialWeight}${t.settings.adversarialSamples ? " (on the generator's samples)" : ''} | ${t.settings.degrade.noise} / ${t.settings.degrade.blur} | ${t.cpuSeconds?.toFixed(0) ?? '–'} |`,
    )
    .join('\n');
  return `# ${m.name} ${m.version}

A learned ×${a.scale} upscaler for **${m.trainedFor.name}@${m.trainedFor.version}** (${a.inputSize} px → ${a.scale * a.inputSize} px): the
worker's \`filter=learned\` on a model version that lists it. ESPCN-like (Shi et al. 2016) with a residual
to the bilinear enlargement: 3×3 convolutions of widths ${a.widths.join(', ')} at ${a.inputSize} px, one to ${a.scale * a.scale * a.channels}
channels, pixel shuffle ×${a.scale}${a.refineWidth === undefined ? '' : `, then ${(a.refineBlocks ?? 1) > 1 ? `${a.refineBlocks} residual refinements in turn` : 'a residual refinement'} at ${a.scale * a.inputSize} px (3×3 convolutions to ${a.refineWidth} channels and back to ${a.channels})`}; ${(upscalerMultiplyAdds(a) / 1e6).toFixed(1)} M multiply-adds per image (core/src/upscaler.ts).

Trained on real pairs (\`gan upscaler train\`): each icon of the ${m.dataset.name} data set rendered by resvg at
${a.inputSize} px exactly as the generator's training images are, and at ${a.scale * a.inputSize} px. The emoji
evaluation's held-out icons (the last 10 % of each style) never enter its training.

| stage | steps | feature weight | adversarial weight | input noise / blur | CPU s |
|---|---|---|---|---|---|
${stages}

Data: ${m.dataset.attribution ?? m.dataset.name} Licence: ${m.dataset.licence}.
${notes ? `\n${notes.trim()}\n` : ''}`;
}

/** Writes the export directory; returns its manifest. */
export async function exportUpscaler(options: UpscalerExportOptions): Promise<UpscalerManifest> {
  if (options.runs.length === 0) throw new UpscalerExportError('no run to export');
  const last = options.runs[options.runs.length - 1];
  const { files, settings } = await upscalerFiles(last);
  const training = [];
  for (const run of options.runs) {
    const saved = UpscalerSettingsSchema.parse(JSON.parse(await readFile(path.join(run, 'settings.json'), 'utf8')));
    training.push({ run: path.basename(run), settings: saved, cpuSeconds: await cpuSecondsOf(run) });
  }
  const now = options.now ?? new Date();
  const weightsSha = await sha256Hex([...files].find(([p]) => p !== UPSCALER_WEIGHTS_FILE)![1] as Uint8Array<ArrayBuffer>);
  const manifest = UpscalerManifestSchema.parse({
    formatVersion: 1,
    kind: 'upscaler',
    name: options.name,
    version: versionName(now, weightsSha),
    createdAt: now.toISOString(),
    architecture: settings.config,
    trainedFor: options.trainedFor,
    dataset: options.dataset,
    training,
    metrics: options.metrics ?? {},
    files: await describeFiles(files),
  });
  const all = new Map(files);
  all.set('README.md', new TextEncoder().encode(card(manifest, options.cardNotes)));
  all.set(MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
  await writeDirectoryAtomically(options.out, all);
  return manifest;
}

/** Reads an upscaler export: its manifest and weight files, each verified against the manifest. */
export async function readUpscalerExport(dir: string): Promise<{ manifest: UpscalerManifest; files: Map<string, Uint8Array> }> {
  const manifest = UpscalerManifestSchema.parse(JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')));
  const files = new Map<string, Uint8Array>();
  const source = async (p: string) => (existsSync(path.join(dir, p)) ? new Uint8Array(await readFile(path.join(dir, p))) : undefined);
  // readVerifiedFile wants a generator manifest; the file entries are the same shape.
  const asModel = { files: manifest.files } as Parameters<typeof readVerifiedFile>[1];
  for (const f of manifest.files)
    files.set(f.path, await readVerifiedFile(`${manifest.name}@${manifest.version}`, asModel, f.path, source));
  return { manifest, files };
}
