/**
 * The models shipped in models/ are what `npm run dev` serves: each must be a complete export whose
 * files match their manifest, carry the evaluation its card shows, and `gan evaluate` must reproduce
 * that evaluation. The mnist model must also keep to the quality bar its card claims.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readExportedModel } from '@gan/registry';
import { repoRoot, runGan, shippedGeneratorDirs } from '../helpers/gan.ts';

const modelsDir = path.join(repoRoot, 'models');

interface RecordedEvaluation {
  fd: number;
  fdFloor: number;
  classAccuracy?: number;
  samples: number;
  seed: string;
  extractorVersion: string;
}

describe('shipped models', () => {
  const dirs = shippedGeneratorDirs(modelsDir);

  it('ship emoji, mnist and twemoji', () => {
    expect(dirs.map((d) => path.basename(d)).sort()).toEqual(['emoji', 'mnist', 'twemoji']);
  });

  it.each(dirs.map((d) => [path.basename(d), d]))(
    '%s is a complete export with its evaluation in the manifest and the card',
    async (_, dir) => {
      const model = await readExportedModel(dir);
      const evaluation = model.manifest.metrics.evaluation as RecordedEvaluation;
      expect(evaluation.fd).toBeGreaterThan(0);
      const card = await readFile(path.join(dir, 'README.md'), 'utf8');
      expect(card).toContain('## Evaluation');
      expect(card).toContain(evaluation.fd.toFixed(3));
      expect(model.files.has('sample.png') && model.files.has('progress.png') && model.files.has('loss.svg')).toBe(true);
    },
  );

  it('gan evaluate reproduces the mnist card, and conditional samples are the digit asked for', async () => {
    const dir = path.join(modelsDir, 'mnist');
    const recorded = (await readExportedModel(dir)).manifest.metrics.evaluation as RecordedEvaluation;
    const run = await runGan([
      'evaluate',
      '--model',
      dir,
      '--json',
      '--backend',
      'wasm',
      '--samples',
      String(recorded.samples),
      '--seed',
      recorded.seed,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const fresh = JSON.parse(run.stdout) as RecordedEvaluation;
    expect(fresh.extractorVersion).toBe(recorded.extractorVersion);
    expect(fresh.fd).toBeCloseTo(recorded.fd, 6);
    expect(fresh.fdFloor).toBeCloseTo(recorded.fdFloor, 6);
    expect(fresh.classAccuracy).toBe(recorded.classAccuracy);
    expect(fresh.classAccuracy).toBeGreaterThan(0.8);
    expect(fresh.fd / fresh.fdFloor).toBeLessThan(10);
  });
});
