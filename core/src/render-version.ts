/**
 * The version of the render pipeline's output: part of every ETag and edge cache key the worker makes
 * (worker/src/http-cache.ts), so that no validator or cached copy made by one render version can
 * match another's bytes.
 *
 * A pinned model version's bytes must never change (they are served `immutable` for a year, and
 * nothing can recall what caches hold; tests/fixtures/golden-bytes.json pins them). This is the
 * second line of defence, for the one case where a change of bytes is unavoidable (a security fix in
 * an encoder, say): bump it deliberately, in the same commit as the regenerated golden bytes, with a
 * CHANGELOG.md entry naming the new value and why. New behaviour that would change bytes (a sampler,
 * an upscaler) comes with a new model version instead, never under this number.
 */
export const RENDER_VERSION = 1;
