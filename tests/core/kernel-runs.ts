/**
 * Counts, per kernel name, the calls a kernel of this project answered itself: calls of the kernel in
 * place minus the calls that fell through to the backend's own kernel underneath. A kernel of ours
 * that silently handed everything to tfjs would count zero, where every comparison with the cpu
 * backend would still pass.
 *
 *   const runs = new KernelRuns(names);
 *   runs.watchOriginals();   // before placing ours: the kernels they will fall back to
 *   … register the project's kernels …
 *   runs.watchPlaced();      // after: the kernels in place
 *   … run …; runs.ran('Add') > 0
 *   … restore the project's kernels …; runs.unwatch();
 */
import * as tf from '@tensorflow/tfjs-core';

export class KernelRuns {
  private readonly calls = new Map<string, number>();
  private readonly fallbacks = new Map<string, number>();
  /** Per wrapped kernel: the configuration it replaced and the wrapper, to put the first back. */
  private readonly wrapped: { config: tf.KernelConfig; wrapper: tf.KernelFunc }[] = [];

  constructor(
    private readonly names: readonly string[],
    private readonly backendName = 'wasm',
  ) {}

  watchOriginals(): void {
    this.wrapAll(this.fallbacks);
  }

  watchPlaced(): void {
    this.wrapAll(this.calls);
  }

  /** Calls of `name` that the kernel in place answered without its original. */
  ran(name: string): number {
    return (this.calls.get(name) ?? 0) - (this.fallbacks.get(name) ?? 0);
  }

  /** Every watched name that no kernel of ours answered. */
  neverRan(): string[] {
    return this.names.filter((name) => this.ran(name) <= 0);
  }

  /** Takes off the wrappers still registered (call after restoring the project's kernels). */
  unwatch(): void {
    for (const { config, wrapper } of this.wrapped.reverse()) {
      if (tf.getKernel(config.kernelName, config.backendName)?.kernelFunc !== wrapper) continue;
      tf.unregisterKernel(config.kernelName, config.backendName);
      tf.registerKernel(config);
    }
    this.wrapped.length = 0;
  }

  private wrapAll(counter: Map<string, number>): void {
    for (const name of this.names) {
      const config = tf.getKernel(name, this.backendName);
      if (!config) continue;
      const inner = config.kernelFunc;
      // The marks of our kernels (symbol properties) stay on the wrapper, so restoring still finds them.
      const wrapper = Object.assign((args: Parameters<tf.KernelFunc>[0]) => {
        counter.set(name, (counter.get(name) ?? 0) + 1);
        return inner(args);
      }, inner) as tf.KernelFunc;
      tf.unregisterKernel(name, this.backendName);
      tf.registerKernel({ ...config, kernelFunc: wrapper });
      this.wrapped.push({ config, wrapper });
    }
  }
}
