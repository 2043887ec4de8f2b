/**
 * The build check of the embedded models (worker/scripts/embed-models.ts, run by wrangler.toml's
 * [build] before every deploy): a model under models/ whose files do not match its manifest cannot be
 * deployed, and the generated module lists whatever models/ holds.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EmbeddedModelError, embedModels } from '../../worker/scripts/embed-models.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A copy of models/mnist's serving files (and manifest) under a new models directory, as `name`. */
function modelsDirWith(name = 'mnist'): { dir: string; model: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'embed-models-'));
  const model = path.join(dir, name);
  mkdirSync(model);
  for (const file of ['manifest.json', 'model.json', 'group1-shard1of1.bin'])
    copyFileSync(path.join(root, 'models/mnist', file), path.join(model, file));
  return { dir, model };
}

function corruptShard(model: string): void {
  const shard = path.join(model, 'group1-shard1of1.bin');
  const bytes = readFileSync(shard);
  bytes[1000] ^= 0xff; // same size, one byte flipped
  writeFileSync(shard, bytes);
}

describe('the embedded models build check', () => {
  it('embeds every model directory, with its data files imported as modules', async () => {
    const { dir } = modelsDirWith();
    const outFile = path.join(dir, 'embedded.gen.js');
    const models = await embedModels({ modelsDir: dir, outFile });
    const manifest = JSON.parse(readFileSync(path.join(dir, 'mnist/manifest.json'), 'utf8'));
    expect(models.map((m) => `${m.manifest.name}@${m.manifest.version}`)).toEqual([`mnist@${manifest.version}`]);
    const text = readFileSync(outFile, 'utf8');
    expect(text).toContain('import data0_0 from "./mnist/group1-shard1of1.bin";');
    expect(text).toContain(JSON.stringify(readFileSync(path.join(dir, 'mnist/model.json'), 'utf8')));
  });

  it('a corrupt shard stops the build, and nothing is written', async () => {
    const { dir, model } = modelsDirWith();
    corruptShard(model);
    const outFile = path.join(dir, 'embedded.gen.js');
    const failure = embedModels({ modelsDir: dir, outFile });
    await expect(failure).rejects.toThrow(EmbeddedModelError);
    await expect(failure).rejects.toThrow(/models\/mnist cannot be embedded: .*group1-shard1of1\.bin fails its size or sha256 check/);
    expect(existsSync(outFile)).toBe(false);
  });

  it("embeds a model by its manifest's name, whatever its directory is called", async () => {
    const { dir } = modelsDirWith('digits-v1');
    const models = await embedModels({ modelsDir: dir, outFile: path.join(dir, 'out.js') });
    expect(models.map((m) => [m.dir, m.manifest.name])).toEqual([['digits-v1', 'mnist']]);
  });

  it('wrangler refuses to deploy a bundle with a corrupt model (its [build] runs the check)', async () => {
    const { dir, model } = modelsDirWith();
    corruptShard(model);
    const out = mkdtempSync(path.join(tmpdir(), 'embed-deploy-'));
    const run = promisify(execFile)('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', out], {
      cwd: root,
      env: { ...process.env, GAN_MODELS_DIR: dir },
    });
    const error = await run.then(
      () => undefined,
      (e: { stdout: string; stderr: string }) => e,
    );
    expect(error, 'the dry run should have failed').toBeDefined();
    expect(`${error!.stdout}${error!.stderr}`).toMatch(/group1-shard1of1\.bin fails its size or sha256 check/);
    expect(existsSync(path.join(out, 'index.js'))).toBe(false);
  });
});
