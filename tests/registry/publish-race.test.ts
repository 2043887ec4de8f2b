/**
 * Publishes racing each other on one bucket (wrangler's local R2: Miniflare, whose writes are atomic
 * like R2's; s3rver is not usable here, its GETs can see half-written objects), with every storage call
 * delayed at random so the two runs' uploads, read-backs and pointer writes interleave. A reader
 * polling the bucket the way the worker does (current.json → manifest.json → every file's sha256)
 * must only ever see a complete version, and when the dust settles both versions are intact and
 * current.json names one of them.
 *
 * current.json moves by compare-and-swap: a run whose pointer write finds current.json changed since
 * it read it fails with PointerMovedError and writes nothing (its version stays complete and can be
 * made current by publishing again), so no run reports success while another's choice is served.
 * Half the rounds hold both runs' pointer writes until both have read current.json, so there one run
 * is certainly overtaken and the refusal is exercised, not only allowed for.
 * Publishes of one model are also serialised by the retrain workflow's concurrency group.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManifestSchema, sha256Hex } from '@gan/core/manifest';
import { Sfc32 } from '@gan/core';
import {
  type ExportedModel,
  type ObjectStorage,
  openLocalR2,
  publishModel,
  readCurrent,
  readExportedModel,
  registryKeys,
} from '@gan/registry';
import { writeFixtureExport } from '../helpers/fixtures.ts';
import { testLocalR2 } from '../helpers/stores.ts';

let storage: ObjectStorage;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'gan-race-'));
  storage = await openLocalR2(await testLocalR2(path.join(work, 'local')));
}, 60_000);

afterAll(async () => {
  await storage?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The same storage, each call delayed by 0–`maxMs` ms drawn from `seed`: interleaves concurrent runs. */
function jittered(inner: ObjectStorage, seed: string, maxMs = 8): ObjectStorage {
  const rng = Sfc32.fromSeed(seed);
  const pause = () => new Promise((r) => setTimeout(r, Math.floor(rng.next() * maxMs)));
  const delayed =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await pause();
      return call(...args);
    };
  return {
    description: `${inner.description} (jittered)`,
    get: delayed((key) => inner.get(key)),
    getWithEtag: delayed((key) => inner.getWithEtag(key)),
    put: delayed((key, bytes, options) => inner.put(key, bytes, options)),
    head: delayed((key) => inner.head(key)),
    list: delayed((prefix) => inner.list(prefix)),
    delete: delayed((keys) => inner.delete(keys)),
    close: () => inner.close(),
  };
}

/**
 * Holds every write of `name`'s current.json until `parties` runs have reached it, so each has read
 * the pointer before any moves it: one must then be overtaken. `release` lets the others go when a run
 * ends without getting there.
 */
function pointerBarrier(name: string, parties: number) {
  let arrived = 0;
  let release!: () => void;
  const allThere = new Promise<void>((resolve) => (release = resolve));
  return {
    release,
    wrap: (inner: ObjectStorage): ObjectStorage => ({
      ...inner,
      async put(key, bytes, options) {
        if (key === registryKeys.current(name)) {
          if (++arrived === parties) release();
          await allThere;
        }
        return inner.put(key, bytes, options);
      },
    }),
  };
}

type Observation = { version: string } | { none: true } | { broken: string };

/** What a reader sees now: the version current.json names, checked file by file like the worker does. */
async function observe(name: string): Promise<Observation> {
  const pointer = await readCurrent(storage, name);
  if (!pointer) return { none: true };
  const { version } = pointer;
  const manifestBytes = await storage.get(registryKeys.manifest(name, version));
  if (!manifestBytes) return { broken: `${version}: current.json names a version without manifest.json` };
  const manifest = ManifestSchema.parse(JSON.parse(new TextDecoder().decode(manifestBytes)));
  if (manifest.name !== name || manifest.version !== version)
    return { broken: `${version}: manifest describes ${manifest.name}@${manifest.version}` };
  for (const file of manifest.files) {
    const bytes = await storage.get(registryKeys.file(name, version, file.path));
    if (!bytes) return { broken: `${version}: ${file.path} is missing` };
    if (bytes.byteLength !== file.bytes || (await sha256Hex(bytes as Uint8Array<ArrayBuffer>)) !== file.sha256) {
      return { broken: `${version}: ${file.path} fails its sha256` };
    }
  }
  return { version };
}

