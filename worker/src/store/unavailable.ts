/** How the store reports a failed read or load: the API's errors pass through, the rest become a 503. */
import { ModelFilesError } from '@gan/core/manifest';
import { ModelNotFoundError, ModelUnavailableError, VersionNotFoundError } from '../errors.ts';
import { R2TimeoutError } from './r2-deadline.ts';

/** Typed API errors pass through; anything else (R2 failure, bad files, bad weights) becomes a 503. */
export function asUnavailable(label: string, error: unknown): Error {
  if (error instanceof ModelNotFoundError || error instanceof VersionNotFoundError || error instanceof ModelUnavailableError) {
    return error;
  }
  // What core's model reader found wrong with the files: its reason is the 503's.
  if (error instanceof ModelFilesError) return new ModelUnavailableError(label, error.reason);
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
  console.error(`loading ${label} failed: ${reason}`);
  if (error instanceof R2TimeoutError) return new ModelUnavailableError(label, error.message);
  return new ModelUnavailableError(
    label,
    error instanceof Error && /Weight|Missing/.test(error.name) ? error.message : 'its files could not be read',
  );
}
