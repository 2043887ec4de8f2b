import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CandidateSampler,
  type FastGenerator,
  type Manifest,
  ManifestSchema,
  MAX_CANDIDATES,
  SCORER_JSON,
  bestIndex,
  candidateLatents,
  cellSeed,
  gridCells,
  gridPng,
  imagePng,
  latentFromSeed,
  loadGenerator,
  morphPng,
  registerWasmKernels,
  samplerOf,
  scoreImages,
  scorerWeightsFrom,
  sha256Hex,
  walkGif,
  walkKeys,
} from '@gan/core';
import { buildProjectionDiscriminator } from '@gan/core/model';
import { settleSpectralNorms } from '@gan/core/spectral-norm';
import { exportedWeights } from '@gan/trainer/sampler/train-scorer';
import { buildFixture } from '../worker/fixtures.ts';
import { PINNED_PICKS, PLAIN_DIGITS, SAMPLED_FIXTURES, SAMPLED_GOLDEN, buildSampledFixture } from '../worker/sampler-fixture.ts';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmKernels();
});

const load = (published: { manifest: Manifest; files: Map<string, Uint8Array> }) =>
  loadGenerator(`${published.manifest.name}@${published.manifest.version}`, published.manifest, async (p) => published.files.get(p));

async function fixture(version: string): Promise<FastGenerator> {
  return load(await buildSampledFixture(SAMPLED_FIXTURES.find((f) => f.version === version)!));
}

describe('candidate latents', () => {
  it.each([100, 7])('candidate 0 is the seed’s own latent, bit for bit (latent size %i), and the others differ', (size) => {
    const [first, ...rest] = candidateLatents('seed', size, 4);
    expect(first).toEqual(latentFromSeed('seed', size));
    expect(rest).toHaveLength(3);
    for (const other of rest) expect(other).not.toEqual(first);
  });

  it('the truncation scales every candidate', () => {
    const plain = candidateLatents('t', 10, 3);
    const truncated = candidateLatents('t', 10, 3, 0.5);
    for (const [k, latent] of truncated.entries()) expect(latent).toEqual(plain[k].map((v) => v * 0.5));
    expect(truncated[0]).toEqual(latentFromSeed('t', 10, 0.5));
  });

  it('a truncation outside (0, 1] is refused', () => {
    expect(() => candidateLatents('t', 10, 2, 0)).toThrow(RangeError);
  });
});

describe('the pick', () => {
  it('is the highest score; a tie goes to the lowest index; NaN never wins', () => {
    expect(bestIndex([0.1, 0.7, 0.3], 0, 3)).toBe(1);
    expect(bestIndex([0.5, 0.9, 0.9, 0.2], 0, 4)).toBe(1);
    expect(bestIndex([2, 2, 2], 0, 3)).toBe(0);
    expect(bestIndex([Number.NaN, -5, Number.NaN], 0, 3)).toBe(1);
    expect(bestIndex([Number.NaN, Number.NaN], 0, 2)).toBe(0);
    expect(bestIndex([9, 1, 3, 2], 1, 3)).toBe(1); // within a cell's slice
  });
});

