/** The retrain workflow's quality gate: the rules, and `gan gate` against the bucket's current version. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GATE_RULES, formatGate, runQualityGate } from '@gan/trainer/evaluate/quality-gate';
import { startTestS3Server, type TestS3Server } from '../helpers/s3-server.ts';
import { writeFixtureExport } from '../helpers/fixtures.ts';
import { runGan as gan } from '../helpers/gan.ts';

describe('runQualityGate', () => {
  const rules = DEFAULT_GATE_RULES;

  it('passes a model that is better or equal on every metric, and prints the numbers', () => {
    const result = runQualityGate({ fd: 9.5, classAccuracy: 0.97 }, { fd: 10, classAccuracy: 0.97 }, rules);
    expect(result.pass).toBe(true);
    expect(result.rows.map((r) => r.verdict)).toEqual(['better', 'equal']);
    const text = formatGate(result);
    expect(text).toContain('Quality gate: PASS');
    expect(text).toMatch(/\| fd \| lower \| 10 \| 9\.5000 \| better \|/);
  });

  it('fails a model that is worse on any metric', () => {
    expect(runQualityGate({ fd: 10.5, classAccuracy: 0.99 }, { fd: 10, classAccuracy: 0.97 }, rules).pass).toBe(false);
    const lowerAccuracy = runQualityGate({ fd: 9, classAccuracy: 0.9 }, { fd: 10, classAccuracy: 0.97 }, rules);
    expect(lowerAccuracy.pass).toBe(false);
    expect(lowerAccuracy.summary).toContain('classAccuracy');
  });

  it('allows the configured relative tolerance and no more', () => {
    const lenient = [{ metric: 'fd', better: 'lower' as const, tolerance: 0.05 }];
    expect(runQualityGate({ fd: 10.4 }, { fd: 10 }, lenient).rows[0].verdict).toBe('within tolerance');
    expect(runQualityGate({ fd: 10.6 }, { fd: 10 }, lenient).pass).toBe(false);
  });

  it('fails when a metric the current version has is missing, passes with no baseline', () => {
    expect(runQualityGate({ fd: 5 }, { fd: 10, classAccuracy: 0.9 }, rules).pass).toBe(false);
    expect(runQualityGate({ fd: 5 }, { fd: 10 }, rules).pass).toBe(true); // unconditional: accuracy measured by neither
    expect(runQualityGate({ fd: 50 }, undefined, rules)).toMatchObject({ pass: true });
  });

  it('refuses to compare evaluations made differently', () => {
    const result = runQualityGate({ fd: 1, samples: 1000 }, { fd: 10, samples: 5000 }, rules);
    expect(result.pass).toBe(false);
    expect(result.summary).toMatch(/not comparable: samples/);
  });
});

describe('gan gate', () => {
  let work: string;
  let s3: TestS3Server;
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'gan-gate-'));
    s3 = await startTestS3Server();
  });
  afterAll(async () => {
    await s3.close();
    await rm(work, { recursive: true, force: true });
  });

  it("compares with the current version's published evaluation: exit 0 when not worse, 3 when worse", async () => {
    const candidate = path.join(work, 'candidate.json');
    await writeFile(candidate, JSON.stringify({ fd: 8 }));
    // Nothing published yet: nothing to be worse than.
    const first = await gan(['gate', 'tiny', '--candidate', candidate], s3.env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('not published yet');

    const exported = await writeFixtureExport(work, { version: 'v1' });
    const evaluation = path.join(work, 'v1-eval.json');
    await writeFile(evaluation, JSON.stringify({ fd: 10 }));
    const published = await gan(['publish', exported, '--metrics', evaluation], s3.env);
    expect(published.code, published.stderr).toBe(0);
    expect(JSON.parse(await readFile(path.join(exported, 'manifest.json'), 'utf8')).metrics.evaluation).toEqual({ fd: 10 });

    const summary = path.join(work, 'summary.md');
    const better = await gan(['gate', 'tiny', '--candidate', candidate, '--summary', summary], s3.env);
    expect(better.code, better.stderr).toBe(0);
    expect(better.stdout).toContain('tiny@v1');
    expect(await readFile(summary, 'utf8')).toMatch(
      /Quality gate: PASS[\s\S]*\| fd \| lower \| 10 \| 8 \| better \|[\s\S]*#### Evaluation\n\n\| metric \| current \| candidate \|\n\| --- \| --- \| --- \|\n\| fd \| 10 \| 8 \|/,
    );

    await writeFile(candidate, JSON.stringify({ fd: 12 }));
    const worse = await gan(['gate', 'tiny', '--candidate', candidate], s3.env);
    expect(worse.code).toBe(3);
    expect(worse.stdout).toContain('Quality gate: FAIL');
  });

  it('exits 2 naming the flag for a rule it cannot read', async () => {
    const run = await gan(['gate', 'tiny', '--candidate', 'x.json', '--rule', 'fd:sideways']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--rule');
  });
});
