/**
 * The retrain pipeline on a tiny configuration, every step through the `gan` command line as the
 * retrain workflow runs it, against wrangler dev's local R2: train → checkpoint push → (fresh
 * directory) checkpoint pull → train --resume → export → evaluate → gate → publish; twice. Then the
 * worker, in workerd (wrangler's unstable_dev with the same persisted R2), serves the new version
 * pinned and as current, while the previous version's pinned URL still returns its own bytes,
 * identical to what `gan sample` renders from the first export.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Unstable_DevWorker, unstable_dev } from 'wrangler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GanRun, repoRoot, runGan } from '../helpers/gan.ts';

const NAME = 'pipeline-tiny';
const TRAIN = ['--data', 'mnist', '--image-size', '32', '--batch-size', '8', '--latent-size', '8'];
const TRAIN_TINY = [
  ...TRAIN,
  '--generator-width',
  '4',
  '--discriminator-width',
  '4',
  '--checkpoint-every',
  '1',
  '--preview-every',
  '100',
  '--progress',
  'quiet',
];

let work: string;
let local: string[];
const log: string[] = [];

async function gan(args: string[]): Promise<GanRun> {
  const run = await runGan(args);
  log.push(`$ gan ${args.join(' ')} → ${run.code ?? run.signal}\n${run.stdout}${run.stderr}`);
  return run;
}
async function ok(args: string[]): Promise<GanRun> {
  const run = await gan(args);
  expect(run.code, `gan ${args.join(' ')}\n${run.stderr}`).toBe(0);
  return run;
}

describe('retrain pipeline, locally', () => {
  let worker: Unstable_DevWorker | undefined;
  let gate2: GanRun;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'gan-pipeline-'));
    local = ['--local', '--persist-to', path.join(work, 'state')];
    const run1 = path.join(work, 'run-first-machine');
    const run2 = path.join(work, 'run-second-machine');

    // First scheduled run: nothing in R2 yet.
    const pulled = await ok(['checkpoint', 'pull', NAME, '--run', run1, ...local]);
    expect(pulled.stdout).toContain('no checkpoint yet');
    await ok(['train', ...TRAIN_TINY, '--steps', '2', '--out', run1]);
    await ok(['checkpoint', 'push', NAME, '--run', run1, ...local]);
    await ok(['export', '--run', run1, '--out', path.join(work, 'export-v1'), '--name', NAME, '--version', 'v1']);
    await ok(['evaluate', '--model', path.join(work, 'export-v1'), '--samples', '40', '--out', path.join(work, 'eval-v1.json')]);
    await ok(['gate', NAME, '--candidate', path.join(work, 'eval-v1.json'), ...local]);
    await ok(['publish', path.join(work, 'export-v1'), '--metrics', path.join(work, 'eval-v1.json'), ...local]);

    // Second run, on a machine with an empty work tree: continue from the checkpoint in R2.
    await ok(['checkpoint', 'pull', NAME, '--run', run2, ...local]);
    await ok(['train', ...TRAIN_TINY, '--steps', '4', '--resume', '--out', run2]);
    await ok(['export', '--run', run2, '--out', path.join(work, 'export-v2'), '--name', NAME, '--version', 'v2']);
    await ok(['evaluate', '--model', path.join(work, 'export-v2'), '--samples', '40', '--out', path.join(work, 'eval-v2.json')]);
    // Two training steps change little; a generous tolerance keeps this test about the plumbing,
    // while the numbers compared must be printed.
    gate2 = await gan([
      'gate',
      NAME,
      '--candidate',
      path.join(work, 'eval-v2.json'),
      '--rule',
      'fd:lower:10',
      '--rule',
      'classAccuracy:higher:10',
      ...local,
    ]);
    expect(gate2.code, gate2.stderr).toBe(0);
    await ok(['publish', path.join(work, 'export-v2'), '--metrics', path.join(work, 'eval-v2.json'), ...local]);

    worker = await unstable_dev(path.join(repoRoot, 'worker/src/index.ts'), {
      config: path.join(repoRoot, 'wrangler.toml'),
      ip: '127.0.0.1',
      persistTo: path.join(work, 'state'),
      logLevel: 'warn',
      experimental: { disableExperimentalWarning: true },
    });
  }, 590_000);

  afterAll(async () => {
    await worker?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('resumed from the checkpoint in R2: the second run trained steps 3 and 4 only', async () => {
    const manifest2 = JSON.parse(await readFile(path.join(work, 'export-v2', 'manifest.json'), 'utf8'));
    expect(manifest2.training.steps).toBe(4);
    const metrics = (await readFile(path.join(work, 'run-second-machine', 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step);
    expect(metrics).toEqual([1, 2, 3, 4]); // steps 1-2 came with the checkpoint's metrics file
  });

  it('the gate compared the new evaluation with the current version and printed the numbers', () => {
    expect(gate2.stdout).toContain(`Compared with ${NAME}@v1`);
    expect(gate2.stdout).toMatch(/\| fd \| lower \| [\d.]+ \| [\d.]+ \|/);
    expect(gate2.stdout).toMatch(/\| classAccuracy \| higher \|/);
  });

  it('gan list shows both versions, their evaluations, and v2 as current', async () => {
    const run = await ok(['list', NAME, '--json', ...local]);
    const [model] = JSON.parse(run.stdout);
    expect(model.current).toBe('v2');
    expect(model.versions.map((v: { version: string; current: boolean }) => [v.version, v.current])).toEqual([
      ['v1', false],
      ['v2', true],
    ]);
    expect(typeof model.versions[1].metrics.evaluation.fd).toBe('number');
  });

  it('the worker serves v2 as current and pinned, and v1 pinned with its own bytes', async () => {
    const get = async (model: string) => {
      const response = await worker!.fetch(`/v1/models/${model}/image.png?seed=pipeline&class=3`);
      expect(response.status, await response.clone().text()).toBe(200);
      return { version: response.headers.get('x-model-version'), bytes: Buffer.from(await response.arrayBuffer()) };
    };
    const current = await get(NAME);
    const pinned2 = await get(`${NAME}@v2`);
    const pinned1 = await get(`${NAME}@v1`);
    expect(current.version).toBe('v2');
    expect(current.bytes.equals(pinned2.bytes)).toBe(true);
    expect(pinned1.bytes.equals(pinned2.bytes)).toBe(false);
    // v1's pinned image is exactly what the first export renders.
    const sample = path.join(work, 'v1-sample.png');
    await ok(['sample', '--model', path.join(work, 'export-v1'), '--seed', 'pipeline', '--class', '3', '--out', sample]);
    expect(pinned1.bytes.equals(await readFile(sample))).toBe(true);
  });
});
