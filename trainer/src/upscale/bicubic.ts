/**
 * The baselines and the pixel measure the upscaler is scored with: bicubic enlargement (Keys' cubic
 * convolution with a = −0.5, as PIL's and MATLAB's imresize, half-pixel centres, edges repeated) and
 * PSNR on 8-bit pixels.
 */

/** Keys' cubic kernel, a = −0.5. */
function cubic(t: number): number {
  const a = -0.5;
  const x = Math.abs(t);
  if (x <= 1) return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1;
  if (x < 2) return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a;
  return 0;
}

/** For each output coordinate of an enlargement n → m: the 4 source indices and their weights. */
function taps(n: number, m: number): { index: Int32Array; weight: Float64Array } {
  const index = new Int32Array(m * 4);
  const weight = new Float64Array(m * 4);
  for (let o = 0; o < m; o++) {
    const src = ((o + 0.5) * n) / m - 0.5;
    const base = Math.floor(src);
    for (let k = 0; k < 4; k++) {
      const i = base - 1 + k;
      index[o * 4 + k] = Math.min(n - 1, Math.max(0, i));
      weight[o * 4 + k] = cubic(src - i);
    }
  }
  return { index, weight };
}

/** Bicubic enlargement of `count` square images of bytes [count, n, n, channels] to m × m. */
export function bicubicResize(pixels: Uint8Array, count: number, n: number, m: number, channels: number): Uint8Array {
  const t = taps(n, m);
  const out = new Uint8Array(count * m * m * channels);
  const rows = new Float64Array(m * n * channels); // horizontal pass: [n rows, m cols, C]
  for (let img = 0; img < count; img++) {
    const src = pixels.subarray(img * n * n * channels, (img + 1) * n * n * channels);
    for (let y = 0; y < n; y++)
      for (let x = 0; x < m; x++)
        for (let c = 0; c < channels; c++) {
          let v = 0;
          for (let k = 0; k < 4; k++) v += t.weight[x * 4 + k] * src[(y * n + t.index[x * 4 + k]) * channels + c];
          rows[(y * m + x) * channels + c] = v;
        }
    const dst = out.subarray(img * m * m * channels);
    for (let y = 0; y < m; y++)
      for (let x = 0; x < m; x++)
        for (let c = 0; c < channels; c++) {
          let v = 0;
          for (let k = 0; k < 4; k++) v += t.weight[y * 4 + k] * rows[(t.index[y * 4 + k] * m + x) * channels + c];
          dst[(y * m + x) * channels + c] = Math.min(255, Math.max(0, Math.round(v)));
        }
  }
  return out;
}

/** Mean over images of each image's PSNR in dB (8-bit peak), [count, …] bytes each. Identical images count as 100 dB. */
export function meanPsnr(a: Uint8Array, b: Uint8Array, count: number): number {
  const len = a.length / count;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    let se = 0;
    for (let k = i * len; k < (i + 1) * len; k++) se += (a[k] - b[k]) ** 2;
    const mse = se / len;
    sum += mse === 0 ? 100 : 10 * Math.log10((255 * 255) / mse);
  }
  return sum / count;
}
