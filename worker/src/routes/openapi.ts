/** GET /v1/openapi.json: the HTTP API, machine-readable (OpenAPI 3.1). */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { RETRY_AFTER_SECONDS } from '../errors.ts';
import { CURRENT_MAX_AGE_SECONDS } from '../http-cache.ts';
import { WALK_DEFAULTS } from '@gan/core/render';
import { DEFAULT_MORPH_STEPS, DEFAULT_PADDING, LIMITS } from '../validation.ts';

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const modelParam = {
  name: 'model',
  in: 'path',
  required: true,
  description: 'A model name (`mnist`) for its current version, or `name@version` for a pinned, immutable version.',
  schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,63}(@[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$' },
};

const imageParams = [
  modelParam,
  {
    name: 'seed',
    in: 'query',
    description: `Any string up to ${LIMITS.maxSeedLength} characters; the same seed gives the same image. Absent: a random seed, returned in X-Seed, response not cacheable.`,
    schema: { type: 'string', minLength: 1, maxLength: LIMITS.maxSeedLength },
  },
  {
    name: 'size',
    in: 'query',
    description: "Output edge in pixels (per cell for grids). Default: the model's native size.",
    schema: { type: 'integer', minimum: LIMITS.minSize, maximum: LIMITS.maxSize },
  },
  {
    name: 'filter',
    in: 'query',
    description:
      "Resize filter; `nearest` for pixel art; `learned`: the version's learned upscaler (400 on a version without one). Default `bilinear`, or `learned` on a version whose upscaler is its default.",
    schema: { type: 'string', enum: ['bilinear', 'nearest', 'learned'] },
  },
  {
    name: 'class',
    in: 'query',
    description: "Class-conditional models only: a class name or index. Absent: each image's class follows its seed.",
    schema: { type: 'string' },
  },
  {
    name: 'truncation',
    in: 'query',
    description: 'The truncation trick: the latent is scaled by t; smaller is more typical, less varied.',
    schema: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 1 },
  },
];

const pngResponses = {
  '200': {
    description: `A PNG. Seeded: strong ETag; Cache-Control immutable for pinned versions, max-age=${CURRENT_MAX_AGE_SECONDS} with X-Model-Version otherwise. Random: Cache-Control no-store.`,
    headers: {
      ETag: { schema: { type: 'string' } },
      'X-Seed': { description: 'The seed used (URI-encoded).', schema: { type: 'string' } },
      'X-Model-Version': { schema: { type: 'string' } },
    },
    content: { 'image/png': { schema: { type: 'string', format: 'binary' } } },
  },
  '304': { description: 'If-None-Match matched the ETag.' },
  '400': errorResponse('A parameter is invalid; `parameter` names it and the message gives the allowed range.'),
  '404': errorResponse('Unknown model or version.'),
  '429': errorResponse(
    'This client (CF-Connecting-IP) sent too many requests (or grids) in the last minute; retry after Retry-After seconds.',
  ),
  '503': errorResponse(`The model's files are missing or fail their checksum; retry after ${RETRY_AFTER_SECONDS} s (Retry-After).`),
};

const gifResponses = {
  ...pngResponses,
  '200': {
    ...pngResponses['200'],
    description: pngResponses['200'].description.replace('A PNG', 'An animated GIF89a that loops forever'),
    content: { 'image/gif': { schema: { type: 'string', format: 'binary' } } },
  },
};

