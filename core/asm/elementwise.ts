/**
 * The element-wise and per-channel kernels of a training step, in AssemblyScript (compiled into the
 * same modules as gemm.ts, which re-exports them): batch norm's moments, normalisation and gradient
 * (per-channel sums, products and differences with a per-channel vector), leaky ReLU and its gradient
 * (a comparison and a select), squares. tfjs's WASM build runs these as scalar loops, its broadcasts
 * with per-element index arithmetic and its reductions over the leading axes after a transpose; here
 * each is one pass over memory in 128-bit SIMD.
 *
 * Layout: a tensor with last axis c is `rows` rows of c floats. An operand is either full (its own
 * row r at x + 4·r·c) or a per-channel vector broadcast to every row (at x itself); a scalar operand
 * is passed as a vector of c equal values. Every output element is computed by one fixed sequence of
 * single-precision operations (sums run over rows in increasing order), so results do not depend on
 * anything but the inputs.
 */

export const OP_ADD: i32 = 0;
export const OP_SUB: i32 = 1;
export const OP_MUL: i32 = 2;
export const OP_DIV: i32 = 3;

// @ts-ignore: decorator
@inline function apply(op: i32, a: v128, b: v128): v128 {
  if (op == OP_ADD) return f32x4.add(a, b);
  if (op == OP_SUB) return f32x4.sub(a, b);
  if (op == OP_MUL) return f32x4.mul(a, b);
  return f32x4.div(a, b);
}

// @ts-ignore: decorator
@inline function applyScalar(op: i32, a: f32, b: f32): f32 {
  if (op == OP_ADD) return a + b;
  if (op == OP_SUB) return a - b;
  if (op == OP_MUL) return a * b;
  return a / b;
}

// @ts-ignore: decorator
@inline function binaryRows(op: i32, a: usize, aFull: bool, b: usize, bFull: bool, out: usize, rows: i32, c: i32): void {
  const rowBytes = <usize>c * 4;
  const vectorEnd = c & ~3;
  for (let r = 0; r < rows; r++) {
    const ar = aFull ? a + <usize>r * rowBytes : a;
    const br = bFull ? b + <usize>r * rowBytes : b;
    const or = out + <usize>r * rowBytes;
    let j = 0;
    for (; j < vectorEnd; j += 4) {
      const at = <usize>j * 4;
      v128.store(or + at, apply(op, v128.load(ar + at), v128.load(br + at)));
    }
    for (; j < c; j++) {
      const at = <usize>j * 4;
      store<f32>(or + at, applyScalar(op, load<f32>(ar + at), load<f32>(br + at)));
    }
  }
}

/** out = a op b (OP_*), row by row; aFull/bFull: 1 for a full operand, 0 for a per-channel vector. */
export function binary(op: i32, a: usize, aFull: i32, b: usize, bFull: i32, out: usize, rows: i32, c: i32): void {
  // One specialised loop per operation, so the inner loop has no branch.
  if (op == OP_ADD) binaryRows(OP_ADD, a, aFull != 0, b, bFull != 0, out, rows, c);
  else if (op == OP_SUB) binaryRows(OP_SUB, a, aFull != 0, b, bFull != 0, out, rows, c);
  else if (op == OP_MUL) binaryRows(OP_MUL, a, aFull != 0, b, bFull != 0, out, rows, c);
  else binaryRows(OP_DIV, a, aFull != 0, b, bFull != 0, out, rows, c);
}

/** out[i] = a[i] > b[i] as a byte 1 or 0 (tfjs's bool), with `binary`'s operand layout. */
export function greater(a: usize, aFull: i32, b: usize, bFull: i32, out: usize, rows: i32, c: i32): void {
  const rowBytes = <usize>c * 4;
  const vectorEnd = c & ~15;
  const one = i8x16.splat(1);
  for (let r = 0; r < rows; r++) {
    const ar = aFull ? a + <usize>r * rowBytes : a;
    const br = bFull ? b + <usize>r * rowBytes : b;
    const or = out + <usize>r * <usize>c;
    let j = 0;
    for (; j < vectorEnd; j += 16) {
      const at = <usize>j * 4;
      const m0 = f32x4.gt(v128.load(ar + at), v128.load(br + at));
      const m1 = f32x4.gt(v128.load(ar + at, 16), v128.load(br + at, 16));
      const m2 = f32x4.gt(v128.load(ar + at, 32), v128.load(br + at, 32));
      const m3 = f32x4.gt(v128.load(ar + at, 48), v128.load(br + at, 48));
      // Lanes of −1/0 narrowed to bytes, then masked to 1/0.
      const bytes = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(m0, m1), i16x8.narrow_i32x4_s(m2, m3));
      v128.store(or + <usize>j, v128.and(bytes, one));
    }
    for (; j < c; j++) {
      const at = <usize>j * 4;
      store<u8>(or + <usize>j, load<f32>(ar + at) > load<f32>(br + at) ? 1 : 0);
    }
  }
}

