/**
 * Every request parameter is validated here, and only here, before any work is done. What leaves this
 * module is typed, bounded and normalised: R2 keys are built only from a validated model name and
 * version, and cache keys only from normalised parameters.
 */
import { z } from 'zod';
import {
  type ClassChoice,
  ClassNameError,
  type Manifest,
  MAX_SEED_LENGTH,
  ModelNameSchema,
  ModelVersionSchema,
  WALK_DEFAULTS,
  cellSeed,
  resolveClassName,
} from '@gan/core';
import { candidatesPerCell } from '@gan/core/sampling';
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
  /** Walks: key images, frames per key-to-key transition, frames per second. */
  maxKeys: 16,
  maxFramesPerKey: 30,
  maxFps: 30,
  /** Frame edge of a walk: a GIF frame is an image to look at, not a sprite sheet. */
  maxWalkSize: 256,
  /**
   * Frame pixels of a walk in all (frames · size²): bounds resizing and the GIF encoder, whose colour
   * quantisation costs ~2.5 µs per pixel — 4× a grid's PNG — so walks get a quarter of a grid's output
   * (RELIABILITY.md: the largest walk's CPU).
   */
  maxWalkPixels: 512 * 512,
  /** Morph strips: images from `from` to `to`, both included. */
  maxSteps: 16,
  /**
   * filter=learned: the upscaler's output per request in pixels (images · (4 · imageSize)²), 64
   * images of a 32-pixel model (RELIABILITY.md: the largest learned grid's and walk's CPU).
   */
  maxUpscaledPixels: 64 * 128 * 128,
} as const;

export const DEFAULT_PADDING = 2;
export const DEFAULT_MORPH_STEPS = 8;

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
    throw new InvalidParameterError(
      'model',
      'model must be a name (lower-case letters, digits and -, at most 64) optionally followed by @version',
    );
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
    .pipe(
      z
        .number()
        .int()
        .min(min, `${name} must be an integer from ${min} to ${max}`)
        .max(max, `${name} must be an integer from ${min} to ${max}`),
    );

const seedParam = (name: string) =>
  z
    .string()
    .min(1, `${name} must not be empty (leave it out for a random image)`)
    .refine((s) => [...s].length <= LIMITS.maxSeedLength, `${name} must be at most ${LIMITS.maxSeedLength} characters`);
const seed = seedParam('seed');

const truncation = z
  .string()
  .regex(/^(?:\d{1,3}(?:\.\d{0,12})?|\.\d{1,12})$/, 'truncation must be a decimal number in (0, 1]')
  .transform(Number)
  .pipe(z.number().gt(0, 'truncation must be greater than 0 and at most 1').lte(1, 'truncation must be greater than 0 and at most 1'));

const filter = z.enum(['bilinear', 'nearest', 'learned'], {
  message: 'filter must be bilinear or nearest, or learned on a model version with an upscaler',
});

/** A class as given: a name or an index, resolved against the model's classes later. */
const classParam = z.string().min(1, 'class must be a class name or index').max(64, 'class must be a class name or index');

const ImageQuerySchema = z
  .object({
    seed: seed.optional(),
    size: integer('size', LIMITS.minSize, LIMITS.maxSize).optional(),
    filter: filter.optional(),
    class: classParam.optional(),
    truncation: truncation.default('1'),
  })
  .strict();

const GridQuerySchema = ImageQuerySchema.extend({
  rows: integer('rows', 1, LIMITS.maxCells).optional(),
  cols: integer('cols', 1, LIMITS.maxCells).optional(),
  padding: integer('padding', 0, LIMITS.maxPadding).default(String(DEFAULT_PADDING)),
}).strict();

const WalkQuerySchema = ImageQuerySchema.extend({
  size: integer('size', LIMITS.minSize, LIMITS.maxWalkSize).optional(),
  keys: integer('keys', 2, LIMITS.maxKeys).optional(),
  frames: integer('frames', 1, LIMITS.maxFramesPerKey).optional(),
  fps: integer('fps', 1, LIMITS.maxFps).default(String(WALK_DEFAULTS.fps)),
}).strict();

