import { z } from 'zod';
import { ModelConfigSchema } from './config.ts';
import { UpscalerEntrySchema } from './upscaler.ts';
import { SCORER_JSON, SCORER_WEIGHTS, SamplingSchema } from './sampling.ts';

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
      /** How D was given the class (absent: constant planes on its input, as every run before had). */
      conditioning: z.enum(['planes', 'projection']).optional(),
      /** Weight of the auxiliary class loss on D's class head (absent or 0: none). */
      classLoss: z.number().min(0).optional(),
      /** Whether D's class head also learnt a "generated" class on G's images (absent: it did not). */
      fakeClass: z.boolean().optional(),
      /**
       * How G upsampled while it trained (absent: transposed convolutions). `resize`: nearest ×2 and a
       * 3x3 convolution, exported as the transposed convolution it equals (resize-conv.ts), so serving
       * is the same either way.
       */
      upsampling: z.enum(['transposed', 'resize']).optional(),
      /** Whether D's convolutions were spectrally normalised (absent: they were not). */
      spectralNorm: z.boolean().optional(),
      /** Weight of LeCam regularisation of D (absent or 0: none). */
      lecam: z.number().min(0).optional(),
      /** Weight of G's per-class matching of colour and gradient statistics (absent or 0: none). */
      statisticsMatching: z.number().min(0).optional(),
      /**
       * A vision-aided discriminator beside D (absent: none): G's weight on it, the steps that weight
       * ramped in over, and the frozen feature network its heads read (`<id>@<weights sha256 prefix>`).
       */
      visionAided: z.object({ weight: z.number().positive(), warmup: z.number().int().min(0), network: z.string() }).optional(),
    })
    .optional(),
  /**
   * The run whose trained weights this one started from (absent: from fresh initialisers); `steps`
   * and `seconds` then count the fine-tuning only, on top of that run's `step`.
   */
  initFrom: z
    .object({
      /** The source run's name (its directory's). */
      run: z.string(),
      step: z.number().int().nonnegative(),
      /** sha256 of the source checkpoint's tensors file. */
      tensorsSha256: z.string().regex(/^[0-9a-f]{64}$/),
    })
    .optional(),
});

/** A share in [0, 1]. */
const ShareSchema = z.number().min(0).max(1);
const PrecisionRecallSchema = z.object({ precision: ShareSchema, recall: ShareSchema }).passthrough();

/**
 * `metrics.evaluation`, as `gan evaluate --record` writes it. Every field is optional and unknown
 * fields are kept, so the evaluations of every earlier version (classifier FD, ImageNet FD and KID)
 * still load; the style judge's measures are checked where present: improved precision and recall
 * (k nearest neighbours, within style and pooled, each with its real-vs-real ceiling), the copy check,
 * and the size and truncation the images were served with.
 */
export const EvaluationRecordSchema = z
  .object({
    metric: z.string().optional(),
    size: z.number().int().positive().optional(),
    truncation: z.number().gt(0).lte(1).optional(),
    precisionRecall: z
      .object({
        k: z.number().int().positive(),
        withinStyle: PrecisionRecallSchema.optional(),
        pooled: PrecisionRecallSchema,
        ceiling: z.object({ withinStyle: PrecisionRecallSchema.optional(), pooled: PrecisionRecallSchema }).passthrough(),
      })
      .passthrough()
      .optional(),
    copies: z.object({ copies: ShareSchema, heldOutCopies: ShareSchema, threshold: z.number().nonnegative() }).passthrough().optional(),
  })
  .passthrough();
export type EvaluationRecord = z.infer<typeof EvaluationRecordSchema>;

/** `metrics`: free-form numbers of the run, and the recorded evaluation, checked when there is one. */
const MetricsSchema = z
  .record(z.string(), z.unknown())
  .default({})
  .superRefine((metrics, ctx) => {
    if (metrics.evaluation === undefined) return;
    const parsed = EvaluationRecordSchema.safeParse(metrics.evaluation);
    for (const issue of parsed.error?.issues ?? []) ctx.addIssue({ ...issue, path: ['evaluation', ...issue.path] });
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
    metrics: MetricsSchema,
    files: z.array(FileEntrySchema).min(1),
    /** The learned upscaler of `filter=learned` (upscaler.ts); absent: the version has none. */
    upscaler: UpscalerEntrySchema.optional(),
    /** Candidate sampling (sampling.ts); absent: each seed renders its own latent, as every version before. */
    sampling: SamplingSchema.optional(),
  })
  .superRefine((m, ctx) => {
    const a = m.architecture;
    if (m.upscaler) {
      const u = m.upscaler.architecture;
      if (u.inputSize !== a.imageSize || u.channels !== a.channels) {
        ctx.addIssue({ code: 'custom', message: "upscaler.architecture must match the generator's image size and channels" });
      }
      if (!m.files.some((f) => f.path === m.upscaler?.weights))
        ctx.addIssue({ code: 'custom', message: 'files must list upscaler.weights' });
    }
    if (m.imageSize !== a.imageSize || m.channels !== a.channels || m.latentSize !== a.latentSize) {
      ctx.addIssue({ code: 'custom', message: 'imageSize, channels and latentSize must match architecture' });
    }
    if (a.generatorConditioning === 'batch-norm' && a.numClasses === 0) {
      ctx.addIssue({ code: 'custom', message: 'architecture.generatorConditioning batch-norm needs classes' });
    }
    if (m.classes.length !== a.numClasses) {
      ctx.addIssue({ code: 'custom', message: `classes has ${m.classes.length} names, architecture ${a.numClasses}` });
    }
    if (!m.files.some((f) => f.path === 'model.json')) {
      ctx.addIssue({ code: 'custom', message: 'files must list model.json' });
    }
    if (m.files.some((f) => f.path === 'manifest.json')) {
      // Its own sha256 cannot be inside it: a manifest that lists itself was not written by an export.
      ctx.addIssue({ code: 'custom', message: 'files must not list manifest.json itself' });
    }
    if (m.sampling) {
      const s = m.sampling.scorer.architecture;
      if (s.imageSize !== a.imageSize || s.channels !== a.channels || s.numClasses !== a.numClasses) {
        ctx.addIssue({ code: 'custom', message: "sampling.scorer.architecture must match the generator's size, channels and classes" });
      }
      for (const path of [SCORER_JSON, SCORER_WEIGHTS]) {
        if (!m.files.some((f) => f.path === path)) ctx.addIssue({ code: 'custom', message: `files must list ${path} (sampling)` });
      }
    }
  });