/** out[i] = condition[i] ? a[i] : b[i], all full, `n` elements; condition bytes are 0 or not. */
export function select(condition: usize, a: usize, b: usize, out: usize, n: i32): void {
  const vectorEnd = n & ~3;
  let i = 0;
  for (; i < vectorEnd; i += 4) {
    const at = <usize>i * 4;
    const flags = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(condition + <usize>i)));
    const mask = i32x4.ne(flags, i32x4.splat(0));
    v128.store(out + at, v128.bitselect(v128.load(a + at), v128.load(b + at), mask));
  }
  for (; i < n; i++) {
    const at = <usize>i * 4;
    store<f32>(out + at, load<u8>(condition + <usize>i) != 0 ? load<f32>(a + at) : load<f32>(b + at));
  }
}

export const UNARY_SQUARE: i32 = 0;
export const UNARY_LEAKY_RELU: i32 = 1;
export const UNARY_RELU: i32 = 2;

// @ts-ignore: decorator
@inline function unaryLoop(kind: i32, x: usize, out: usize, n: i32, alpha: f32): void {
  const vectorEnd = n & ~3;
  const zero = f32x4.splat(0);
  const alphas = f32x4.splat(alpha);
  let i = 0;
  for (; i < vectorEnd; i += 4) {
    const at = <usize>i * 4;
    const v = v128.load(x + at);
    let y: v128;
    if (kind == UNARY_SQUARE) y = f32x4.mul(v, v);
    else if (kind == UNARY_LEAKY_RELU) y = v128.bitselect(f32x4.mul(v, alphas), v, f32x4.lt(v, zero));
    else y = f32x4.max(v, zero);
    v128.store(out + at, y);
  }
  for (; i < n; i++) {
    const at = <usize>i * 4;
    const v = load<f32>(x + at);
    let y: f32;
    if (kind == UNARY_SQUARE) y = v * v;
    else if (kind == UNARY_LEAKY_RELU) y = v < 0 ? v * alpha : v;
    else y = max<f32>(v, 0);
    store<f32>(out + at, y);
  }
}

/**
 * out = x², leaky ReLU (x < 0 ? alpha·x : x) or ReLU (max(x, 0)), by UNARY_*: tfjs's definitions, so
 * NaN and infinities come out as tfjs gives them (NaN stays NaN: a diverging run shows, rather than
 * being zeroed here), and −0 as well (leaky ReLU keeps it, ReLU gives +0). f32x4.max and f32.max
 * return NaN when either operand is.
 */
export function unary(kind: i32, x: usize, out: usize, n: i32, alpha: f32): void {
  if (kind == UNARY_SQUARE) unaryLoop(UNARY_SQUARE, x, out, n, alpha);
  else if (kind == UNARY_LEAKY_RELU) unaryLoop(UNARY_LEAKY_RELU, x, out, n, alpha);
  else unaryLoop(UNARY_RELU, x, out, n, alpha);
}

/** out[j] = (Σ_r x[r, j]) / divisor: per-channel sums (divisor 1) or means (divisor rows), c floats. */
export function channelSums(x: usize, rows: i32, c: i32, divisor: f32, out: usize): void {
  const rowBytes = <usize>c * 4;
  const vectorEnd = c & ~3;
  memory.fill(out, 0, rowBytes);
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes;
    let j = 0;
    for (; j < vectorEnd; j += 4) {
      const at = <usize>j * 4;
      v128.store(out + at, f32x4.add(v128.load(out + at), v128.load(xr + at)));
    }
    for (; j < c; j++) {
      const at = <usize>j * 4;
      store<f32>(out + at, load<f32>(out + at) + load<f32>(xr + at));
    }
  }
  // A mean divides, as tfjs does, rather than multiplying by a rounded reciprocal.
  if (divisor != 1) for (let j = 0; j < c; j++) store<f32>(out + <usize>j * 4, load<f32>(out + <usize>j * 4) / divisor);
}

/**
 * Batch normalisation with given moments: out = (x − mean) · k + offset, k = scale / √(variance + ε)
 * per channel (computed into `work`, c floats). `offset` and `scale` are per-channel vectors, or 0 for
 * none (0 and 1).
 */
export function batchNorm(
  x: usize, rows: i32, c: i32,
  mean: usize, variance: usize, offset: usize, scale: usize, epsilon: f32,
  out: usize, work: usize, zeros: usize,
): void {
  for (let j = 0; j < c; j++) {
    const at = <usize>j * 4;
    const s: f32 = scale ? load<f32>(scale + at) : 1;
    store<f32>(work + at, s / Mathf.sqrt(load<f32>(variance + at) + epsilon));
    if (!offset) store<f32>(zeros + at, 0);
  }
  const shift = offset ? offset : zeros;
  const rowBytes = <usize>c * 4;
  const vectorEnd = c & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes;
    const or = out + <usize>r * rowBytes;
    let j = 0;
    for (; j < vectorEnd; j += 4) {
      const at = <usize>j * 4;
      const centred = f32x4.sub(v128.load(xr + at), v128.load(mean + at));
      v128.store(or + at, f32x4.add(f32x4.mul(centred, v128.load(work + at)), v128.load(shift + at)));
    }
    for (; j < c; j++) {
      const at = <usize>j * 4;
      store<f32>(or + at, (load<f32>(xr + at) - load<f32>(mean + at)) * load<f32>(work + at) + load<f32>(shift + at));
    }
  }
}