const MorphQuerySchema = z
  .object({
    from: seedParam('from').optional(),
    to: seedParam('to').optional(),
    steps: integer('steps', 2, LIMITS.maxSteps).default(String(DEFAULT_MORPH_STEPS)),
    size: integer('size', LIMITS.minSize, LIMITS.maxSize).optional(),
    filter: filter.optional(),
    class: classParam.optional(),
    to_class: z.string().min(1, 'to_class must be a class name or index').max(64, 'to_class must be a class name or index').optional(),
    truncation: truncation.default('1'),
    padding: integer('padding', 0, LIMITS.maxPadding).default(String(DEFAULT_PADDING)),
  })
  .strict();

export type ImageQuery = z.output<typeof ImageQuerySchema>;
export type GridQuery = z.output<typeof GridQuerySchema>;
export type WalkQuery = z.output<typeof WalkQuerySchema>;
export type MorphQuery = z.output<typeof MorphQuerySchema>;

/** Each schema's parse of an empty query (its defaults), frozen: the answer to every URL without one. */
const emptyQueries = new WeakMap<z.ZodTypeAny, unknown>();

function parseQuery<S extends z.ZodTypeAny>(schema: S, url: URL): z.output<S> {
  // A bare `image.png` (the usual embed) skips the schema: its defaults do not change between requests.
  if (url.search === '') {
    if (!emptyQueries.has(schema)) emptyQueries.set(schema, Object.freeze(schema.parse({})));
    return emptyQueries.get(schema) as z.output<S>;
  }
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
    throw new InvalidParameterError(
      key,
      `unknown parameter '${key}'; allowed: ${Object.keys((schema as unknown as z.AnyZodObject).shape).join(', ')}`,
    );
  }
  throw new InvalidParameterError(String(issue.path[0] ?? 'query'), issue.message);
}

export const parseImageQuery = (url: URL): ImageQuery => parseQuery(ImageQuerySchema, url);
export const parseGridQuery = (url: URL): GridQuery => parseQuery(GridQuerySchema, url);
export const parseWalkQuery = (url: URL): WalkQuery => parseQuery(WalkQuerySchema, url);
export const parseMorphQuery = (url: URL): MorphQuery => parseQuery(MorphQuerySchema, url);

// ---------------------------------------------------------------------------------------------------
// Parameters resolved against the model: what the renderer runs, and what the cache key is made of.

interface RequestBase {
  /** The seed the images come from (given, or drawn at random); a morph's `from`. */
  seed: string;
  seeded: boolean;
  /** Edge of one image (or grid cell) in pixels. */
  size: number;
  filter: 'bilinear' | 'nearest' | 'learned';
  truncation: number;
  /**
   * Fixed class index, 'each' (one row per class), 'seeded' (each image's class follows its seed) on
   * conditional models, or 'none' on unconditional ones.
   */
  classChoice: ClassChoice;
}

/** image.png (one cell) and grid.png. */
export interface StillRequest extends RequestBase {
  kind: 'image' | 'grid';
  rows: number;
  cols: number;
  padding: number;
}

/** walk.gif: `keys` key images (grid cells), `frames` frames from each to the next, looping. */
export interface WalkRequest extends RequestBase {
  kind: 'walk';
  keys: number;
  frames: number;
  fps: number;
}

/** morph.png: `steps` images from `seed` (with classChoice) to `to` (with toClassChoice). */
export interface MorphRequest extends RequestBase {
  kind: 'morph';
  to: string;
  toClassChoice: ClassChoice;
  steps: number;
  padding: number;
}

export type RenderRequest = StillRequest | WalkRequest | MorphRequest;

