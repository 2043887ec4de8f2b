import { appendFile, readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { ModelFilesError } from '@gan/core/manifest';
import { readCurrent, readStoredManifest } from '@gan/registry';
import { DEFAULT_GATE_RULES, formatGate, formatMetricsTable, type GateRule, runQualityGate } from '../evaluate/quality-gate.ts';
import { UsageError } from './common.ts';
import { type StorageFlags, withStorage, withStorageOptions } from './registry-options.ts';

/** Exit code of a failed gate (0 = pass, 1 = error, 2 = bad usage). */
export const GATE_FAILED_EXIT_CODE = 3;

function parseRule(value: string, previous: GateRule[] | undefined): GateRule[] {
  const m = /^([A-Za-z0-9_.]+):(lower|higher)(?::(\d+(?:\.\d+)?))?$/.exec(value);
  if (!m) throw new InvalidArgumentError('must be metric:lower|higher[:tolerance], e.g. fd:lower:0.02');
  return [...(previous ?? []), { metric: m[1], better: m[2] as GateRule['better'], tolerance: Number(m[3] ?? 0) }];
}

async function readJson(file: string, flag: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new UsageError(flag, `${file} is not a readable JSON file`);
  }
}

interface GateFlags extends StorageFlags {
  candidate: string;
  baseline?: string;
  rule?: GateRule[];
  summary?: string;
}

export function register(program: Command): Command {
  return withStorageOptions(
    program
      .command('gate')
      .description("Quality gate before publishing: compare a new model's evaluation with the current version's (exit 0 pass, 3 worse)")
      .argument('<name>', 'model name'),
  )
    .requiredOption('--candidate <file>', 'the new model’s evaluation (gan evaluate --json)')
    .option('--baseline <file>', "compare with this evaluation instead of the current version's in the bucket")
    .option('--rule <metric:better[:tolerance]>', 'a gate rule (repeatable; replaces the defaults)', parseRule)
    .option('--summary <file>', 'append the gate table to this Markdown file (e.g. $GITHUB_STEP_SUMMARY)')
    .action(async (name: string, flags: GateFlags) => {
      const candidate = await readJson(flags.candidate, '--candidate');
      let baseline: unknown;
      let against = 'the given baseline';
      if (flags.baseline) baseline = await readJson(flags.baseline, '--baseline');
      else {
        const found = await withStorage(flags, async (storage) => {
          const current = await readCurrent(storage, name);
          if (!current) return undefined;
          // A current version without a readable manifest has no evaluation to compare with.
          const manifest = await readStoredManifest(storage, name, current.version).catch((error: unknown) => {
            if (error instanceof ModelFilesError) return undefined;
            throw error;
          });
          return { version: current.version, evaluation: manifest?.metrics.evaluation };
        });
        baseline = found?.evaluation;
        against = found ? `${name}@${found.version}` : `${name} (not published yet)`;
      }
      const result = runQualityGate(candidate, baseline, flags.rule ?? DEFAULT_GATE_RULES);
      const text = `${formatGate(result)}\n\nCompared with ${against}.\n`;
      process.stdout.write(text);
      if (flags.summary) {
        const metrics = formatMetricsTable(candidate, baseline);
        await appendFile(flags.summary, `\n### Quality gate\n\n${text}${metrics ? `\n#### Evaluation\n\n${metrics}\n` : ''}`);
      }
      if (!result.pass) process.exitCode = GATE_FAILED_EXIT_CODE;
    });
}
