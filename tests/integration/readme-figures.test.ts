/**
 * README.md's "The shipped models" table quotes each model's version and quality figures. They are
 * checked here against what the repository ships: the model's manifest (its recorded evaluation) and
 * the committed evaluations under docs/evaluations/ (figures measured after the version shipped, since
 * a published manifest never changes), so the README cannot drift from them again.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/gan.ts';

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

/** The section "## The shipped models", up to the next heading. */
function shippedModelsSection(text: string): string {
  const start = text.indexOf('## The shipped models');
  expect(start, 'README.md has a section "## The shipped models"').toBeGreaterThanOrEqual(0);
  const next = text.slice(start + 1).search(/\n#{1,2} /);
  return next < 0 ? text.slice(start) : text.slice(start, start + 1 + next);
}

interface Row {
  model: string;
  version: string;
  quality: string;
}

/** The table's rows: | `model` | `version` | what | quality |. */
function rows(section: string): Row[] {
  return Array.from(section.matchAll(/^\| `([a-z0-9-]+)` \| `([^`]+)` \|[^|]*\|([^\n]*)\|$/gm), ([, model, version, quality]) => ({
    model,
    version,
    quality,
  }));
}

/** Every number anywhere in a JSON value. */
function numbersIn(value: unknown, out: number[] = []): number[] {
  if (typeof value === 'number') out.push(value);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) numbersIn(v, out);
  return out;
}

/** The version of the emoji style judge shipped now: a judge evaluation by an earlier one is history, not a current figure. */
const judgeVersion = JSON.parse(readFileSync(path.join(repoRoot, 'models', 'classifiers', 'emoji-style-32', 'classifier.json'), 'utf8'))
  .version as string;

/** The figures a model's quoted numbers may come from: its manifest's metrics and its committed evaluations (judge ones by today's judge). */
function sourceFigures(model: string, version: string): { sources: string[]; values: number[] } {
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'models', model, 'manifest.json'), 'utf8'));
  const read = (f: string) => JSON.parse(readFileSync(path.join(repoRoot, 'docs', 'evaluations', f), 'utf8'));
  const evaluations = readdirSync(path.join(repoRoot, 'docs', 'evaluations'))
    .filter((f) => f.startsWith(`${model}-${version}.`))
    .filter((f) => read(f).metric !== 'style-judge-distances' || read(f).extractorVersion === judgeVersion);
  const values = numbersIn(manifest.metrics);
  for (const f of evaluations) numbersIn(read(f), values);
  return { sources: ['manifest.json', ...evaluations], values };
}

/** Whether `quoted` (as written, e.g. "30.5" or "0.37") is one of `values` at the quoted precision, as a share or a percentage. */
function quotes(quoted: string, values: number[]): boolean {
  const decimals = quoted.includes('.') ? quoted.split('.')[1].length : 0;
  const n = Number(quoted);
  const same = (v: number) => Math.abs(Number(v.toFixed(decimals)) - n) < 1e-9;
  return values.some((v) => same(v) || same(v * 100));
}

/** The numbers of a quality cell or sentence: figures such as 39.1 %, 30.5×, 0.37 (not "k = 3" style parameters or names). */
function quotedNumbers(text: string): string[] {
  const plain = text.replace(/`[^`]*`/g, '');
  return Array.from(plain.matchAll(/(?<![\w.-])(\d+(?:\.\d+)?)(?=\s*(?:%|×|\*\*|\)|,|;|\s\/|$| \())/g), (m) => m[1]);
}

const section = shippedModelsSection(readme);
const table = rows(section);

describe("README.md's shipped-model figures", () => {
  it('has a row for every shipped model, at its shipped version', () => {
    // Shipped models are the directories with a manifest (models/classifiers and models/upscalers hold other parts).
    const shipped = readdirSync(path.join(repoRoot, 'models')).filter((d) => existsSync(path.join(repoRoot, 'models', d, 'manifest.json')));
    expect(table.map((r) => r.model).sort()).toEqual(shipped.sort());
    for (const row of table) {
      const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'models', row.model, 'manifest.json'), 'utf8'));
      expect(row.version, `${row.model}'s version`).toBe(manifest.version);
    }
  });

  it.each(table.map((r) => [r.model, r] as const))('%s: every figure quoted is in its manifest or committed evaluation', (_, row) => {
    const { sources, values } = sourceFigures(row.model, row.version);
    for (const quoted of quotedNumbers(row.quality)) {
      expect(quotes(quoted, values), `${row.model}: "${quoted}" in the README is not in ${sources.join(', ')}`).toBe(true);
    }
  });

  it("checks the figures of the sentences under the table against the emoji model's evaluation", () => {
    const emoji = table.find((r) => r.model === 'emoji');
    expect(emoji).toBeDefined();
    const { values } = sourceFigures('emoji', emoji!.version);
    const prose = section.slice(section.lastIndexOf('|') + 1);
    const percentages = Array.from(prose.matchAll(/(\d+(?:\.\d+)?) %/g), (m) => m[1]);
    expect(percentages.length).toBeGreaterThan(0);
    for (const quoted of percentages) expect(quotes(quoted, values), `"${quoted} %" under the table`).toBe(true);
  });

  it('would catch a figure that drifted', () => {
    expect(quotes('30.5', [30.529])).toBe(true);
    expect(quotes('39.1', [0.391])).toBe(true);
    expect(quotes('30.6', [30.529])).toBe(false);
    expect(quotedNumbers('FD **30.5×** the floor; recall **0.21** (real data: 0.85 / 0.90)')).toEqual(['30.5', '0.21', '0.85', '0.90']);
  });
});
