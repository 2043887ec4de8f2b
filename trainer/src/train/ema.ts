/**
 * An exponential moving average of the generator's weights (Karras et al. 2018; Yazıcı et al. 2019):
 * G's weights oscillate around a good point as the two networks chase each other, and their average
 * makes visibly cleaner images than any single iterate. The average is what gets previewed and
 * exported; the raw G keeps training.
 *
 * Only the trained weights (kernels, batch-norm scale and shift) are averaged. Batch-norm moving
 * statistics are NOT averaged: the raw G's running means describe the raw G's activations, and an
 * averaged network's activations differ from them. They are recomputed for the averaged weights
 * ("standing statistics", as in BigGAN): the averaged G runs in training mode on fixed noise and each
 * batch-norm layer takes the mean of its batch means and batch variances. The noise is fixed, so the
 * exported network is a function of the averaged weights alone.
 *
 * Early iterates are poor, so the decay warms up (TensorFlow's `num_updates` rule): at update t it is
 * min(β, (1 + t) / (10 + t)).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Sfc32, type ModelConfig } from '@gan/core';
import type { NamedArray } from './checkpoint.ts';
import { generatorInputTensor } from './step.ts';

/** Checkpoint prefix of the averaged generator, standing statistics included: what export reads. */
export const EMA_PREFIX = 'generator_ema';

export function emaDecay(beta: number, updates: number): number {
  return Math.min(beta, (1 + updates) / (10 + updates));
}

export class GeneratorAverage {
  /** Averaged values of the generator's trainable weights, by originalName. */
  readonly shadow = new Map<string, tf.Variable>();

  constructor(
    readonly generator: tfl.LayersModel,
    readonly beta: number,
  ) {
    // A variable holds its own reference to its initial value's data: the clone itself is ours to dispose.
    for (const w of generator.trainableWeights) {
      const initial = w.read().clone();
      this.shadow.set(w.originalName, tf.variable(initial, false));
      initial.dispose();
    }
  }

  /** One averaging step after G's update number `updates` (0-based). */
  update(updates: number): void {
    const decay = emaDecay(this.beta, updates);
    tf.tidy(() => {
      for (const w of this.generator.trainableWeights) {
        const s = this.shadow.get(w.originalName)!;
        s.assign(tf.add(tf.mul(s, decay), tf.mul(w.read(), 1 - decay)));
      }
    });
  }

  /** Starts the average again from G's current weights: G's were replaced before its first step (init-from.ts). */
  restart(): void {
    for (const w of this.generator.trainableWeights) this.shadow.get(w.originalName)!.assign(w.read());
  }

  /** Restores the averaged weights from a checkpoint's `generator_ema/` entries; false if it has none. */
  restore(tensors: Map<string, NamedArray>): boolean {
    const entries = [...this.shadow.keys()].map((name) => tensors.get(`${EMA_PREFIX}/${name}`));
    if (entries.some((e) => !e)) return false;
    [...this.shadow.values()].forEach((s, i) => {
      const saved = tf.tensor(entries[i]!.data, entries[i]!.shape);
      s.assign(saved);
      saved.dispose();
    });
    return true;
  }

  /**
   * The averaged generator's weights by originalName, with batch-norm statistics recomputed for them
   * on `batches` batches of fixed noise (see the file comment).
   */
  servingWeights(config: ModelConfig, batches = 4, batchSize = 64): tf.NamedTensorMap {
    // What each batch norm sees: a model over G's own layers (sharing their weights) whose outputs are
    // the batch norms' inputs, run in training mode as G trains. Not disposed: that would free G's weights.
    const norms = this.generator.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    const probe = tfl.model({ inputs: this.generator.inputs, outputs: norms.map((l) => l.input as tfl.SymbolicTensor) });
    const sums = new Map<string, { mean: tf.Tensor; variance: tf.Tensor }>();
    const rng = Sfc32.fromSeed('ema/standing-statistics');
    const swapped = this.swapIn();
    try {
      for (let b = 0; b < batches; b++) {
        const noise = rng.fillNormal(new Float32Array(batchSize * config.latentSize));
        const labels = config.numClasses ? Int32Array.from({ length: batchSize }, (_, i) => i % config.numClasses) : undefined;
        tf.tidy(() => {
          const seen = probe.apply(generatorInputTensor(config, noise, labels), { training: true }) as tf.Tensor | tf.Tensor[];
          (Array.isArray(seen) ? seen : [seen]).forEach((x, i) => {
            const name = norms[i].name;
            const moments = tf.moments(x, [0, 1, 2]);
            const acc = sums.get(name);
            sums.set(name, {
              mean: tf.keep(acc ? tf.add(acc.mean, moments.mean) : moments.mean),
              variance: tf.keep(acc ? tf.add(acc.variance, moments.variance) : moments.variance),
            });
            if (acc) tf.dispose([acc.mean, acc.variance]);
          });
        });
      }
      const out: tf.NamedTensorMap = {};
      for (const w of this.generator.weights) {
        const layerName = w.originalName.split('/')[0];
        const stats = sums.get(layerName);
        if (stats && w.originalName.endsWith('moving_mean')) out[w.originalName] = tf.div(stats.mean, batches);
        else if (stats && w.originalName.endsWith('moving_variance')) out[w.originalName] = tf.div(stats.variance, batches);
        else out[w.originalName] = this.shadow.get(w.originalName)?.clone() ?? w.read().clone();
      }
      return out;
    } finally {
      swapped.restore();
      for (const s of sums.values()) tf.dispose([s.mean, s.variance]);
    }
  }

  /**
   * Writes the averaged weights into the generator; `restore()` puts all of the trained ones back,
   * moving statistics included (a training-mode pass updates them).
   */
  private swapIn(): { restore(): void } {
    const saved = this.generator.weights.map((w) => tf.clone(w.read()));
    this.generator.trainableWeights.forEach((w) => {
      w.write(this.shadow.get(w.originalName)!);
    });
    return {
      restore: () => {
        this.generator.weights.forEach((w, i) => {
          w.write(saved[i]);
        });
        tf.dispose(saved);
      },
    };
  }

  dispose(): void {
    for (const s of this.shadow.values()) s.dispose();
    this.shadow.clear();
  }
}