export type Manifest = z.infer<typeof ManifestSchema>;

/** Hex sha256 of bytes, with the platform's Web Crypto (Node 20 and workerd both have it). */
export async function sha256Hex(data: ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', data);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------------------------------------------
// Reading a published or exported model, the one way every reader does it (the worker from R2, the
// trainer and the registry from a directory or a bucket): manifest.json parsed and checked against
// where it was found, then every file checked against the size and sha256 it lists before anything is
// decoded. The readers differ only in where the bytes come from and how they report.

export const MANIFEST_FILE = 'manifest.json';

/**
 * A model's files cannot be used. `model` names what was read (a directory, `name@version`);
 * `reason` says what is wrong with it, in words a 503 body or a CLI line can show as they are.
 */
export abstract class ModelFilesError extends Error {
  constructor(
    readonly model: string,
    readonly reason: string,
  ) {
    super(`${model}: ${reason}`);
  }
}

/** manifest.json is not JSON, not a valid manifest, or describes another model or version. */
export class InvalidManifestError extends ModelFilesError {
  override name = 'InvalidManifestError';
}

/** A file the manifest lists (or manifest.json itself) is not there. */
export class MissingModelFileError extends ModelFilesError {
  override name = 'MissingModelFileError';
  constructor(
    model: string,
    readonly path: string,
  ) {
    super(model, path === MANIFEST_FILE ? `${MANIFEST_FILE} is missing` : `file ${path} is missing`);
  }
}

/** A file's bytes do not match the size or sha256 the manifest lists for it. */
export class ModelFileMismatchError extends ModelFilesError {
  override name = 'ModelFileMismatchError';
  constructor(
    model: string,
    readonly path: string,
  ) {
    super(model, `file ${path} fails its size or sha256 check`);
  }
}

/** model.json names a file the manifest does not list, so nothing vouches for its bytes. */
export class UnlistedModelFileError extends ModelFilesError {
  override name = 'UnlistedModelFileError';
  constructor(
    model: string,
    readonly path: string,
  ) {
    super(model, `model.json names ${path.slice(0, 80)}, which the manifest does not list`);
  }
}

/** A file's bytes as a store returns them: `undefined` or `null` when it is not there. */
export type ModelFileBytes = Uint8Array | ArrayBuffer | null | undefined;
/** Where a model's files come from: a directory, a bucket, files in memory. */
export type ModelFileSource = (path: string) => Promise<ModelFileBytes>;

/**
 * Parses manifest.json's bytes or text. With `expected`, the manifest must describe that name and
 * version (a manifest copied under another key must not be served as this one).
 */
export function parseManifest(data: string | Uint8Array, model: string, expected?: { name: string; version: string }): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data));
  } catch {
    throw new InvalidManifestError(model, `${MANIFEST_FILE} is invalid (not JSON)`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidManifestError(model, `${MANIFEST_FILE} is invalid (${issue.path.join('.') || 'root'}: ${issue.message})`);
  }
  const manifest = parsed.data;
  if (expected && (manifest.name !== expected.name || manifest.version !== expected.version)) {
    throw new InvalidManifestError(model, `${MANIFEST_FILE} describes ${manifest.name}@${manifest.version}`);
  }
  return manifest;
}

/** The bytes of a listed file if they are there and match its entry; else the error that says why not. */
export async function verifyModelFile(model: string, entry: FileEntry, data: ModelFileBytes): Promise<Uint8Array> {
  if (data == null) throw new MissingModelFileError(model, entry.path);
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.byteLength !== entry.bytes || (await sha256Hex(bytes as Uint8Array<ArrayBuffer>)) !== entry.sha256) {
    throw new ModelFileMismatchError(model, entry.path);
  }
  return bytes;
}

/** Reads one file the manifest lists from `source` and verifies it. */
export async function readVerifiedFile(model: string, manifest: Manifest, path: string, source: ModelFileSource): Promise<Uint8Array> {
  const entry = manifest.files.find((f) => f.path === path);
  if (!entry) throw new UnlistedModelFileError(model, path);
  return verifyModelFile(model, entry, await source(path));
}
