/** GET /v1/openapi.json: the HTTP API, machine-readable (OpenAPI 3.1). */
import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { RETRY_AFTER_SECONDS } from '../errors.ts';
import { CURRENT_MAX_AGE_SECONDS } from '../http-cache.ts';
import { DEFAULT_PADDING, LIMITS } from '../validation.ts';

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
    description: 'Output edge in pixels (per cell for grids). Default: the model\'s native size.',
    schema: { type: 'integer', minimum: LIMITS.minSize, maximum: LIMITS.maxSize },
  },
  { name: 'filter', in: 'query', description: 'Resize filter; `nearest` for pixel art.', schema: { type: 'string', enum: ['bilinear', 'nearest'], default: 'bilinear' } },
  {
    name: 'class',
    in: 'query',
    description: 'Class-conditional models only: a class name or index. Absent: each image\'s class follows its seed.',
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
  '429': errorResponse('This client (CF-Connecting-IP) sent too many requests (or grids) in the last minute; retry after Retry-After seconds.'),
  '503': errorResponse(`The model's files are missing or fail their checksum; retry after ${RETRY_AFTER_SECONDS} s (Retry-After).`),
};

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
        responses: { '200': { description: 'Models with their current version, image size, channels, classes, latent size, training date and metrics.', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
    '/v1/models/{model}': {
      get: {
        summary: "A model version's manifest",
        parameters: [modelParam],
        responses: { '200': { description: 'manifest.json', content: { 'application/json': { schema: { type: 'object' } } } }, '404': errorResponse('Unknown model or version.'), '503': errorResponse('Manifest unreadable.') },
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
          ...imageParams.map((p) => (p.name === 'class' ? { ...p, description: 'A class name or index for every cell, or `each` for one row per class.' } : p)),
          { name: 'rows', in: 'query', schema: { type: 'integer', minimum: 1, maximum: LIMITS.maxCells, default: 4 } },
          { name: 'cols', in: 'query', schema: { type: 'integer', minimum: 1, maximum: LIMITS.maxCells, default: 4 } },
          { name: 'padding', in: 'query', description: 'White pixels between and around cells.', schema: { type: 'integer', minimum: 0, maximum: LIMITS.maxPadding, default: DEFAULT_PADDING } },
        ],
        responses: pngResponses,
      },
    },
    '/healthz': {
      get: { summary: 'Backend (wasm), SIMD, loaded models and versions', responses: { '200': { description: 'Healthy', content: { 'application/json': { schema: { type: 'object' } } } } } },
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