/** Polls `observe` until `done` settles; returns every observation. */
async function readWhile(name: string, done: Promise<unknown>): Promise<Observation[]> {
  const seen: Observation[] = [];
  let finished = false;
  const settled = done.then(
    () => (finished = true),
    () => (finished = true),
  );
  while (!finished) seen.push(await observe(name));
  await settled;
  seen.push(await observe(name));
  return seen;
}

async function exportOf(name: string, version: string, seed: number): Promise<ExportedModel> {
  return readExportedModel(await writeFixtureExport(path.join(work, name), { name, version, seed, shardBytes: 1024 }));
}

async function expectIntact(model: ExportedModel) {
  const { name, version } = model.manifest;
  for (const file of model.manifest.files) {
    const bytes = await storage.get(registryKeys.file(name, version, file.path));
    expect(bytes && (await sha256Hex(bytes as Uint8Array<ArrayBuffer>)), `${version}/${file.path}`).toBe(file.sha256);
  }
  expect(await storage.get(registryKeys.manifest(name, version))).toEqual(model.manifestBytes);
}

describe('racing publishes', () => {
  it('two versions at once: readers only ever see a complete version; both end intact; current.json names one', async () => {
    const name = 'race';
    const v0 = await exportOf(name, 'v0', 0);
    await publishModel(storage, v0);
    let overtaken = 0;
    for (let round = 1; round <= 4; round++) {
      const a = await exportOf(name, `r${round}a`, round * 10 + 1);
      const b = await exportOf(name, `r${round}b`, round * 10 + 2);
      // Odd rounds meet at the pointer (both read it before either writes): one must be refused.
      // Even rounds run free, wherever the jitter takes them.
      const meet = round % 2 === 1;
      const barrier = pointerBarrier(name, meet ? 2 : 1);
      const runs = [
        publishModel(barrier.wrap(jittered(storage, `a${round}`)), a),
        publishModel(barrier.wrap(jittered(storage, `b${round}`)), b),
      ];
      for (const run of runs) run.catch(() => {}).finally(barrier.release);
      const race = Promise.allSettled(runs);
      const seen = await readWhile(name, race);
      const outcomes = await race;
      // A run overtaken at the pointer fails with PointerMovedError (nothing else may fail); one run
      // always gets through.
      const succeeded = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.version] : []));
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ name: 'PointerMovedError' });
      expect(succeeded.length).toBeGreaterThan(0);

      const broken = seen.filter((o) => 'broken' in o);
      expect(broken).toEqual([]);
      expect(seen.filter((o) => 'none' in o)).toEqual([]);
      await expectIntact(a);
      await expectIntact(b);
      // current.json names a run that said it succeeded.
      const final = seen.at(-1) as { version: string };
      expect(succeeded).toContain(final.version);
      overtaken += 2 - succeeded.length;
      if (meet) expect(succeeded).toHaveLength(1);
      // Everything a reader saw was the version before the race or one of the two.
      const allowed = new Set([a.manifest.version, b.manifest.version, 'v0', `r${round - 1}a`, `r${round - 1}b`]);
      for (const o of seen) expect(allowed.has((o as { version: string }).version)).toBe(true);
    }
    // The refusal was really exercised, not only allowed for.
    expect(overtaken).toBeGreaterThanOrEqual(2);
    console.log(`racing publishes: ${overtaken} of 8 runs were overtaken at the pointer and refused`);
  }, 120_000);

  it('the same export published twice at once: the version is intact and current', async () => {
    const model = await exportOf('twice', 'v1', 7);
    const outcomes = await Promise.allSettled([publishModel(jittered(storage, 'x'), model), publishModel(jittered(storage, 'y'), model)]);
    // Both upload the same bytes; if both read current.json before either moved it, one is refused.
    expect(outcomes.some((o) => o.status === 'fulfilled')).toBe(true);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ name: 'PointerMovedError' });
    await expectIntact(model);
    expect(await observe('twice')).toEqual({ version: 'v1' });
  }, 60_000);
});
