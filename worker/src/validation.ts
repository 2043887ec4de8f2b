/**
 * Every request parameter is validated here, and only here, before any work is done. What leaves this
 * module is typed, bounded and normalised: R2 keys are built only from a validated model name and
 * version, and cache keys only from normalised parameters.
 */
import { z } from 'zod';
import { type ClassChoice, type Manifest, MAX_SEED_LENGTH, ModelNameSchema, ModelVersionSchema } from '@gan/core';
import { InvalidParameterError } from './errors.ts';

export const LIMITS = {
  minSize: 8,
  maxSize: 512,
  maxCells: 16,
  maxPadding: 32,
  /**
   * Largest image (width · height) any request may produce: bounds resize, grid and PNG work
   * (RELIABILITY.md: the CPU budget these limits keep to).
   */
  maxOutputPixels: 1024 * 1024,
  /**
   * Generator output per request in native pixels (images · imageSize²): bounds the forward passes,
   * whose cost grows with the model's own size. 256 images of a 32-pixel model, 64 of a 64-pixel one.
   */
  maxGeneratedPixels: 256 * 32 * 32,
  maxSeedLength: MAX_SEED_LENGTH,
} as const;

export const DEFAULT_PADDING = 2;

// ---------------------------------------------------------------------------------------------------
// The model path segment: `name` or `name@version`.

export interface ModelRef {
  name: string;
  /** Absent: the model's current version. */
  version?: string;
}

export function parseModelRef(raw: string): ModelRef {
  const at = raw.indexOf('@');
  const name = at < 0 ? raw : raw.slice(0, at);
  const version = at < 0 ? undefined : raw.slice(at + 1);
  if (!ModelNameSchema.safeParse(name).success) {
    throw new InvalidParameterError('model', 'model must be a name (lower-case letters, digits and -, at most 64) optionally followed by @version');
  }
  if (version !== undefined && !ModelVersionSchema.safeParse(version).success) {
    throw new InvalidParameterError('model', 'the version after @ must be letters, digits, . _ or -, at most 64');
  }
  return version === undefined ? { name } : { name, version };
}

// ---------------------------------------------------------------------------------------------------
// Query parameters.

