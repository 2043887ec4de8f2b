/**
 * The registry against both of its stores: R2's S3 API (a real S3 server, s3rver, behind a SigV4
 * check) and the local R2 of `wrangler dev` (wrangler's getPlatformProxy: Miniflare in workerd).
 * The same tests run on each, because publish, rollback, list and prune are one code path.
 */
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '@gan/core/manifest';
import {
  CredentialsError,
  listModelNames,
  listVersions,
  NothingToRollBackError,
  type ObjectStorage,
  openLocalR2,
  parseListObjectsV2,
  PointerMovedError,
  PreconditionFailedError,
  pruneVersions,
  publishModel,
  ReadBackError,
  readCurrent,
  readCurrentWithEtag,
  readExportedModel,
  registryKeys,
  rollback,
  s3OptionsFromEnv,
  StorageError,
  VersionConflictError,
  VersionUnavailableError,
  writeCurrent,
} from '@gan/registry';
import { checkpointKeys, pullCheckpoint, pushCheckpoint } from '@gan/trainer/train/remote-checkpoint';
import { startTestS3Server, type TestS3Server } from '../helpers/s3-server.ts';
import { bucketSnapshot as snapshot, openTestS3Storage, testLocalR2 } from '../helpers/stores.ts';
import { writeFixtureExport } from '../helpers/fixtures.ts';

const DAY = 86_400_000;
const text = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : null);

/** Records the order of writes; optionally corrupts what one key reads back as. */
function recording(storage: ObjectStorage, corruptKey?: string): ObjectStorage & { puts: string[] } {
  const puts: string[] = [];
  return {
    ...storage,
    puts,
    async put(key, bytes, options) {
      puts.push(key);
      await storage.put(key, bytes, options);
    },
    async get(key) {
      const bytes = await storage.get(key);
      if (bytes && key === corruptKey && puts.includes(key)) return Uint8Array.from(bytes, (b, i) => (i === 0 ? b ^ 1 : b));
      return bytes;
    },
  };
}

interface Backend {
  label: string;
  open(): Promise<ObjectStorage>;
  close(): Promise<void>;
}

