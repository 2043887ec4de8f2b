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

/** A weight as the generator's weight maps hold it: a shape and its values. */
export interface ShapedWeight {
  shape: number[];
  data: Float32Array;
}

/**
 * The weight of a transposed-convolution generator that `weight` (named `name`) stands for: a resize
 * stage's [3, 3, Cin, Cout] kernel becomes its [4, 4, Cout, Cin] form; everything else is itself.
 */
export function asTransposedWeight(name: string, weight: ShapedWeight): ShapedWeight {
  const [kh, kw, cin, cout] = weight.shape;
  if (!name.endsWith('/kernel') || weight.shape.length !== 4 || kh !== 3 || kw !== 3) return weight;
  return { shape: [4, 4, cout, cin], data: resizeConvAsTransposed(weight.data, cin, cout) };
}