function resolveClass(given: string | undefined, manifest: Manifest, allowEach: boolean, parameter = 'class'): ClassChoice {
  const classes = manifest.classes;
  if (given === undefined) return classes.length > 0 ? 'seeded' : 'none';
  if (given === 'each' && classes.length > 0) {
    if (!allowEach) throw new InvalidParameterError(parameter, `${parameter}=each is only for grid.png and walk.gif`);
    return 'each';
  }
  try {
    return resolveClassName(manifest.name, classes, given);
  } catch (error) {
    if (error instanceof ClassNameError) throw new InvalidParameterError(parameter, error.message.replace(/^class /, `${parameter} `));
    throw error;
  }
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

/**
 * Bounds the generator's work: checked with the output size, before anything is loaded or run. On a
 * version with candidate sampling each of the `cells` drawn from seeds (images, grid cells, walk keys,
 * morph ends) counts as its K candidates, each generated and scored (bench/sampling-cpu.ts).
 */
function checkGenerated(images: number, manifest: Manifest, parameter: string, counted = 'rows · cols', cells = images) {
  const perCell = candidatesPerCell(manifest.sampling);
  const generated = (images + cells * (perCell - 1)) * manifest.imageSize * manifest.imageSize;
  if (generated > LIMITS.maxGeneratedPixels) {
    const budget = LIMITS.maxGeneratedPixels / (manifest.imageSize * manifest.imageSize);
    const most = Math.max(1, Math.floor(cells === images ? budget / perCell : budget - cells * (perCell - 1)));
    throw new InvalidParameterError(
      parameter,
      `${images} images of model '${manifest.name}' (${manifest.imageSize} pixels${perCell > 1 ? `, ${perCell} candidates per seed` : ''}) are too much work for one request; at most ${most} (${counted})`,
    );
  }
}

/** The filters a version accepts, and the one a request without `filter` gets: `learned` where its upscaler is its default. */
export function filtersOf(manifest: Pick<Manifest, 'upscaler'>): {
  filters: RenderRequest['filter'][];
  defaultFilter: RenderRequest['filter'];
} {
  return {
    filters: manifest.upscaler ? ['bilinear', 'nearest', 'learned'] : ['bilinear', 'nearest'],
    defaultFilter: manifest.upscaler?.default ? 'learned' : 'bilinear',
  };
}

/**
 * At the native size nothing is resized, so the filter cannot change the bytes; `learned` only
 * enlarges (at or below the native size it is bilinear, as core renders it). Left out, the filter is
 * `learned` on a version whose upscaler is its default, else `bilinear`.
 */
function effectiveFilter(query: { size?: number; filter?: RenderRequest['filter'] }, manifest: Manifest): RenderRequest['filter'] {
  const size = query.size ?? manifest.imageSize;
  if (query.filter === 'learned' && !manifest.upscaler) {
    throw new InvalidParameterError(
      'filter',
      `filter=learned: model '${manifest.name}' (this version) has no learned upscaler; use bilinear or nearest`,
    );
  }
  const filter = query.filter ?? filtersOf(manifest).defaultFilter;
  if (size === manifest.imageSize || (filter === 'learned' && size < manifest.imageSize)) return 'bilinear';
  return filter;
}

/** Bounds the upscaler's work (filter=learned), before anything is loaded or run. */
function checkUpscaled(images: number, request: Pick<RequestBase, 'filter'>, manifest: Manifest, parameter: string) {
  if (request.filter !== 'learned') return;
  const edge = (manifest.upscaler?.architecture.scale ?? 4) * manifest.imageSize;
  if (images * edge * edge > LIMITS.maxUpscaledPixels) {
    const most = Math.max(1, Math.floor(LIMITS.maxUpscaledPixels / (edge * edge)));
    throw new InvalidParameterError(
      parameter,
      `with filter=learned at most ${most} images per request are upscaled; this request has ${images}`,
    );
  }
}

/** The fields every kind of request shares, from the query's seed, filter and truncation. */
function requestBase(
  query: { seed?: string; size?: number; filter?: RequestBase['filter']; truncation: number },
  manifest: Manifest,
  randomSeed: () => string,
  classChoice: ClassChoice,
): RequestBase {
  return {
    seed: query.seed ?? randomSeed(),
    seeded: query.seed !== undefined,
    size: query.size ?? manifest.imageSize,
    filter: effectiveFilter(query, manifest),
    truncation: query.truncation,
    classChoice,
  };
}

export function resolveImageRequest(query: ImageQuery, manifest: Manifest, randomSeed: () => string): StillRequest {
  const classChoice = resolveClass(query.class, manifest, false);
  checkGenerated(1, manifest, 'model');
  return {
    kind: 'image',
    ...requestBase(query, manifest, randomSeed, classChoice),
    rows: 1,
    cols: 1,
    padding: 0,
  };
}

export function resolveGridRequest(query: GridQuery, manifest: Manifest, randomSeed: () => string): StillRequest {
  const classChoice = resolveClass(query.class, manifest, true);
  let rows = query.rows ?? 4;
  if (classChoice === 'each') {
    const count = manifest.classes.length;
    if (count > LIMITS.maxCells) {
      throw new InvalidParameterError(
        'class',
        `class=each makes one row per class; this model has ${count}, at most ${LIMITS.maxCells} rows are allowed`,
      );
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
  const base = requestBase(query, manifest, randomSeed, classChoice);
  checkUpscaled(rows * cols, base, manifest, query.rows === undefined ? 'cols' : 'rows');
  return {
    kind: 'grid',
    ...base,
    rows,
    cols,
    padding,
  };
}

export function resolveWalkRequest(query: WalkQuery, manifest: Manifest, randomSeed: () => string): WalkRequest {
  const classChoice = resolveClass(query.class, manifest, true);
  let keys = query.keys ?? WALK_DEFAULTS.keys;
  if (classChoice === 'each') {
    const count = manifest.classes.length;
    if (query.keys === undefined && (count < 2 || count > LIMITS.maxKeys)) {
      throw new InvalidParameterError(
        'class',
        `class=each makes key k class k; this model has ${count} classes, a walk has 2 to ${LIMITS.maxKeys} keys`,
      );
    }
    if (query.keys !== undefined && query.keys > count) {
      throw new InvalidParameterError('keys', `with class=each key k is class k: keys must be at most ${count} (the classes) or left out`);
    }
    keys = query.keys ?? count;
  }
  const frames = query.frames ?? WALK_DEFAULTS.frames;
  const size = query.size ?? manifest.imageSize;
  const total = keys * frames;
  const counted = query.frames === undefined ? 'keys' : 'frames';
  checkGenerated(total, manifest, counted, 'frames in all: keys · frames', keys);
  if (total * size * size > LIMITS.maxWalkPixels) {
    throw new InvalidParameterError(
      query.size === undefined ? counted : 'size',
      `the walk would be ${total} frames of ${size}x${size} pixels; at most ${LIMITS.maxWalkPixels} frame pixels in all (keys · frames · size²) are allowed`,
    );
  }
  const base = requestBase(query, manifest, randomSeed, classChoice);
  checkUpscaled(total, base, manifest, counted);
  return {
    kind: 'walk',
    ...base,
    keys,
    frames,
    fps: query.fps,
  };
}

export function resolveMorphRequest(query: MorphQuery, manifest: Manifest, randomSeed: () => string): MorphRequest {
  const classChoice = resolveClass(query.class, manifest, false);
  const toClassChoice = query.to_class === undefined ? classChoice : resolveClass(query.to_class, manifest, false, 'to_class');
  const size = query.size ?? manifest.imageSize;
  const { steps, padding } = query;
  checkGenerated(steps, manifest, 'steps', 'steps', 2);
  checkPixels(steps * size + (steps + 1) * padding, size + 2 * padding, 'size');
  const base = requestBase({ ...query, seed: query.from }, manifest, randomSeed, classChoice);
  checkUpscaled(steps, base, manifest, 'steps');
  return {
    kind: 'morph',
    ...base,
    // Without `to`, the strip goes to the next cell of a grid or walk from `from`: still one seed's picture.
    to: query.to ?? cellSeed(base.seed, 1),
    toClassChoice,
    steps,
    padding,
  };
}

/**
 * The canonical text of a request's parameters: equal for requests that must give equal bytes
 * (`?size=32` on a 32-pixel model and no size at all, `truncation=0.50` and `0.5`), different otherwise.
 */
export function canonicalParams(r: RenderRequest): string {
  const parts = [
    `seed=${encodeURIComponent(r.seed)}`,
    `size=${r.size}`,
    `filter=${r.filter}`,
    `truncation=${r.truncation}`,
    `class=${r.classChoice}`,
  ];
  if (r.kind === 'grid') parts.push(`rows=${r.rows}`, `cols=${r.cols}`, `padding=${r.padding}`);
  if (r.kind === 'walk') parts.push(`keys=${r.keys}`, `frames=${r.frames}`, `fps=${r.fps}`);
  if (r.kind === 'morph')
    parts.push(`to=${encodeURIComponent(r.to)}`, `to_class=${r.toClassChoice}`, `steps=${r.steps}`, `padding=${r.padding}`);
  return parts.join('&');
}