let s3: TestS3Server;
const work = await mkdtemp(path.join(tmpdir(), 'gan-registry-'));
const backends: Backend[] = [
  {
    label: 'R2 S3 API (s3rver behind a SigV4 check)',
    async open() {
      s3 = await startTestS3Server();
      return openTestS3Storage(s3);
    },
    async close() {
      expect(s3.rejectedSignatures).toBe(0);
      await s3.close();
    },
  },
  {
    label: "wrangler dev's local R2 (getPlatformProxy)",
    async open() {
      return openLocalR2(await testLocalR2(path.join(work, 'local')));
    },
    async close() {},
  },
];

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('the S3 client', () => {
  it('reads credentials and the endpoint from the environment, naming what is missing', () => {
    expect(s3OptionsFromEnv({ CLOUDFLARE_ACCOUNT_ID: 'abc', R2_ACCESS_KEY_ID: 'k', R2_SECRET_ACCESS_KEY: 's' }, 'gan-models')).toEqual({
      endpoint: 'https://abc.r2.cloudflarestorage.com',
      bucket: 'gan-models',
      accessKeyId: 'k',
      secretAccessKey: 's',
      region: 'auto',
    });
    expect(
      s3OptionsFromEnv({ R2_ENDPOINT: 'http://127.0.0.1:9000', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' }, 'b').endpoint,
    ).toBe('http://127.0.0.1:9000');
    expect(() => s3OptionsFromEnv({ CLOUDFLARE_ACCOUNT_ID: 'abc' }, 'b')).toThrow(CredentialsError);
    expect(() => s3OptionsFromEnv({ CLOUDFLARE_ACCOUNT_ID: 'abc' }, 'b')).toThrow(/R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY/);
  });

  it('parses ListObjectsV2 pages: escaped keys, sizes, times, the continuation token', () => {
    const page = parseListObjectsV2(
      '<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;1</NextContinuationToken>' +
        '<Contents><Key>models/a&amp;b/x&lt;1&gt;.json</Key><LastModified>2026-11-27T12:00:00.000Z</LastModified><Size>12</Size></Contents>' +
        '<Contents><Key>models/c</Key><LastModified>2026-11-27T12:00:01.000Z</LastModified><Size>0</Size></Contents></ListBucketResult>',
    );
    expect(page.nextToken).toBe('t&1');
    expect(page.objects).toEqual([
      { key: 'models/a&b/x<1>.json', size: 12, uploaded: new Date('2026-11-27T12:00:00.000Z') },
      { key: 'models/c', size: 0, uploaded: new Date('2026-11-27T12:00:01.000Z') },
    ]);
    expect(parseListObjectsV2('<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>')).toEqual({
      objects: [],
      nextToken: undefined,
    });
  });

  it('is refused by the server with a wrong secret (the signature is really checked)', async () => {
    const server = await startTestS3Server();
    try {
      const wrong = openTestS3Storage(server, 'wrong');
      await expect(wrong.put('k', new Uint8Array([1]))).rejects.toThrow(StorageError);
      await expect(wrong.get('k')).rejects.toThrow(/403 SignatureDoesNotMatch/);
      expect(server.rejectedSignatures).toBe(2);
      // Keys with characters SigV4 encodes specially still sign correctly.
      const right = openTestS3Storage(server);
      await right.put("odd/a b+c~(1)!'*.json", new Uint8Array([7]));
      expect([...(await right.get("odd/a b+c~(1)!'*.json"))!]).toEqual([7]);
      expect((await right.list('odd/')).map((o) => o.key)).toEqual(["odd/a b+c~(1)!'*.json"]);
      expect(server.rejectedSignatures).toBe(2);
    } finally {
      await server.close();
    }
  });
});

describe.each(backends)('registry on $label', (backend) => {
  let storage: ObjectStorage;
  let exportsDir: string;
  let v1: string;
  let v2: string;
  let v3: string;

  beforeAll(async () => {
    storage = await backend.open();
    exportsDir = await mkdtemp(path.join(work, 'exports-'));
    v1 = await writeFixtureExport(exportsDir, {
      version: 'v1',
      seed: 1,
      createdAt: '2026-11-01T00:00:00.000Z',
      metrics: { evaluation: { fd: 12.5 } },
    });
    v2 = await writeFixtureExport(exportsDir, {
      version: 'v2',
      seed: 2,
      createdAt: '2026-11-08T00:00:00.000Z',
      metrics: { evaluation: { fd: 10.25 } },
    });
    v3 = await writeFixtureExport(exportsDir, { version: 'v3', seed: 3, createdAt: '2026-11-15T00:00:00.000Z' });
  });
  afterAll(async () => {
    await storage?.close();
    await backend.close();
  });

  it('stores, lists, heads and deletes objects; absent keys read as null', async () => {
    const bytes = new TextEncoder().encode('hello');
    await storage.put('scratch/a.txt', bytes, { contentType: 'text/plain' });
    await storage.put('scratch/b/c.bin', new Uint8Array([1, 2, 3]));
    expect(text(await storage.get('scratch/a.txt'))).toBe('hello');
    expect(await storage.get('scratch/missing')).toBeNull();
    expect(await storage.head('scratch/missing')).toBeNull();
    const head = await storage.head('scratch/b/c.bin');
    expect(head?.size).toBe(3);
    expect(Math.abs(head!.uploaded.getTime() - Date.now())).toBeLessThan(5 * 60_000);
    expect((await storage.list('scratch/')).map((o) => o.key)).toEqual(['scratch/a.txt', 'scratch/b/c.bin']);
    await storage.delete(['scratch/a.txt', 'scratch/b/c.bin']);
    expect(await storage.list('scratch/')).toEqual([]);
  });

  it('publishes the version files first, manifest.json after them and current.json last, each read back', async () => {
    const rec = recording(storage);
    const model = await readExportedModel(v1);
    const result = await publishModel(rec, model);
    expect(result).toMatchObject({ name: 'tiny', version: 'v1', currentChanged: true, previous: undefined, alreadyPresent: [] });
    expect(rec.puts.at(-1)).toBe(registryKeys.current('tiny'));
    expect(rec.puts.at(-2)).toBe(registryKeys.manifest('tiny', 'v1'));
    expect(rec.puts.length).toBe(model.manifest.files.length + 2);
    expect(model.manifest.files.length).toBeGreaterThan(3); // model.json, several shards, card, sample
    expect((await readCurrent(storage, 'tiny'))?.version).toBe('v1');
    for (const f of model.manifest.files) {
      const stored = await storage.get(registryKeys.file('tiny', 'v1', f.path));
      expect(await sha256Hex(stored! as Uint8Array<ArrayBuffer>)).toBe(f.sha256);
    }
    expect(text(await storage.get(registryKeys.manifest('tiny', 'v1')))).toBe(await readFile(path.join(v1, 'manifest.json'), 'utf8'));
  });

  it('treats publishing the same export again as a no-op', async () => {
    const rec = recording(storage);
    const result = await publishModel(rec, await readExportedModel(v1));
    expect(result.uploaded).toEqual([]);
    expect(result.currentChanged).toBe(false);
    expect(rec.puts).toEqual([]);
  });

  it('refuses to overwrite a published version with other bytes, and writes nothing', async () => {
    const before = await snapshot(storage, 'models/');
    const impostor = await writeFixtureExport(await mkdtemp(path.join(work, 'impostor-')), { version: 'v1', seed: 99 });
    const rec = recording(storage);
    await expect(publishModel(rec, await readExportedModel(impostor))).rejects.toThrow(VersionConflictError);
    expect(rec.puts).toEqual([]);
    expect(await snapshot(storage, 'models/')).toEqual(before);
  });

  it('leaves current.json alone when an object reads back with other bytes', async () => {
    const model = await readExportedModel(v2);
    const shard = model.manifest.files.find((f) => f.path.endsWith('.bin'))!.path;
    const rec = recording(storage, registryKeys.file('tiny', 'v2', shard));
    await expect(publishModel(rec, model)).rejects.toThrow(ReadBackError);
    expect(rec.puts).not.toContain(registryKeys.current('tiny'));
    expect((await readCurrent(storage, 'tiny'))?.version).toBe('v1');
  });

  it('publishes a new version (finishing the upload above) while the old one stays readable, pinned', async () => {
    const v1Objects = await snapshot(storage, registryKeys.versionDir('tiny', 'v1'));
    const result = await publishModel(storage, await readExportedModel(v2));
    expect(result.previous).toBe('v1');
    expect(result.alreadyPresent.length).toBeGreaterThan(0); // the files the failed run had uploaded
    expect((await readCurrent(storage, 'tiny'))?.version).toBe('v2');
    expect(await snapshot(storage, registryKeys.versionDir('tiny', 'v1'))).toEqual(v1Objects);
    await publishModel(storage, await readExportedModel(v3));
  });

  it('lists versions oldest first with metrics and the current one marked', async () => {
    expect(await listModelNames(storage)).toEqual(['tiny']);
    const { current, versions } = await listVersions(storage, 'tiny');
    expect(current?.version).toBe('v3');
    expect(versions.map((v) => [v.version, v.complete, v.isCurrent])).toEqual([
      ['v1', true, false],
      ['v2', true, false],
      ['v3', true, true],
    ]);
    expect(versions[1].manifest?.metrics).toEqual({ evaluation: { fd: 10.25 } });
  });

  it('rolls back to the previous version, or to a named one, after checking it is whole', async () => {
    expect(await rollback(storage, 'tiny')).toEqual({ name: 'tiny', from: 'v3', to: 'v2' });
    expect((await readCurrent(storage, 'tiny'))?.version).toBe('v2');
    expect(await rollback(storage, 'tiny')).toEqual({ name: 'tiny', from: 'v2', to: 'v1' });
    await expect(rollback(storage, 'tiny')).rejects.toThrow(NothingToRollBackError);
    await expect(rollback(storage, 'tiny', { to: 'v9' })).rejects.toThrow(VersionUnavailableError);
    expect(await rollback(storage, 'tiny', { to: 'v3' })).toEqual({ name: 'tiny', from: 'v1', to: 'v3' });
    // A version with a shard gone is refused, and current stays where it was.
    const model = await readExportedModel(v2);
    const shardKey = registryKeys.file('tiny', 'v2', model.manifest.files.find((f) => f.path.endsWith('.bin'))!.path);
    const shard = (await storage.get(shardKey))!;
    await storage.delete([shardKey]);
    await expect(rollback(storage, 'tiny', { to: 'v2' })).rejects.toThrow(/missing/);
    expect((await readCurrent(storage, 'tiny'))?.version).toBe('v3');
    await storage.put(shardKey, shard);
  });

  it('prunes old versions but never the current one nor one younger than the minimum age', async () => {
    const now = () => new Date(Date.now() + 10 * DAY);
    // Everything was published moments ago: a 30-day minimum age keeps all of it.
    const young = await pruneVersions(storage, 'tiny', { keep: 0, minAgeMs: 30 * DAY, now });
    expect(young.filter((d) => d.action === 'delete')).toEqual([]);
    // Dry run: says, deletes nothing.
    const before = await snapshot(storage, 'models/');
    const dry = await pruneVersions(storage, 'tiny', { keep: 0, minAgeMs: DAY, now, dryRun: true });
    expect(
      dry
        .filter((d) => d.action === 'delete')
        .map((d) => d.version)
        .sort(),
    ).toEqual(['v1', 'v2']);
    expect(await snapshot(storage, 'models/')).toEqual(before);
    // Current is v1 after a rollback: keep 1 keeps v3 (newest) and v1 (current), deletes v2.
    await rollback(storage, 'tiny', { to: 'v1' });
    const decisions = await pruneVersions(storage, 'tiny', { keep: 1, minAgeMs: DAY, now });
    expect(decisions).toEqual([
      { version: 'v3', action: 'keep', reason: 'one of the 1 newest' },
      { version: 'v2', action: 'delete', reason: 'old' },
      { version: 'v1', action: 'keep', reason: 'current' },
    ]);
    expect((await listVersions(storage, 'tiny')).versions.map((v) => v.version)).toEqual(['v1', 'v3']);
    expect(await storage.list(registryKeys.versionDir('tiny', 'v2'))).toEqual([]);
    expect((await readCurrent(storage, 'tiny'))?.version).toBe('v1');
  });

  it('keeps training checkpoints: latest.json written last, pulled back byte for byte, one previous kept', async () => {
    const run = path.join(work, `run-${backend.label.length}`);
    await mkdir(path.join(run, 'samples'), { recursive: true });
    await writeFile(path.join(run, 'checkpoint.json'), '{"step":3}');
    await writeFile(path.join(run, 'samples', 'step-3.png'), new Uint8Array([1, 2, 3]));
    expect(await pullCheckpoint(storage, 'tiny', path.join(work, 'nothing'))).toBeNull();
    let t = Date.parse('2026-11-20T00:00:00Z');
    const clock = () => {
      t += 60_000;
      return new Date(t);
    };
    const first = await pushCheckpoint(storage, 'tiny', run, { now: clock });
    await writeFile(path.join(run, 'checkpoint.json'), '{"step":6}');
    const second = await pushCheckpoint(storage, 'tiny', run, { now: clock });
    const third = await pushCheckpoint(storage, 'tiny', run, { now: clock });
    const ids = new Set((await storage.list('checkpoints/tiny/')).map((o) => o.key.split('/')[2]));
    expect(ids).toEqual(new Set(['latest.json', second.id, third.id]));
    expect(ids.has(first.id)).toBe(false);
    const into = path.join(work, `pulled-${backend.label.length}`);
    const pulled = await pullCheckpoint(storage, 'tiny', into);
    expect(pulled?.id).toBe(third.id);
    expect(await readFile(path.join(into, 'checkpoint.json'), 'utf8')).toBe('{"step":6}');
    expect([...(await readFile(path.join(into, 'samples', 'step-3.png')))]).toEqual([1, 2, 3]);
    // A push cut short (files uploaded, latest.json not yet written) leaves the previous one latest.
    await storage.put(checkpointKeys.file('tiny', 'zzz-interrupted', 'checkpoint.json'), new TextEncoder().encode('{"step":9}'));
    expect((await pullCheckpoint(storage, 'tiny', into))?.id).toBe(third.id);
    expect(await readFile(path.join(into, 'checkpoint.json'), 'utf8')).toBe('{"step":6}');
    // A corrupted object is detected on pull.
    await storage.put(checkpointKeys.file('tiny', third.id, 'checkpoint.json'), new TextEncoder().encode('{"step":0}'));
    await expect(pullCheckpoint(storage, 'tiny', into)).rejects.toThrow(/sha256/);
  });

  it('writes conditionally: only over the ETag it read, or only where nothing is', async () => {
    const key = 'scratch/cas.json';
    const bytes = (t: string) => new TextEncoder().encode(t);
    await storage.put(key, bytes('1'), { onlyIf: { absent: true } });
    await expect(storage.put(key, bytes('x'), { onlyIf: { absent: true } })).rejects.toThrow(PreconditionFailedError);
    const first = (await storage.getWithEtag(key))!;
    expect(text(first.bytes)).toBe('1');
    await storage.put(key, bytes('2'), { onlyIf: { etag: first.etag } });
    // The ETag read before that write is stale now.
    await expect(storage.put(key, bytes('x'), { onlyIf: { etag: first.etag } })).rejects.toThrow(PreconditionFailedError);
    expect(text(await storage.get(key))).toBe('2');
    expect((await storage.getWithEtag(key))!.etag).not.toBe(first.etag);
    await storage.delete([key]);
  });

  it("a publish overtaken at the pointer fails with PointerMovedError and leaves the other run's choice", async () => {
    const dir = await mkdtemp(path.join(work, 'moved-'));
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map(async (v, i) => readExportedModel(await writeFixtureExport(dir, { name: 'moved', version: v, seed: 40 + i }))),
    );
    await publishModel(storage, a);
    /** The storage, but another run moves current.json to `other` just before this run's pointer write. */
    const overtaken = (other: string): ObjectStorage => ({
      ...storage,
      async put(key, bytes, options) {
        if (key === registryKeys.current('moved'))
          await writeCurrent(storage, 'moved', other, new Date(), await readCurrentWithEtag(storage, 'moved'));
        await storage.put(key, bytes, options);
      },
    });
    await publishModel(storage, b);
    await rollback(storage, 'moved', { to: 'a' });
    // c's run read current = a; b is made current under it; c must not overwrite that.
    const failed = publishModel(overtaken('b'), c);
    await expect(failed).rejects.toThrow(PointerMovedError);
    await expect(failed).rejects.toThrow(/named a, now b/);
    expect((await readCurrent(storage, 'moved'))?.version).toBe('b');
    // c is stored whole all the same; run again, it becomes current.
    expect((await publishModel(storage, c)).previous).toBe('b');
    expect((await readCurrent(storage, 'moved'))?.version).toBe('c');
    // A rollback racing a publish does not undo it either.
    const racedRollback = rollback(overtaken('a'), 'moved', { to: 'b' });
    await expect(racedRollback).rejects.toThrow(PointerMovedError);
    expect((await readCurrent(storage, 'moved'))?.version).toBe('a');
  });
});