const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, `${name} must be an integer from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `${name} must be an integer from ${min} to ${max}`).max(max, `${name} must be an integer from ${min} to ${max}`));

const seed = z
  .string()
  .min(1, 'seed must not be empty (leave it out for a random image)')
  .refine((s) => [...s].length <= LIMITS.maxSeedLength, `seed must be at most ${LIMITS.maxSeedLength} characters`);

const truncation = z
  .string()
  .regex(/^(?:\d{1,3}(?:\.\d{0,12})?|\.\d{1,12})$/, 'truncation must be a decimal number in (0, 1]')
  .transform(Number)
  .pipe(z.number().gt(0, 'truncation must be greater than 0 and at most 1').lte(1, 'truncation must be greater than 0 and at most 1'));

const filter = z.enum(['bilinear', 'nearest'], { message: 'filter must be bilinear or nearest' });

/** A class as given: a name or an index, resolved against the model's classes later. */
const classParam = z.string().min(1, 'class must be a class name or index').max(64, 'class must be a class name or index');

const ImageQuerySchema = z
  .object({
    seed: seed.optional(),
    size: integer('size', LIMITS.minSize, LIMITS.maxSize).optional(),
    filter: filter.default('bilinear'),
    class: classParam.optional(),
    truncation: truncation.default('1'),
  })
  .strict();

const GridQuerySchema = ImageQuerySchema.extend({
  rows: integer('rows', 1, LIMITS.maxCells).optional(),
  cols: integer('cols', 1, LIMITS.maxCells).optional(),
  padding: integer('padding', 0, LIMITS.maxPadding).default(String(DEFAULT_PADDING)),
}).strict();

export type ImageQuery = z.output<typeof ImageQuerySchema>;
export type GridQuery = z.output<typeof GridQuerySchema>;

function parseQuery<S extends z.ZodTypeAny>(schema: S, url: URL): z.output<S> {
  const raw: Record<string, string> = Object.create(null); // so `__proto__` is just an unknown key
  for (const key of new Set(url.searchParams.keys())) {
    if (url.searchParams.getAll(key).length > 1) {
      throw new InvalidParameterError(key.slice(0, 64), `${key.slice(0, 64)} is given more than once`);
    }
    raw[key] = url.searchParams.get(key)!;
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0].slice(0, 64);
    throw new InvalidParameterError(key, `unknown parameter '${key}'; allowed: ${Object.keys((schema as unknown as z.AnyZodObject).shape).join(', ')}`);
  }
  throw new InvalidParameterError(String(issue.path[0] ?? 'query'), issue.message);
}

export const parseImageQuery = (url: URL): ImageQuery => parseQuery(ImageQuerySchema, url);
export const parseGridQuery = (url: URL): GridQuery => parseQuery(GridQuerySchema, url);

// ---------------------------------------------------------------------------------------------------
// Parameters resolved against the model: what the renderer runs, and what the cache key is made of.

export interface RenderRequest {
  kind: 'image' | 'grid';
  /** The seed the images come from (given, or drawn at random). */
  seed: string;
  seeded: boolean;
  /** Edge of one image (or grid cell) in pixels. */
  size: number;
  filter: 'bilinear' | 'nearest';
  truncation: number;
  /**
   * Fixed class index, 'each' (one row per class), 'seeded' (each image's class follows its seed) on
   * conditional models, or 'none' on unconditional ones.
   */
  classChoice: ClassChoice;
  rows: number;
  cols: number;
  padding: number;
}

function resolveClass(given: string | undefined, manifest: Manifest, allowEach: boolean): RenderRequest['classChoice'] {
  const classes = manifest.classes;
  if (given === undefined) return classes.length > 0 ? 'seeded' : 'none';
  if (classes.length === 0) throw new InvalidParameterError('class', `model '${manifest.name}' is unconditional: it takes no class`);
  if (given === 'each') {
    if (!allowEach) throw new InvalidParameterError('class', 'class=each is only for grid.png');
    return 'each';
  }
  if (/^\d{1,4}$/.test(given)) {
    const index = Number(given);
    if (index < classes.length) return index;
    throw new InvalidParameterError('class', `class index must be from 0 to ${classes.length - 1}`);
  }
  const index = classes.indexOf(given);
  if (index >= 0) return index;
  const names = classes.slice(0, 20).join(', ') + (classes.length > 20 ? ', …' : '');
  throw new InvalidParameterError('class', `class must be an index from 0 to ${classes.length - 1} or one of: ${names}`);
}

function checkPixels(width: number, height: number, parameter: string) {
  if (width * height > LIMITS.maxOutputPixels) {
    const edge = Math.floor(Math.sqrt(LIMITS.maxOutputPixels));
    throw new InvalidParameterError(
      parameter,
      `the image would be ${width}x${height} pixels; at most ${LIMITS.maxOutputPixels} pixels (${edge}x${edge}) are allowed`,
    );
  }
}

/** Bounds the generator's work: checked with the output size, before anything is loaded or run. */
function checkGenerated(images: number, manifest: Manifest, parameter: string) {
  const generated = images * manifest.imageSize * manifest.imageSize;
  if (generated > LIMITS.maxGeneratedPixels) {
    const most = Math.max(1, Math.floor(LIMITS.maxGeneratedPixels / (manifest.imageSize * manifest.imageSize)));
    throw new InvalidParameterError(
      parameter,
      `${images} images of model '${manifest.name}' (${manifest.imageSize} pixels) are too much work for one request; at most ${most} (rows · cols)`,
    );
  }
}

/** At the native size nothing is resized, so the filter cannot change the bytes. */
function effectiveFilter(query: ImageQuery, manifest: Manifest): RenderRequest['filter'] {
  return (query.size ?? manifest.imageSize) === manifest.imageSize ? 'bilinear' : query.filter;
}

export function resolveImageRequest(query: ImageQuery, manifest: Manifest, randomSeed: () => string): RenderRequest {
  const classChoice = resolveClass(query.class, manifest, false);
  checkGenerated(1, manifest, 'model');
  return {
    kind: 'image',
    seed: query.seed ?? randomSeed(),
    seeded: query.seed !== undefined,
    size: query.size ?? manifest.imageSize,
    filter: effectiveFilter(query, manifest),
    truncation: query.truncation,
    classChoice,
    rows: 1,
    cols: 1,
    padding: 0,
  };
}

export function resolveGridRequest(query: GridQuery, manifest: Manifest, randomSeed: () => string): RenderRequest {
  const classChoice = resolveClass(query.class, manifest, true);
  let rows = query.rows ?? 4;
  if (classChoice === 'each') {
    const count = manifest.classes.length;
    if (count > LIMITS.maxCells) {
      throw new InvalidParameterError('class', `class=each makes one row per class; this model has ${count}, at most ${LIMITS.maxCells} rows are allowed`);
    }
    if (query.rows !== undefined && query.rows !== count) {
      throw new InvalidParameterError('rows', `with class=each there is one row per class: rows must be ${count} or left out`);
    }
    rows = count;
  }
  const cols = query.cols ?? 4;
  const size = query.size ?? manifest.imageSize;
  const padding = query.padding;
  checkGenerated(rows * cols, manifest, query.rows === undefined ? 'cols' : 'rows');
  checkPixels(cols * size + (cols + 1) * padding, rows * size + (rows + 1) * padding, 'size');
  return {
    kind: 'grid',
    seed: query.seed ?? randomSeed(),
    seeded: query.seed !== undefined,
    size,
    filter: effectiveFilter(query, manifest),
    truncation: query.truncation,
    classChoice,
    rows,
    cols,
    padding,
  };
}

/**
 * The canonical text of a request's parameters: equal for requests that must give equal bytes
 * (`?size=32` on a 32-pixel model and no size at all, `truncation=0.50` and `0.5`), different otherwise.
 */
export function canonicalParams(r: RenderRequest): string {
  const parts = [`seed=${encodeURIComponent(r.seed)}`, `size=${r.size}`, `filter=${r.filter}`, `truncation=${r.truncation}`, `class=${r.classChoice}`];
  if (r.kind === 'grid') parts.push(`rows=${r.rows}`, `cols=${r.cols}`, `padding=${r.padding}`);
  return parts.join('&');
}
