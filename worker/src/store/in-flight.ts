/**
 * Concurrent requests for the same key share one promise (one R2 read, one load), which is forgotten
 * once it settles: a failure is not remembered, so the next request tries again and repairing the
 * files in R2 heals the isolate by itself.
 */
export class InFlight<T> {
  private readonly pending = new Map<string, Promise<T>>();

  run(key: string, start: () => Promise<T>): Promise<T> {
    let promise = this.pending.get(key);
    if (!promise) {
      promise = start().finally(() => this.pending.delete(key));
      this.pending.set(key, promise);
    }
    return promise;
  }
}
