/**
 * A model of your own, end to end on this machine, every step through the `gan` command line (in this
 * process) and the retrain workflow's script:
 * - a folder made here (the example badges, 25 per class) → `gan new` (2 training steps, export,
 *   evaluation against its held-out images, the first-publish floor) → `gan dataset push`/`pull`
 *   against a real S3 server (s3rver) → `gan publish` to that server and to wrangler dev's local R2 →
 *   served by the worker in workerd;
 * - trainer/scripts/retrain.ts as the workflow runs it, against the S3 server: a new model from a data
 *   set in the bucket, published as a first version; `plan` finds it by its checkpoint; a second run on
 *   an empty work tree pulls the checkpoint and the data set again and is gated against the first.
 * Tiny on purpose (2 steps, 20 samples): this is about the plumbing; the example's quality is in
 * docs/own-model.md.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Unstable_DevWorker, unstable_dev } from 'wrangler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '@gan/core/manifest';
import { datasetKeys } from '@gan/registry';
import { main } from '@gan/trainer/cli';
import { makeBadges } from '../../examples/make-badges.ts';
import { runRetrain } from '../../trainer/scripts/retrain.ts';
import { captured } from '../helpers/captured.ts';
import { repoRoot } from '../helpers/gan.ts';
import { type TestS3Server, startTestS3Server } from '../helpers/s3-server.ts';
import { openTestS3Storage } from '../helpers/stores.ts';

const BACKEND = ['--backend', 'wasm', '--threads', '1'];
let work: string;
let server: TestS3Server;
let badges: string;
const savedEnv = { ...process.env };

const gan = (...args: string[]) => captured(() => main(['node', 'gan', ...args]));
const retrain = (...args: string[]) => captured(() => runRetrain(args));

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'gan-own-model-'));
  server = await startTestS3Server();
  Object.assign(process.env, server.env); // the bucket every command without --local opens
  badges = path.join(work, 'badges');
  await makeBadges(badges, 25);
}, 120_000);

afterAll(async () => {
  process.env = savedEnv;
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a model from a folder, end to end', () => {
  let worker: Unstable_DevWorker | undefined;
  let newRun: { result: number; out: string };
  const exportDir = () => path.join(work, 'own', 'export');

  beforeAll(async () => {
    newRun = await gan(
      'new',
      'own-badges',
      '--data',
      `folder:${badges}`,
      '--steps',
      '2',
      '--samples',
      '20',
      '--out',
      path.join(work, 'own', 'run'),
      '--export-to',
      exportDir(),
      ...BACKEND,
    );
  }, 1_500_000);

  afterAll(async () => {
    await worker?.stop();
  });

  it('gan new reports the folder, trains, exports, evaluates and applies the first-publish floor', async () => {
    expect([0, 3], newRun.out).toContain(newRun.result);
    expect(newRun.out).toContain('100 files found, 100 images used, 0 skipped');
    expect(newRun.out).toMatch(/ {2}circle: 25\n {2}diamond: 25\n {2}hexagon: 25\n {2}star: 25\n/);
    expect(newRun.out).toContain('transparency: 100 images');
    const evaluation = JSON.parse(await readFile(path.join(work, 'own', 'run', 'evaluation.json'), 'utf8'));
    const line = newRun.out.match(
      /first-publish floor: FD ([\d.]+) .* is ([\d.]+)× the real-vs-real floor of ([\d.]+) \(at most 10× allowed\): (pass|fail)/,
    );
    expect(line, newRun.out).not.toBeNull();
    expect(Number(line![1])).toBeCloseTo(evaluation.fd, 1);
    expect(line![4]).toBe(evaluation.fd / evaluation.fdFloor <= 10 ? 'pass' : 'fail');
    expect(newRun.result).toBe(line![4] === 'pass' ? 0 : 3);
    const manifest = JSON.parse(await readFile(path.join(exportDir(), 'manifest.json'), 'utf8'));
    expect(manifest.name).toBe('own-badges');
    expect(manifest.classes).toEqual(['circle', 'diamond', 'hexagon', 'star']);
    expect(manifest.training.steps).toBe(2);
    expect(manifest.metrics.evaluation.fd).toBe(evaluation.fd); // recorded in the export
  });

  it('gan dataset push uploads every file with its sha256; pull verifies and writes the same bytes', async () => {
    const pushed = await gan('dataset', 'push', badges, '--name', 'own-badges');
    expect(pushed.result, pushed.out).toBe(0);
    const storage = openTestS3Storage(server);
    const manifest = JSON.parse(new TextDecoder().decode((await storage.get(datasetKeys.manifest('own-badges')))!));
    expect(manifest.files).toHaveLength(100);
    const first = manifest.files[0];
    expect(first.path).toBe('circle/circle-000.png');
    expect(first.sha256).toBe(await sha256Hex(new Uint8Array(await readFile(path.join(badges, first.path)))));

    const out = path.join(work, 'pulled');
    const pulled = await gan('dataset', 'pull', 'own-badges', '--out', out);
    expect(pulled.result, pulled.out).toBe(0);
    for (const f of manifest.files.slice(0, 10))
      expect((await readFile(path.join(out, f.path))).equals(await readFile(path.join(badges, f.path)))).toBe(true);

    // An object changed in the bucket is caught, naming the file.
    await storage.put(datasetKeys.object('own-badges', first.sha256), new Uint8Array([1, 2, 3]));
    const tampered = await gan('dataset', 'pull', 'own-badges', '--out', path.join(work, 'pulled-again'));
    expect(tampered.result).toBe(1);
    expect(tampered.out).toContain('circle/circle-000.png');
    expect(tampered.out).toContain('does not match its sha256');
    await storage.close();
  });

  it('gan publish puts it in the S3 bucket and the local R2, and the worker serves it from there', async () => {
    const s3 = await gan('publish', exportDir());
    expect(s3.result, s3.out).toBe(0);
    const storage = openTestS3Storage(server);
    expect(await storage.get('models/own-badges/current.json')).not.toBeNull();
    await storage.close();

    const state = path.join(work, 'state');
    const local = await gan('publish', exportDir(), '--local', '--persist-to', state);
    expect(local.result, local.out).toBe(0);
    worker = await unstable_dev(path.join(repoRoot, 'worker/src/index.ts'), {
      config: path.join(repoRoot, 'wrangler.toml'),
      ip: '127.0.0.1',
      persistTo: state,
      logLevel: 'warn',
      experimental: { disableExperimentalWarning: true },
    });
    const response = await worker.fetch('/v1/models/own-badges/image.png?seed=hello&class=star');
    expect(response.status, await response.clone().text()).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(Array.from(bytes.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]); // "PNG"
  }, 300_000);
});

describe("the retrain workflow's script, against a local S3 server", () => {
  const datasets = () => path.join(work, 'datasets');
  let first: { result: number; out: string };
  let summary: string;

  beforeAll(async () => {
    const pushed = await gan('dataset', 'push', badges, '--name', 'script-badges');
    expect(pushed.result, pushed.out).toBe(0);
    summary = path.join(work, 'summary.md');
    first = await retrain(
      'run',
      'script-model',
      '--data',
      'dataset:script-badges',
      '--steps',
      '2',
      '--samples',
      '20',
      '--max-fd-ratio',
      '1000000', // a 2-step model is far from the real floor; this run is about the plumbing
      '--datasets-dir',
      datasets(),
      '--work-dir',
      path.join(work, 'machine-1'),
      '--summary',
      summary,
      ...BACKEND,
    );
  }, 1_500_000);

  it('starts a new model from a data set in the bucket and publishes its first version past the floor', async () => {
    expect(first.result, first.out).toBe(0);
    expect(first.out).toMatch(/script-model: steps 0 → 2; first-publish floor: pass; published/);
    const storage = openTestS3Storage(server);
    expect(await storage.get('checkpoints/script-model/latest.json')).not.toBeNull();
    expect(await storage.get('models/script-model/current.json')).not.toBeNull();
    await storage.close();
    expect(await readFile(summary, 'utf8')).toContain('### First version of script-model');
    // The run remembers its data, so a scheduled run can find it without being told.
    expect(JSON.parse(await readFile(path.join(work, 'machine-1', 'run', 'source.json'), 'utf8'))).toEqual({
      data: 'dataset:script-badges',
      recipe: 'emoji',
    });
  });

  it('plan lists every model with a checkpoint in the bucket, or the one named', async () => {
    const all = await retrain('plan');
    expect(all.result).toBe(0);
    expect(JSON.parse(all.out.trim().split('\n').at(-1)!)).toEqual(['script-model']);
    const named = await retrain('plan', '--name', 'brand-new');
    expect(JSON.parse(named.out.trim().split('\n').at(-1)!)).toEqual(['brand-new']);
  });

  it('a scheduled run on an empty machine continues from the checkpoint, pulls the data again and is gated against the current version', async () => {
    await rm(datasets(), { recursive: true, force: true });
    const second = await retrain(
      'run',
      'script-model',
      '--steps',
      '1',
      '--datasets-dir',
      datasets(),
      '--work-dir',
      path.join(work, 'machine-2'),
      ...BACKEND,
    );
    expect(second.result, second.out).toBe(0);
    expect(second.out).toMatch(/script-model: steps 2 → 3; quality gate against script-model@\S+: (pass|fail); (published|not published)/);
    expect(existsSync(path.join(datasets(), 'script-badges', 'star', 'star-024.png'))).toBe(true);
    const metrics = (await readFile(path.join(work, 'machine-2', 'run', 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(metrics.map((l) => JSON.parse(l).step)).toEqual([1, 2, 3]);
    // Evaluated as the first version was (its recorded sample count), so the gate could compare them.
    expect(JSON.parse(await readFile(path.join(work, 'machine-2', 'evaluation.json'), 'utf8')).samples).toBe(20);
  }, 1_500_000);

  it('a new model without data is refused with the reason', async () => {
    const run = await retrain('run', 'nothing-here', '--steps', '1', '--work-dir', path.join(work, 'machine-3'));
    expect(run.result).toBe(1);
    expect(run.out).toContain('nothing-here has no checkpoint in the bucket: a new model needs its data');
  });
});
