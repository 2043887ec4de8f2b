/** The filter gradient of the Winograd convolution over input phases (the trainer's stride-2 layers). */
import { gemm } from './products';
import { transformInputs } from './winograd';

/** Tiles per block of the Winograd filter gradient: its products' depth, deep enough to amortise C's loads. */
export const WTG: i32 = 128;

/** Bytes of scratch `winogradFilterGradient` needs besides SCRATCH_BYTES. */
export function winogradFilterGradientScratchBytes(depth: i32, nc: i32): i32 {
  return 9 * WTG * (depth + nc) * 4;
}

/**
 * The filter gradient of `winogradPhases` without bias: with Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A per tile, the
 * gradient of the 2×2 filter g is Gᵀ[Σ_tiles (Bᵀ d B) ⊙ (A dY Aᵀ)]G, so the 9 sums over tiles are
 * products M_ξ[depth × nc] = V_ξᵀ · Ŵ_ξ, Ŵ = A dY Aᵀ (A = [1 0; 1 1; 0 1]), written as 9 planes at `m`
 * (rows `ldm` floats apart, plane ξ at m + 4·ξ·depth·ldm). The caller finishes with Gᵀ M G:
 * dg(U, V) = Σ_{a ∈ {U, U+1}, b ∈ {V, V+1}} M_{3a+b}. dY: [batch, h, w, ·] with pixels `ldy` floats
 * apart, columns nc from `dy` (a helper thread's share: dy and m offset by its first column), nc a
 * multiple of 4. Every element of M is one running sum over the tiles in order, whatever the split.
 * Scratch: SCRATCH_BYTES at `scratch`, winogradFilterGradientScratchBytes(depth, nc) at `work`.
 */
export function winogradFilterGradient(
  x: usize, batch: i32, h: i32, w: i32, cin: i32,
  pixelStride: i32, rowStride: i32, imageStride: i32,
  phases: i32, phaseTable: usize,
  dy: usize, ldy: i32, nc: i32,
  m: usize, ldm: i32,
  scratch: usize, work: usize,
): void {
  const tilesH = h >> 1;
  const tilesW = w >> 1;
  const tiles = batch * tilesH * tilesW;
  const depth = phases * cin;
  const v = work; // 9 planes [WTG, depth]
  const wt = work + <usize>(9 * WTG * depth) * 4; // 9 planes [WTG, nc]
  const vPlane = <usize>(WTG * depth) * 4;
  const wPlane = <usize>(WTG * nc) * 4;
  const mPlane = <usize>depth * <usize>ldm * 4;
  const pixelBytes = <usize>pixelStride * 4;
  const rowBytes = <usize>rowStride * 4;
  const dyPixel = <usize>ldy * 4;
  const dyRow = <usize>w * dyPixel;
  for (let t0 = 0; t0 < tiles; t0 += WTG) {
    const tb = min(WTG, tiles - t0);
    transformInputs(v, vPlane, depth, x, h, w, cin, pixelBytes, rowBytes, imageStride, phases, phaseTable, t0, tb, tilesW, tilesH);
    // Ŵ = A dY Aᵀ: rows y0, y0 + y1, y1 of the tile's 2×2 dY; then the same along columns.
    for (let t = 0; t < tb; t++) {
      const tile = t0 + t;
      const tl = tile % tilesW;
      const rest = tile / tilesW;
      const tm = rest % tilesH;
      const image = rest / tilesH;
      const at = dy + (<usize>(image * h + 2 * tm) * <usize>w + <usize>(2 * tl)) * dyPixel;
      const dst = wt + <usize>(t * nc) * 4;
      for (let co = 0; co < nc; co += 4) {
        const o = <usize>co * 4;
        const y00 = v128.load(at + o), y01 = v128.load(at + dyPixel + o);
        const y10 = v128.load(at + dyRow + o), y11 = v128.load(at + dyRow + dyPixel + o);
        const s0 = f32x4.add(y00, y10), s1 = f32x4.add(y01, y11);
        v128.store(dst + o, y00);
        v128.store(dst + wPlane + o, f32x4.add(y00, y01));
        v128.store(dst + 2 * wPlane + o, y01);
        v128.store(dst + 3 * wPlane + o, s0);
        v128.store(dst + 4 * wPlane + o, f32x4.add(s0, s1));
        v128.store(dst + 5 * wPlane + o, s1);
        v128.store(dst + 6 * wPlane + o, y10);
        v128.store(dst + 7 * wPlane + o, f32x4.add(y10, y11));
        v128.store(dst + 8 * wPlane + o, y11);
      }
    }
    // M_ξ (+)= V_ξᵀ · Ŵ_ξ: V_ξ is [tb, depth], read transposed.
    for (let xi = 0; xi < 9; xi++) {
      gemm(depth, nc, tb, v + <usize>xi * vPlane, 1, depth, wt + <usize>xi * wPlane, nc, 1, m + <usize>xi * mPlane, ldm, t0 > 0 ? 1 : 0, scratch, 0);
    }
  }
}
