/**
 * `gan walk` writes the worker's walk.gif bytes: the worker's fixture models, laid out as export
 * directories, walked through the command line, against the hashes the worker tests pin.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sha256Hex } from '@gan/core';
import { GifReader } from 'omggif';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportDirsBucket } from '../helpers/fixtures.ts';
import { runRender } from '../helpers/gan.ts';
import { publishStandardFixtures } from '../worker/fixtures.ts';
import { GOLDEN_WALKS } from '../worker/golden-walk.ts';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gan-walk-'));
  await publishStandardFixtures(exportDirsBucket(root));
});

describe('gan walk', () => {
  const cases: [string, string[]][] = [
    ['/v1/models/digits/walk.gif?seed=golden&class=each', ['--model', 'digits@v1', '--seed', 'golden', '--class', 'each']],
    [
      '/v1/models/blobs/walk.gif?seed=golden&keys=3&frames=5&fps=20&size=24&truncation=0.8',
      ['--model', 'blobs@v1', '--seed', 'golden', '--keys', '3', '--frames', '5', '--fps', '20', '--size', '24', '--truncation', '0.8'],
    ],
  ];

  it.each(cases)("writes the worker's bytes for %s", async (request, args) => {
    const out = path.join(root, 'walk.gif');
    const withDir = args.map((a, i) => (args[i - 1] === '--model' ? path.join(root, a) : a));
    const run = await runRender('walk', withDir, out);
    expect(run.code, run.stderr).toBe(0);
    const bytes = new Uint8Array(await readFile(out));
    expect(await sha256Hex(bytes as Uint8Array<ArrayBuffer>)).toBe(GOLDEN_WALKS.find(([p]) => p === request)![1]);
    expect(new GifReader(bytes).numFrames()).toBeGreaterThan(1);
  });

  it('refuses more keys than classes with class each, naming the flag', async () => {
    const run = await runRender(
      'walk',
      ['--model', path.join(root, 'digits@v1'), '--class', 'each', '--keys', '4'],
      path.join(root, 'x.gif'),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--keys: with --class each key k is class k: at most 3 keys/);
  });
});