describe('the scorer', () => {
  it('in plain JavaScript on 8-bit pixels gives what the trained projection discriminator gives (tfjs, inference mode)', async () => {
    await tf.setBackend('cpu');
    try {
      const config = {
        imageSize: 16 as const,
        channels: 3 as const,
        latentSize: 4,
        generatorWidth: 4,
        discriminatorWidth: 4,
        numClasses: 3,
      };
      const d = buildProjectionDiscriminator(config, 3, { spectralNorm: true });
      settleSpectralNorms(d);
      const named = Object.fromEntries(exportedWeights(d).map((w) => [w.name, w]));
      const architecture = { imageSize: 16, channels: 3 as const, width: 4, numClasses: 3 };
      const weights = scorerWeightsFrom(architecture, named);
      const n = 5;
      const pixels = Uint8Array.from({ length: n * 16 * 16 * 3 }, (_, i) => (i * 37 + (i >> 5) * 11) % 256);
      const classes = [0, 1, 2, 1, 0];
      const js = scoreImages(architecture, weights, pixels, n, classes);
      const expected = tf.tidy(() => {
        const images = tf.sub(tf.div(tf.tensor4d(Float32Array.from(pixels), [n, 16, 16, 3]), 127.5), 1);
        const labels = tf.cast(tf.oneHot(tf.tensor1d(classes, 'int32'), 3), 'float32');
        return (d.apply([images, labels], { training: false }) as tf.Tensor).dataSync();
      });
      for (let i = 0; i < n; i++) expect(js[i]).toBeCloseTo(expected[i], 4);
      // The class matters: another class gives another score.
      const other = scoreImages(architecture, weights, pixels.subarray(0, 768), 1, [2]);
      expect(other[0]).not.toBeCloseTo(js[0], 6);
      d.dispose();
    } finally {
      await tf.setBackend('wasm');
    }
  });
});

describe('a version with sampling', () => {
  it('loads its scorer beside the generator; a version without sampling has none', async () => {
    const sampled = await fixture('k4');
    expect(samplerOf(sampled)?.candidates).toBe(4);
    const plain = await load(await buildFixture(PLAIN_DIGITS));
    expect(samplerOf(plain)).toBeUndefined();
    sampled.dispose();
    plain.dispose();
  });

  it('picks the best-scored candidate of each cell, the same every time, and renders its latent', async () => {
    const generator = await fixture('k4');
    const sampler = samplerOf(generator) as CandidateSampler;
    const cells = Array.from({ length: 8 }, (_, i) => ({ seed: cellSeed('golden', i), classIndex: i % 3 }));
    const { scores } = sampler.score(generator, cells);
    const picks = cells.map((_, i) => bestIndex(scores, i * 4, 4));
    const again = sampler.score(generator, cells).scores;
    expect(again).toEqual(scores);
    expect(picks).toEqual(PINNED_PICKS);
    // Not always candidate 0: sampling changes some images.
    expect(picks.some((k) => k !== 0)).toBe(true);
    // The image of a cell is the plain render of its picked latent.
    const points = sampler.points(generator, cells, 1);
    for (const [i, p] of points.entries()) expect(p.latent).toEqual(candidateLatents(cells[i].seed, 8, 4)[picks[i]]);
    // A cell's pick does not depend on the other cells of the request.
    expect(sampler.points(generator, [cells[5]], 1)[0].latent).toEqual(points[5].latent);
    generator.dispose();
  });

  it('with truncation, picks among the truncated candidates', async () => {
    const generator = await fixture('k4');
    const sampler = samplerOf(generator) as CandidateSampler;
    const cells = [{ seed: 'trunc', classIndex: 1 }];
    const [point] = sampler.points(generator, cells, 0.6);
    const candidates = candidateLatents('trunc', 8, 4, 0.6);
    expect(candidates.some((c) => c.every((v, i) => v === point.latent[i]))).toBe(true);
    generator.dispose();
  });

  it('K = 1 renders exactly what the same generator without sampling renders, on every route', async () => {
    const k1 = await fixture('k1');
    const plain = await load(await buildFixture(PLAIN_DIGITS));
    const requests: ((g: FastGenerator) => Uint8Array)[] = [
      (g) => imagePng(g, { seed: 'same', classIndex: 2 }, { size: 24 }),
      (g) => gridPng(g, gridCells('same', 3, 4, 3, 'each'), { rows: 3, cols: 4, padding: 1 }, { truncation: 0.7 }),
      (g) => walkGif(g, walkKeys('same', 3, 3, 'seeded'), { frames: 3, fps: 10 }),
      (g) => morphPng(g, { seed: 'a', classIndex: 0 }, { seed: 'b', classIndex: 1 }, { steps: 4, padding: 2 }),
    ];
    for (const request of requests) expect(request(k1)).toEqual(request(plain));
    k1.dispose();
    plain.dispose();
  });

  it('the pinned requests have their bytes in Node (the worker test pins the same in workerd)', async () => {
    expect(SAMPLED_GOLDEN.length).toBeGreaterThan(0);
    const generators = new Map<string, FastGenerator>();
    for (const f of SAMPLED_FIXTURES) generators.set(`${f.name}@${f.version}`, await load(await buildSampledFixture(f)));
    const actual: [string, string][] = [];
    for (const [url] of SAMPLED_GOLDEN) {
      const u = new URL(url, 'https://x');
      const [, , , ref, route] = u.pathname.split('/');
      const g = generators.get(ref)!;
      const q = u.searchParams;
      const seed = q.get('seed')!;
      const classIndex = q.get('class') === null ? undefined : Number(q.get('class'));
      const options = {
        size: q.get('size') ? Number(q.get('size')) : undefined,
        truncation: q.get('truncation') ? Number(q.get('truncation')) : undefined,
      };
      const bytes =
        route === 'image.png'
          ? imagePng(g, { seed, classIndex }, options)
          : gridPng(
              g,
              gridCells(
                seed,
                Number(q.get('rows')),
                Number(q.get('cols')),
                g.config.numClasses,
                classIndex ?? (g.config.numClasses ? 'seeded' : 'none'),
              ),
              { rows: Number(q.get('rows')), cols: Number(q.get('cols')), padding: 2 },
              options,
            );
      actual.push([url, await sha256Hex(bytes as Uint8Array<ArrayBuffer>)]);
    }
    expect(actual).toEqual(SAMPLED_GOLDEN);
    for (const g of generators.values()) g.dispose();
  });
});

