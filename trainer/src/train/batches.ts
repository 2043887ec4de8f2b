/**
 * The real images of each step. Each epoch visits the training split in its own sfc32 permutation
 * and the trailing partial batch is dropped, so the batch of a step is a function of the run's seed
 * and the step alone: a resumed run reads the same batches an uninterrupted one would.
 */
import { Sfc32 } from '@gan/core';
import type { Dataset } from '../data/index.ts';

/** Sfc32 Fisher–Yates permutation of 0..n-1: the data order of one epoch. */
export function epochOrder(seed: string, epoch: number, n: number): Uint32Array {
  const rng = Sfc32.fromSeed(`${seed}/order/${epoch}`);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export interface RealBatch {
  epoch: number;
  /** [batchSize, S, S, C] values in [-1, 1], back to back. */
  images: Float32Array;
  /** Class of each image. */
  labels: Int32Array;
}

export class EpochBatches {
  readonly stepsPerEpoch: number;
  private orderEpoch = -1;
  private order: Uint32Array = new Uint32Array(0);

  constructor(
    private readonly dataset: Dataset,
    readonly batchSize: number,
    private readonly seed: string,
  ) {
    if (dataset.count < batchSize)
      throw new RangeError(`the data set has ${dataset.count} training images, fewer than one batch of ${batchSize}`);
    this.stepsPerEpoch = Math.floor(dataset.count / batchSize);
  }

  /** The batch step `step` (0-based) trains on. */
  at(step: number): RealBatch {
    const { dataset, batchSize } = this;
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const position = step % this.stepsPerEpoch;
    if (epoch !== this.orderEpoch) {
      this.order = epochOrder(this.seed, epoch, dataset.count);
      this.orderEpoch = epoch;
    }
    const pixels = dataset.imageSize * dataset.imageSize * dataset.channels;
    const images = new Float32Array(batchSize * pixels);
    const labels = new Int32Array(batchSize);
    for (let i = 0; i < batchSize; i++) {
      const index = this.order[position * batchSize + i];
      images.set(dataset.images.subarray(index * pixels, (index + 1) * pixels), i * pixels);
      labels[i] = dataset.labels[index];
    }
    return { epoch, images, labels };
  }
}
