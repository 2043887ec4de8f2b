/**
 * Single-precision matrix product for the tfjs WASM backend, in AssemblyScript:
 *
 *   C[m×n] = A[m×k] · B[k×n]   (+ C when `accumulate`)
 *
 * A's element (i, p) is at a + 4·(i·aRow + p·aCol), B's (p, j) at b + 4·(p·bRow + j·bCol), so
 * transposed operands are just other strides; C is row-major with `ldc` floats per row. With
 * `aDepthOffsets` (a table of k i32, or 0 for none) A is gathered instead: A(i, p) = a[offsets[p] + i],
 * zero where the offset is negative.
 *
 * The module imports the memory of tfjs's backend module (env.memory) and works on its tensors in
 * place. It allocates nothing: `scratch` (SCRATCH_BYTES, from the backend's malloc) holds the packed
 * blocks. It has no data segments, so instantiating it writes nothing into that memory.
 *
 * Blocking (GotoBLAS order): for each NC-column block of B and KC-deep slice of k, B's slice is packed
 * into 8-column panels (p-major: 8 floats per p); for each MC-row block of A, A's slice is packed into
 * 4-row panels (4 floats per p); then every 4×8 tile of C is one register-blocked loop over p with
 * eight accumulators (V8 has 15 usable vector registers: 6×8 spilled). Packing pads partial panels
 * with zeros, so the loop always computes full tiles and only the store is cut to size.
 *
 * Order of operations: every C element is one running sum over p = 0 … k−1 in increasing order (the
 * accumulators of a later k slice start from the stored C), so results do not depend on the block
 * sizes' split of m or n. The relaxed-SIMD build multiplies and adds with f32x4.relaxed_madd (fused
 * where the CPU has FMA), the plain build with separate mul and add.
 *
 * For serving, `conv` runs a stride-1 NHWC convolution as GEMMs: for each MC block of output pixels it
 * copies their patches (im2col) into scratch, and multiplies them with a filter packed once by
 * `prepackB` (the layout packB makes, for all of B), adding a bias and applying ReLU as each tile is
 * stored; output rows can be scattered in groups (one output image row per group), so the generator's
 * phase convolutions write their pixels straight into the interleaved upsampled image. `winograd` does
 * the same for 2×2 filters with 9 multiply-adds per 2×2 output pixels instead of 16 (F(2×2, 2×2)).
 *
 * Same bits everywhere (the worker's images are pinned): the plain-SIMD build's f32x4.mul and f32x4.add
 * are IEEE-754 single-precision operations with one correctly rounded result each, on every CPU and
 * engine; nothing here depends on the thread count, the memory's address or the CPU's features; the
 * summation order is fixed by the source (above), and so are Winograd's transforms (adds and subtracts
 * in the order written; the filter's, in JavaScript, rounds each step to single precision); the bias
 * is added once after the sum and ReLU is f32x4.max with +0. Whether a tile loads A as one vector or
 * four (`splitA`) moves data, not arithmetic. The relaxed build's f32x4.relaxed_madd may fuse or not
 * depending on the CPU, so serving uses the plain one.
 */

// One module, one instance and one loader for every kernel; each job in a file of its own:
// products.ts (the GEMM), convolution.ts (im2col), winograd.ts, filter-gradient.ts, and the training
// step's element-wise and per-channel kernels (elementwise.ts).
export { batchNorm, binary, channelSums, greater, select, unary } from './elementwise';
export { SCRATCH_BYTES, RELAXED, gemm, packedBFloats, prepackB } from './products';
export { convScratchBytes, conv } from './convolution';
export { winogradScratchBytes, winograd, winogradPhases } from './winograd';
export { winogradFilterGradientScratchBytes, winogradFilterGradient } from './filter-gradient';
