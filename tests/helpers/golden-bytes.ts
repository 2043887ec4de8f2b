/**
 * The pinned bytes of the shipped models (tests/fixtures/golden-bytes.json): for each model version in
 * models/, requests of every route (image.png, grid.png, walk.gif, morph.png) and the sha256 of the
 * bytes they return. "Same version, seed and parameters → same bytes" is what a year-long
 * `Cache-Control: immutable` promises, so these must never move for a version that has shipped:
 * tests/integration/golden-bytes.test.ts checks them in Node (core's render pipeline, and `gan sample`
 * / `gan walk`), tests/worker/golden-bytes.test.ts inside workerd.
 *
 * A new model version gets new entries (`node --import tsx tests/helpers/regenerate-golden-bytes.ts`
 * fills every case of a model whose version changed). It refuses to move the bytes of a pinned version
 * unless core's RENDER_VERSION was bumped past the one recorded here: a deliberate render change,
 * named in CHANGELOG.md (core/src/render-version.ts).
 */
import golden from '../fixtures/golden-bytes.json' with { type: 'json' };

export type GoldenRoute = 'image.png' | 'grid.png' | 'walk.gif' | 'morph.png';
export const GOLDEN_ROUTES: readonly GoldenRoute[] = ['image.png', 'grid.png', 'walk.gif', 'morph.png'];

export interface GoldenCase {
  /** A directory under models/ (and the model's name). */
  model: string;
  /** The route and its query, as after /v1/models/<model>@<version>/. */
  request: string;
  sha256: string;
}

export interface GoldenBytes {
  /** core's RENDER_VERSION when the bytes were recorded. */
  renderVersion: number;
  /** Model → the version whose bytes the cases pin. */
  versions: Record<string, string>;
  cases: GoldenCase[];
}

export const GOLDEN_BYTES: GoldenBytes = golden;

export const routeOf = (request: string): GoldenRoute => request.slice(0, request.indexOf('?')) as GoldenRoute;

/** The query of a request as name → value. */
export const queryOf = (request: string): Record<string, string> =>
  Object.fromEntries(new URLSearchParams(request.slice(request.indexOf('?') + 1)));

/** The worker's URL path of a case, pinned to its version. */
export const goldenPath = (c: GoldenCase, version: string): string => `/v1/models/${c.model}@${version}/${c.request}`;
