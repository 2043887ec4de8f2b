import { z } from 'zod';
import { ModelConfigSchema } from './config.ts';

/** Model names are lower-case slugs: they appear in URLs and R2 keys. */
export const ModelNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a lower-case slug: a-z, 0-9 and -, at most 64');
/** Versions are immutable once published; URL- and key-safe. */
export const ModelVersionSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, . _ -, at most 64');

export const FileEntrySchema = z
  .object({
    path: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a plain file name'),
    bytes: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
export type FileEntry = z.infer<typeof FileEntrySchema>;

export const DatasetInfoSchema = z.object({
  name: z.string(),
  licence: z.string(),
  attribution: z.string().optional(),
  images: z.number().int().nonnegative().optional(),
});

export const TrainingInfoSchema = z.object({
  steps: z.number().int().nonnegative(),
  batchSize: z.number().int().positive(),
  backend: z.string(),
  seconds: z.number().nonnegative(),
  seed: z.string().optional(),
  /** Objective and data-efficiency options the generator was trained with (absent: the article's). */
  recipe: z
    .object({
      loss: z.enum(['bce', 'hinge']),
      diffAugment: z.array(z.string()),
      ema: z.number().min(0).max(1).nullable(),
    })
    .optional(),
});

/**
 * `manifest.json`, published beside `model.json` and the weight shards. `architecture` is the full
 * config the generator is rebuilt from; the top-level size fields repeat it for clients that only
 * want to know what images they will get, and must agree with it.
 */
export const ManifestSchema = z
  .object({
    formatVersion: z.literal(1),
    name: ModelNameSchema,
    version: ModelVersionSchema,
    createdAt: z.string().datetime(),
    imageSize: z.number().int(),
    channels: z.number().int(),
    latentSize: z.number().int(),
    classes: z.array(z.string().min(1).max(64)),
    architecture: ModelConfigSchema,
    weightsFormat: z.enum(['float32', 'float16']),
    dataset: DatasetInfoSchema,
    training: TrainingInfoSchema,
    metrics: z.record(z.string(), z.unknown()).default({}),
    files: z.array(FileEntrySchema).min(1),
  })
  .superRefine((m, ctx) => {
    const a = m.architecture;
    if (m.imageSize !== a.imageSize || m.channels !== a.channels || m.latentSize !== a.latentSize) {
      ctx.addIssue({ code: 'custom', message: 'imageSize, channels and latentSize must match architecture' });
    }
    if (m.classes.length !== a.numClasses) {
      ctx.addIssue({ code: 'custom', message: `classes has ${m.classes.length} names, architecture ${a.numClasses}` });
    }
    if (!m.files.some((f) => f.path === 'model.json')) {
      ctx.addIssue({ code: 'custom', message: 'files must list model.json' });
    }
  });
export type Manifest = z.infer<typeof ManifestSchema>;

/** Hex sha256 of bytes, with the platform's Web Crypto (Node 20 and workerd both have it). */
export async function sha256Hex(data: ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', data);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
