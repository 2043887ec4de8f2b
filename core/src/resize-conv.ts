/**
 * A resize-convolution stage of the generator (model.ts, `resize` upsampling: nearest ×2, then a 3x3
 * "same" convolution) as the stride-2, 4x4, "same" transposed convolution that computes the same
 * function, so a generator trained with it is exported, served and cached exactly like any other.
 *
 * Along one axis, with u[j] = x[⌊j/2⌋] and the 3x3 kernel's taps k0, k1, k2 at offsets −1, 0, +1:
 *   y[2m]   = k0·x[m−1] + (k1 + k2)·x[m]
 *   y[2m+1] = (k0 + k1)·x[m] + k2·x[m+1]
 * and the transposed convolution gives y[2m] = x[m−1]·K[3] + x[m]·K[1], y[2m+1] = x[m]·K[2] + x[m+1]·K[0]
 * (inference.ts), so K[0] = k2, K[1] = k1 + k2, K[2] = k0 + k1, K[3] = k0; in 2-D, per axis.
 */

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { WeightArray } from './weights.ts';

/** Transposed tap t along one axis = the sum of these 3x3 taps. */
const SUMMED_TAPS: readonly (readonly number[])[] = [[2], [1, 2], [0, 1], [0]];

/** [3, 3, Cin, Cout] (a conv2d kernel after a nearest ×2 upsampling) → the equivalent [4, 4, Cout, Cin] conv2dTranspose kernel. */
export function resizeConvAsTransposed(k3: Float32Array, cin: number, cout: number): Float32Array {
  if (k3.length !== 9 * cin * cout)
    throw new RangeError(`a 3x3 kernel of ${cin}→${cout} channels has ${9 * cin * cout} values, not ${k3.length}`);
  const out = new Float32Array(16 * cout * cin);
  for (let th = 0; th < 4; th++)
    for (let tw = 0; tw < 4; tw++)
      for (const i of SUMMED_TAPS[th])
        for (const j of SUMMED_TAPS[tw])
          for (let ci = 0; ci < cin; ci++)
            for (let co = 0; co < cout; co++) out[((th * 4 + tw) * cout + co) * cin + ci] += k3[((i * 3 + j) * cin + ci) * cout + co];
  return out;
}

/**
 * The weight of a transposed-convolution generator that `weight` (named `name`) stands for: a resize
 * stage's [3, 3, Cin, Cout] kernel becomes its [4, 4, Cout, Cin] form; everything else is itself.
 */
export function asTransposedWeight(name: string, weight: WeightArray): WeightArray {
  const [kh, kw, cin, cout] = weight.shape;
  if (!name.endsWith('/kernel') || weight.shape.length !== 4 || kh !== 3 || kw !== 3) return weight;
  return { shape: [4, 4, cout, cin], data: resizeConvAsTransposed(weight.data, cin, cout) };
}

export interface ResizeConv2DArgs {
  name: string;
  filters: number;
  kernelInitializer: ReturnType<typeof tfl.initializers.randomNormal>;
}

/** A[t][i] = 1 where transposed tap t sums 3x3 tap i: K = A · k along each axis. */
const TAP_SUMS = SUMMED_TAPS.map((taps) => [0, 1, 2].map((i) => (taps.includes(i) ? 1 : 0)));

/**
 * Nearest ×2 upsampling and a bias-free 3x3 "same" convolution, as one layer whose trained weight is
 * the 3x3 kernel ([3, 3, Cin, Cout], `<name>/kernel`). It runs as the stride-2 transposed convolution
 * of the summed 4x4 kernel: the same function and the same gradients (the sum is linear in the 3x3
 * taps), at 16 instead of 36 multiply-adds per input pixel and channel pair.
 */
export class ResizeConv2D extends tfl.layers.Layer {
  static className = 'ResizeConv2D';
  private readonly args: ResizeConv2DArgs;
  private kernel?: tfl.LayerVariable;

  constructor(args: ResizeConv2DArgs) {
    super({ name: args.name });
    this.args = args;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const cin = shape[shape.length - 1] as number;
    this.kernel = this.addWeight('kernel', [3, 3, cin, this.args.filters], 'float32', this.args.kernelInitializer);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [n, h, w] = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const twice = (d: number | null) => (d === null ? null : 2 * d);
    return [n, twice(h), twice(w), this.args.filters];
  }

  /** The [4, 4, Cout, Cin] transposed-convolution kernel of the 3x3 one, differentiably. */
  transposedKernel(): tf.Tensor4D {
    return tf.tidy(() => {
      const k3 = this.kernel!.read() as tf.Tensor4D;
      const [, , cin, cout] = k3.shape;
      const a = tf.tensor2d(TAP_SUMS, [4, 3]);
      // rows: [3 (i), 3·Cin·Cout] → [4 (th), 3 (j), Cin·Cout]; then columns: [3 (j), 4·Cin·Cout] → [4 (tw), 4 (th), Cin, Cout]
      const rows = tf.reshape(tf.matMul(a, tf.reshape(k3, [3, -1])), [4, 3, cin * cout]);
      const both = tf.reshape(tf.matMul(a, tf.reshape(tf.transpose(rows, [1, 0, 2]), [3, -1])), [4, 4, cin, cout]);
      return tf.transpose(both, [1, 0, 3, 2]) as tf.Tensor4D;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, h, w] = x.shape;
      return tf.conv2dTranspose(x, this.transposedKernel(), [n, 2 * h, 2 * w, this.args.filters], 2, 'same');
    });
  }
}
