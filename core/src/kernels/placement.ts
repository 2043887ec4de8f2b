/**
 * Putting a kernel of ours in place of a backend's registered one, and putting the original back.
 * The originals are kept in one global map per set of kernels (keyed by a registered symbol), so a
 * second copy of a module finds what the first replaced.
 */
import * as tf from '@tensorflow/tfjs-core';

export class KernelPlacements {
  private readonly originals: Map<string, tf.KernelConfig | undefined>;

  constructor(registryKey: symbol) {
    const registries = globalThis as Record<symbol, Map<string, tf.KernelConfig | undefined> | undefined>;
    registries[registryKey] ??= new Map();
    this.originals = registries[registryKey];
  }

  /**
   * Registers `make(original)` in place of kernel `name` on `backendName`, keeping the original's
   * set-up (its WASM bindings) and remembering the original for `restore`.
   */
  place(name: string, backendName: string, make: (original?: tf.KernelFunc) => tf.KernelFunc): void {
    const current = tf.getKernel(name, backendName);
    if (current) tf.unregisterKernel(name, backendName);
    this.originals.set(`${backendName}/${name}`, current);
    tf.registerKernel({ kernelName: name, backendName, setupFunc: current?.setupFunc, kernelFunc: make(current?.kernelFunc) });
  }

  /** Puts back the originals of those `names` whose kernel in place `isOurs`; returns the names restored. */
  restore(names: readonly string[], backendName: string, isOurs: (config: tf.KernelConfig | undefined) => boolean): string[] {
    const restored: string[] = [];
    for (const name of names) {
      const key = `${backendName}/${name}`;
      if (!this.originals.has(key) || !isOurs(tf.getKernel(name, backendName))) continue;
      tf.unregisterKernel(name, backendName);
      const original = this.originals.get(key);
      if (original) tf.registerKernel(original);
      this.originals.delete(key);
      restored.push(name);
    }
    return restored;
  }
}
