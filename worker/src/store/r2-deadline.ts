/**
 * Every R2 call the store makes, body included, has a deadline: a stalled R2 gives a 503, not a hung
 * request, and never leaves a stuck promise behind for later requests to wait on.
 */

/** R2 did not answer within the deadline. */
export class R2TimeoutError extends Error {
  override name = 'R2TimeoutError';
}

/** Runs one R2 call (reading its body included) and rejects with R2TimeoutError after `timeoutMs`. */
export function withDeadline<T>(call: () => Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new R2TimeoutError(`R2 did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  return Promise.race([call(), deadline]).finally(() => clearTimeout(timer));
}
