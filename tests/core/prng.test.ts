import { describe, expect, it } from 'vitest';
import { Sfc32, cellSeed, classForSeed, cyrb128, gridCells, latentFromSeed, randomSeed } from '@gan/core';

// Golden values: the seed → latent mapping is public (every published image URL depends on it).
// If one of these changes, every seeded image changes: that needs a new major API version, not a fix.
describe('seed → latent', () => {
  it('hashes UTF-8 bytes with cyrb128', () => {
    expect(cyrb128(new TextEncoder().encode('alice'))).toEqual([2511306855, 2074712179, 331573738, 3929978705]);
  });

  it('gives the pinned latents', () => {
    expect(Array.from(latentFromSeed('alice', 6))).toEqual([
      0.6994419693946838, 0.6390451192855835, -0.09853542596101761, 0.27526143193244934, 0.9013962149620056, 1.8028403520584106,
    ]);
    expect(Array.from(latentFromSeed('', 3))).toEqual([1.7175087928771973, 0.07950688898563385, 2.4423184394836426]);
    expect(Array.from(latentFromSeed('ünï🙂', 3))).toEqual([-0.044356536120176315, -0.07892916351556778, 1.4256349802017212]);
  });

  it('scales by the truncation factor', () => {
    const full = latentFromSeed('alice', 4);
    const half = latentFromSeed('alice', 4, 0.5);
    half.forEach((v, i) => {
      expect(v).toBeCloseTo(full[i] * 0.5, 6);
    });
    expect(() => latentFromSeed('alice', 4, 0)).toThrow(RangeError);
    expect(() => latentFromSeed('alice', 4, 1.5)).toThrow(RangeError);
  });

  it('a prefix of a longer latent is the shorter latent (odd lengths included)', () => {
    expect(Array.from(latentFromSeed('x', 101)).slice(0, 7)).toEqual(Array.from(latentFromSeed('x', 7)));
  });

  it('is standard normal in distribution', () => {
    const z = latentFromSeed('stats', 100_000);
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
  });

  it('different seeds and grid cells differ', () => {
    expect(latentFromSeed('a', 4)).not.toEqual(latentFromSeed('b', 4));
    expect(cellSeed('preview', 3)).toBe('preview#3');
    expect(latentFromSeed(cellSeed('s', 0), 4)).not.toEqual(latentFromSeed(cellSeed('s', 1), 4));
  });

  it('Sfc32 state can be saved and restored mid-stream', () => {
    const a = Sfc32.fromSeed('resume');
    for (let i = 0; i < 10; i++) a.next();
    const b = new Sfc32(a.getState());
    expect(Array.from({ length: 5 }, () => a.nextUint32())).toEqual(Array.from({ length: 5 }, () => b.nextUint32()));
  });

  it('random seeds are 12 base-36 characters and differ', () => {
    const seeds = new Set(Array.from({ length: 100 }, randomSeed));
    expect(seeds.size).toBe(100);
    for (const s of seeds) expect(s).toMatch(/^[0-9a-z]{12}$/);
  });

  it('grid cells: cell i uses "<seed>#i"; class=each keeps one latent per column and one class per row', () => {
    expect(gridCells('s', 2, 3, 0, 'none')).toEqual([0, 1, 2, 3, 4, 5].map((i) => ({ seed: `s#${i}`, classIndex: undefined })));
    const each = gridCells('s', 3, 2, 3, 'each');
    expect(each.map((c) => [c.seed, c.classIndex])).toEqual([
      ['s#0', 0],
      ['s#1', 0],
      ['s#0', 1],
      ['s#1', 1],
      ['s#0', 2],
      ['s#1', 2],
    ]);
    expect(gridCells('s', 1, 4, 10, 'seeded').map((c) => c.classIndex)).toEqual([0, 1, 2, 3].map((i) => classForSeed(`s#${i}`, 10)));
    expect(gridCells('s', 1, 2, 10, 7).map((c) => c.classIndex)).toEqual([7, 7]);
  });
});
