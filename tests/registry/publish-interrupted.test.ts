/**
 * `gan publish` killed (SIGKILL: no clean-up, no exit handlers) after every possible number of
 * uploads: current.json keeps naming the old version, whose files are untouched, and running the
 * same command again finishes the job. On the S3 path and on wrangler dev's local R2.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '@gan/core/manifest';
import { type ObjectStorage, openLocalR2, readCurrent, readExportedModel, registryKeys } from '@gan/registry';
import { startTestS3Server, type TestS3Server } from '../helpers/s3-server.ts';
import { type TestLocalR2, bucketSnapshot as snapshot, openTestS3Storage, testLocalR2 } from '../helpers/stores.ts';
import { writeFixtureExport } from '../helpers/fixtures.ts';
import { runGan as gan } from '../helpers/gan.ts';

interface Target {
  label: string;
  /**
   * Uploads each killed run is allowed before it dies, given the version's object count: one at a
   * time on S3 (every point); on the local R2, whose runs each start workerd: every file but the
   * manifest, then the manifest without current.json.
   */
  killPlan(objects: number): number[];
  setUp(work: string): Promise<{ args: string[]; env: Record<string, string> }>;
  /** Opens the store between child runs (the local R2 is one workerd at a time: closed again before the next run). */
  open(): Promise<ObjectStorage>;
  tearDown(): Promise<void>;
}

let s3: TestS3Server;
let local: TestLocalR2;
const targets: Target[] = [
  {
    label: 'R2 S3 API (s3rver)',
    killPlan: (objects) => Array.from({ length: objects }, () => 1),
    async setUp() {
      s3 = await startTestS3Server();
      return { args: [], env: s3.env };
    },
    async open() {
      return openTestS3Storage(s3);
    },
    async tearDown() {
      await s3.close();
    },
  },
  {
    label: "wrangler dev's local R2",
    killPlan: (objects) => [objects - 1, 1],
    async setUp(work) {
      local = await testLocalR2(path.join(work, 'local'));
      return { args: ['--local', '--config', local.configPath, '--persist-to', local.persistTo], env: {} };
    },
    async open() {
      return openLocalR2(local);
    },
    async tearDown() {},
  },
];

describe.each(targets)('an interrupted publish on $label', (target) => {
  let work: string;
  let store: { args: string[]; env: Record<string, string> };
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'gan-interrupt-'));
    store = await target.setUp(work);
  });
  afterAll(async () => {
    await target.tearDown();
    await rm(work, { recursive: true, force: true });
  });

  it('leaves the old version serving at every point, and a re-run completes it', async () => {
    const v1 = await writeFixtureExport(work, { version: 'v1', seed: 1 });
    const v2 = await writeFixtureExport(work, { version: 'v2', seed: 2 });
    const first = await gan(['publish', v1, ...store.args], store.env);
    expect(first.code, first.stderr).toBe(0);

    let storage = await target.open();
    const v1Objects = await snapshot(storage, registryKeys.versionDir('tiny', 'v1'));
    await storage.close();
    const objectsInV2 = (await readExportedModel(v2)).manifest.files.length + 1; // + manifest.json
    expect(objectsInV2).toBeGreaterThan(3);

    let uploaded = 0;
    for (const uploads of target.killPlan(objectsInV2)) {
      uploaded += uploads;
      const run = await gan(['publish', v2, ...store.args], { ...store.env, GAN_PUBLISH_KILL_AFTER_UPLOADS: String(uploads) });
      expect(run.signal, run.stderr).toBe('SIGKILL');
      storage = await target.open();
      try {
        expect((await readCurrent(storage, 'tiny'))?.version).toBe('v1');
        expect(await snapshot(storage, registryKeys.versionDir('tiny', 'v1'))).toEqual(v1Objects);
        expect((await storage.list(registryKeys.versionDir('tiny', 'v2'))).length).toBe(uploaded);
        // manifest.json goes last: until then, v2 is not a version at all.
        expect(await storage.head(registryKeys.manifest('tiny', 'v2'))).toEqual(uploaded === objectsInV2 ? expect.anything() : null);
      } finally {
        await storage.close();
      }
    }
    expect(uploaded).toBe(objectsInV2);

    const rerun = await gan(['publish', v2, '--json', ...store.args], store.env);
    expect(rerun.code, rerun.stderr).toBe(0);
    storage = await target.open();
    try {
      expect((await readCurrent(storage, 'tiny'))?.version).toBe('v2');
      expect(await snapshot(storage, registryKeys.versionDir('tiny', 'v1'))).toEqual(v1Objects);
      const model = await readExportedModel(v2);
      for (const f of model.manifest.files) {
        const bytes = await storage.get(registryKeys.file('tiny', 'v2', f.path));
        expect(await sha256Hex(bytes! as Uint8Array<ArrayBuffer>)).toBe(f.sha256);
      }
    } finally {
      await storage.close();
    }
  });

  it('refuses, with exit code 1 and a message, to publish other bytes under an existing version', async () => {
    const impostor = await writeFixtureExport(path.join(work, 'impostor'), { version: 'v1', seed: 7 });
    const run = await gan(['publish', impostor, ...store.args], store.env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/tiny@v1 already exists with other bytes/);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