describe('the manifest', () => {
  it('accepts every shipped manifest, none of which has sampling', () => {
    const models = path.resolve('models');
    const dirs = readdirSync(models).filter((d) => existsSync(path.join(models, d, 'manifest.json')));
    expect(dirs.length).toBeGreaterThan(0);
    for (const d of dirs) {
      const raw = JSON.parse(readFileSync(path.join(models, d, 'manifest.json'), 'utf8'));
      const parsed = ManifestSchema.parse(raw);
      expect(parsed.sampling).toBeUndefined();
    }
  });

  it('refuses a sampling section whose scorer files are not listed, that does not fit the generator, or K out of bounds', async () => {
    const { manifest } = await buildSampledFixture(SAMPLED_FIXTURES[0]);
    expect(ManifestSchema.safeParse(manifest).success).toBe(true);
    const unlisted = { ...manifest, files: manifest.files.filter((f) => f.path !== SCORER_JSON) };
    expect(ManifestSchema.safeParse(unlisted).success).toBe(false);
    const misfit = {
      ...manifest,
      sampling: {
        ...manifest.sampling!,
        scorer: { ...manifest.sampling!.scorer, architecture: { ...manifest.sampling!.scorer.architecture, numClasses: 2 } },
      },
    };
    expect(ManifestSchema.safeParse(misfit).success).toBe(false);
    for (const candidates of [0, MAX_CANDIDATES + 1, 2.5]) {
      expect(ManifestSchema.safeParse({ ...manifest, sampling: { ...manifest.sampling!, candidates } }).success).toBe(false);
    }
  });

  it('a scorer whose bytes do not match the manifest is refused at load, as a generator shard is', async () => {
    const published = await buildSampledFixture(SAMPLED_FIXTURES[0]);
    const files = new Map(published.files);
    const bin = new Uint8Array(files.get('scorer.bin')!);
    bin[0] ^= 1;
    files.set('scorer.bin', bin);
    await expect(load({ manifest: published.manifest, files })).rejects.toThrow(/scorer.bin/);
  });
});