const byName = (name: string) => imageParams.find((p) => p.name === name)!;

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'gan-edge',
    version: '1.0.0',
    description: 'DCGAN images at the edge: seeded, deterministic PNGs from generators published to R2.',
  },
  paths: {
    '/v1/models': {
      get: {
        summary: 'List models',
        responses: {
          '200': {
            description:
              'Models with their current version, image size, channels, classes, latent size, training date, metrics, the `filter` values the version accepts (`filters`) and its default (`defaultFilter`).',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
    '/v1/models/{model}': {
      get: {
        summary: "A model version's manifest",
        parameters: [modelParam],
        responses: {
          '200': { description: 'manifest.json', content: { 'application/json': { schema: { type: 'object' } } } },
          '404': errorResponse('Unknown model or version.'),
          '503': errorResponse('Manifest unreadable.'),
        },
      },
    },
    '/v1/models/{model}/image.png': {
      get: { summary: 'One generated image', parameters: imageParams, responses: pngResponses },
    },
    '/v1/models/{model}/grid.png': {
      get: {
        summary: 'A grid (sprite sheet) of generated images',
        description: `Cell i (row by row) uses seed \`<seed>#<i>\`. With class=each: one row per class, and column j uses seed \`<seed>#<j>\` in every row. At most ${LIMITS.maxOutputPixels} output pixels, and at most ${LIMITS.maxGeneratedPixels} generated pixels (rows · cols · the model's imageSize²: 256 cells of a 32-pixel model).`,
        parameters: [
          ...imageParams.map((p) =>
            p.name === 'class' ? { ...p, description: 'A class name or index for every cell, or `each` for one row per class.' } : p,
          ),
          { name: 'rows', in: 'query', schema: { type: 'integer', minimum: 1, maximum: LIMITS.maxCells, default: 4 } },
          { name: 'cols', in: 'query', schema: { type: 'integer', minimum: 1, maximum: LIMITS.maxCells, default: 4 } },
          {
            name: 'padding',
            in: 'query',
            description: 'White pixels between and around cells.',
            schema: { type: 'integer', minimum: 0, maximum: LIMITS.maxPadding, default: DEFAULT_PADDING },
          },
        ],
        responses: pngResponses,
      },
    },
    '/v1/models/{model}/walk.gif': {
      get: {
        summary: 'An animated walk through the latent space, looping through key images',
        description:
          `Key k has the seed and class of cell k of grid.png with the same seed and class (seed \`<seed>#<k>\`; with class=each, key k is class k in the style of the grid's first column). ` +
          'Between keys the latent moves along a great circle (spherical interpolation) and the class input linearly; the last transition returns to the first key. ' +
          `At most ${LIMITS.maxWalkPixels} frame pixels in all (keys · frames · size²) and ${LIMITS.maxGeneratedPixels} generated pixels (keys · frames · the model's imageSize²: 256 frames of a 32-pixel model).`,
        parameters: [
          modelParam,
          {
            ...byName('seed'),
            description: `Key k is cell k of grid.png with this seed. Absent: a random seed, returned in X-Seed, response not cacheable.`,
          },
          {
            ...byName('size'),
            description: "Frame edge in pixels. Default: the model's native size.",
            schema: { type: 'integer', minimum: LIMITS.minSize, maximum: LIMITS.maxWalkSize },
          },
          byName('filter'),
          {
            ...byName('class'),
            description:
              "Class-conditional models only: a class name or index for every key, or `each`: key k is class k (then keys defaults to the number of classes). Absent: each key's class follows its seed.",
          },
          byName('truncation'),
          {
            name: 'keys',
            in: 'query',
            description: 'Key images (default: 4; with class=each, the number of classes).',
            schema: { type: 'integer', minimum: 2, maximum: LIMITS.maxKeys },
          },
          {
            name: 'frames',
            in: 'query',
            description: 'Frames per key-to-key transition, the key included.',
            schema: { type: 'integer', minimum: 1, maximum: LIMITS.maxFramesPerKey, default: WALK_DEFAULTS.frames },
          },
          {
            name: 'fps',
            in: 'query',
            description: 'Frames per second (GIF delays are whole hundredths of a second).',
            schema: { type: 'integer', minimum: 1, maximum: LIMITS.maxFps, default: WALK_DEFAULTS.fps },
          },
        ],
        responses: gifResponses,
      },
    },
    '/v1/models/{model}/morph.png': {
      get: {
        summary: "A still strip of the walk's interpolation from one seed to another",
        description: `One row of \`steps\` images; the first is image.png?seed=<from>&class=<class>, the last image.png?seed=<to>&class=<to_class>. At most ${LIMITS.maxOutputPixels} output pixels.`,
        parameters: [
          modelParam,
          {
            ...byName('seed'),
            name: 'from',
            description: 'Seed of the first image. Absent: a random seed, returned in X-Seed, response not cacheable.',
          },
          {
            ...byName('seed'),
            name: 'to',
            description: 'Seed of the last image. Default: `<from>#1` (cell 1 of a grid with seed `from`).',
          },
          {
            name: 'steps',
            in: 'query',
            description: 'Images in the strip, both ends included.',
            schema: { type: 'integer', minimum: 2, maximum: LIMITS.maxSteps, default: DEFAULT_MORPH_STEPS },
          },
          byName('size'),
          byName('filter'),
          {
            ...byName('class'),
            description: "Class-conditional models only: the first image's class (a name or index). Absent: drawn from the `from` seed.",
          },
          {
            ...byName('class'),
            name: 'to_class',
            description: "Class-conditional models only: the last image's class. Default: `class` if given, else drawn from the `to` seed.",
          },
          byName('truncation'),
          {
            name: 'padding',
            in: 'query',
            description: 'White pixels between and around images.',
            schema: { type: 'integer', minimum: 0, maximum: LIMITS.maxPadding, default: DEFAULT_PADDING },
          },
        ],
        responses: pngResponses,
      },
    },
    '/healthz': {
      get: {
        summary: 'Backend (wasm), SIMD, loaded models and versions',
        responses: { '200': { description: 'Healthy', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
    '/v1/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
    '/': { get: { summary: 'A page to try the API', responses: { '200': { description: 'HTML', content: { 'text/html': {} } } } } },
  },
  components: {
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: { code: { type: 'string' }, message: { type: 'string' }, parameter: { type: 'string' } },
          },
        },
      },
    },
  },
} as const;

export const openApiRoutes = new Hono<AppEnv>().get('/v1/openapi.json', (c) =>
  c.json(openApiDocument, 200, { 'Cache-Control': 'public, max-age=300' }),
);
