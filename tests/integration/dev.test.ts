/**
 * `npm run dev`: the local R2 is filled from a models directory with the publish code, then
 * `wrangler dev` (workerd) serves those models. Real processes end to end: the script, wrangler,
 * workerd, HTTP, PNG decoding.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findExportDirs } from '@gan/registry';
import { persistToFrom } from '../../worker/scripts/dev.ts';
import { writeFixtureExport } from '../helpers/fixtures.ts';
import { repoRoot } from '../helpers/gan.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('persistToFrom / findExportDirs', () => {
  it('reads --persist-to in both spellings', () => {
    expect(persistToFrom(['--port', '1', '--persist-to', 'x'])).toBe('x');
    expect(persistToFrom(['--persist-to=y/z'])).toBe('y/z');
    expect(persistToFrom(['--port', '1'])).toBeUndefined();
  });
});

describe('npm run dev', () => {
  let work: string;
  let dev: ChildProcess | undefined;
  let output = '';
  let base: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'gan-dev-'));
    const models = path.join(work, 'models');
    await writeFixtureExport(models, {
      name: 'digits',
      version: 'v1',
      config: { imageSize: 16, channels: 1, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 3 },
      classes: ['zero', 'one', 'two'],
      shardBytes: 4096,
    });
    await writeFixtureExport(models, {
      name: 'blobs',
      version: 'b1',
      config: { imageSize: 16, channels: 3, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 0 },
      shardBytes: 4096,
    });
    // Not a generator export: skipped with a note.
    await mkdir(path.join(models, 'classifier'), { recursive: true });
    await writeFile(path.join(models, 'classifier', 'manifest.json'), '{"kind":"classifier"}');
    expect(findExportDirs(models).map((d) => path.basename(d))).toEqual(['blobs-b1', 'classifier', 'digits-v1']);

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    dev = spawn(
      process.execPath,
      ['--import', 'tsx', 'worker/scripts/dev.ts', '--port', String(port), '--ip', '127.0.0.1', '--persist-to', path.join(work, 'state')],
      {
        cwd: repoRoot,
        env: { ...process.env, GAN_MODELS_DIR: models, WRANGLER_SEND_METRICS: 'false' },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    dev.stdout!.on('data', (d) => (output += d));
    dev.stderr!.on('data', (d) => (output += d));
    const deadline = Date.now() + 150_000;
    for (;;) {
      if (dev.exitCode !== null) throw new Error(`npm run dev exited ${dev.exitCode}:\n${output}`);
      try {
        if ((await fetch(`${base}/healthz`)).status < 500) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`wrangler dev did not answer in time:\n${output}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 180_000);

  afterAll(async () => {
    if (dev?.pid) {
      try {
        process.kill(-dev.pid, 'SIGTERM');
        await new Promise((r) => setTimeout(r, 1000));
        process.kill(-dev.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(work, { recursive: true, force: true });
  });

  it('publishes every export under models/ to the local R2, skipping what is not one', () => {
    expect(output).toMatch(/dev: digits@v1 → local R2 gan-models .*objects uploaded/);
    expect(output).toMatch(/dev: blobs@b1 → local R2 gan-models/);
    expect(output).toMatch(/not a model, left out: .*classifier \(classifier\)/);
  });

  it('serves the published models from wrangler dev', async () => {
    const list = await fetch(`${base}/v1/models`);
    expect(list.status).toBe(200);
    const text = await list.text();
    expect(text).toContain('digits');
    expect(text).toContain('blobs');
    for (const [model, version, channels] of [
      ['digits', 'v1', 1],
      ['blobs', 'b1', 3],
    ] as const) {
      const response = await fetch(`${base}/v1/models/${model}/image.png?seed=alice`);
      expect(response.status, await response.clone().text()).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/png');
      expect(response.headers.get('x-model-version')).toBe(version);
      const png = decode(new Uint8Array(await response.arrayBuffer()));
      expect(png.width).toBeGreaterThan(0);
      expect([channels, channels + 1]).toContain(png.channels);
    }
  });
});
