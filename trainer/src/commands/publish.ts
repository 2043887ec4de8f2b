import { appendFile, readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { publishModel, readExportedModel } from '@gan/registry';
import { attachEvaluation } from '../export/model-card.ts';
import { UsageError } from './common.ts';
import { type StorageFlags, withStorage, withStorageOptions } from './registry-options.ts';

/**
 * Test hook: `GAN_PUBLISH_KILL_AFTER_UPLOADS=K` kills the process (SIGKILL, no clean-up) right after
 * the K-th object is written, so tests can show what an interrupted publish leaves behind.
 */
const KILL_AFTER_ENV = 'GAN_PUBLISH_KILL_AFTER_UPLOADS';

interface PublishFlags extends StorageFlags {
  metrics?: string;
  json?: boolean;
  summary?: string;
  baseUrl?: string;
}

/** Markdown for a job summary: what was published, and the image URLs it now answers. */
export function publishSummary(
  result: { name: string; version: string; previous?: string; currentChanged: boolean },
  baseUrl?: string,
): string {
  const lines = [
    '### Published',
    '',
    `\`${result.name}@${result.version}\`${result.currentChanged ? ` is now current (was ${result.previous ? `\`${result.previous}\`` : 'none'})` : ' was already current'}.`,
  ];
  if (baseUrl) {
    const base = baseUrl.replace(/\/+$/, '');
    const pinned = `${base}/v1/models/${result.name}@${result.version}/image.png?seed=summary`;
    const grid = `${base}/v1/models/${result.name}@${result.version}/grid.png?seed=summary`;
    lines.push(
      '',
      `- pinned: ${pinned}`,
      `- current: ${base}/v1/models/${result.name}/image.png?seed=summary`,
      '',
      `![${result.name}@${result.version} sample grid](${grid})`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): Command {
  return withStorageOptions(
    program
      .command('publish')
      .description('Publish an exported model to R2: upload its files, verify each by sha256, then point models/<name>/current.json at it')
      .argument('<dir>', 'exported model directory (gan export --out)'),
  )
    .option('--metrics <file>', "record this evaluation (gan evaluate --json) in the manifest's metrics.evaluation first")
    .option('--json', 'print the result as JSON')
    .option('--summary <file>', 'append what was published to this Markdown file (e.g. $GITHUB_STEP_SUMMARY)')
    .option('--base-url <url>', "the worker's public URL, for the image links in --summary")
    .action(async (dir: string, flags: PublishFlags) => {
      if (flags.metrics) {
        let evaluation: unknown;
        try {
          evaluation = JSON.parse(await readFile(flags.metrics, 'utf8'));
        } catch {
          throw new UsageError('--metrics', `${flags.metrics} is not a readable JSON file`);
        }
        await attachEvaluation(dir, evaluation);
      }
      const model = await readExportedModel(dir);
      const killAfter = Number(process.env[KILL_AFTER_ENV] ?? 0);
      const result = await withStorage(flags, async (storage) => {
        const log = (line: string) => process.stderr.write(`${line}\n`);
        log(`publishing ${model.manifest.name}@${model.manifest.version} to ${storage.description}`);
        return publishModel(storage, model, {
          log,
          onUpload: (_key, count) => {
            if (killAfter > 0 && count >= killAfter) process.kill(process.pid, 'SIGKILL');
          },
        });
      });
      if (flags.summary) await appendFile(flags.summary, `\n${publishSummary(result, flags.baseUrl)}`);
      if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        process.stdout.write(
          `${result.name}@${result.version}: ${result.uploaded.length} uploaded, ${result.alreadyPresent.length} already present; ` +
            `current ${result.currentChanged ? `${result.previous ?? '(none)'} → ${result.version}` : `unchanged (${result.version})`}\n`,
        );
      }
    });
}
