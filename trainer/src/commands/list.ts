import type { Command } from 'commander';
import { listModelNames, listVersions, type ModelVersions } from '@gan/registry';
import { type StorageFlags, withStorage, withStorageOptions } from './registry-options.ts';

/** The headline numbers of a manifest's metrics, flattened for one table cell. */
export function metricsCell(metrics: Record<string, unknown> | undefined): string {
  if (!metrics) return '';
  const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toPrecision(4));
  const evaluation = metrics.evaluation as Record<string, unknown> | undefined;
  if (evaluation && typeof evaluation === 'object') {
    // The headline numbers of `gan evaluate` (what the quality gate compares).
    const cells = ['fd', 'fdFloor', 'classAccuracy', 'samples']
      .filter((k) => typeof evaluation[k] === 'number')
      .map((k) => `${k}=${fmt(evaluation[k] as number)}`);
    if (cells.length > 0) return cells.join(' ');
  }
  const out: string[] = [];
  const walk = (node: unknown, prefix: string, depth: number) => {
    if (typeof node === 'number') out.push(`${prefix}=${fmt(node)}`);
    else if (node && typeof node === 'object' && !Array.isArray(node) && depth < 2) {
      for (const [k, v] of Object.entries(node)) walk(v, prefix ? `${prefix}.${k}` : k, depth + 1);
    }
  };
  walk(metrics, '', 0);
  return out.slice(0, 6).join(' ');
}

function table(models: ModelVersions[]): string {
  const rows: string[][] = [['', 'model', 'version', 'created', 'published', 'MB', 'metrics']];
  for (const m of models) {
    for (const v of [...m.versions].reverse()) {
      rows.push([
        v.isCurrent ? '*' : v.complete ? '' : '!',
        m.name,
        v.version,
        v.manifest?.createdAt.slice(0, 16) ?? '(incomplete)',
        v.publishedAt.toISOString().slice(0, 16),
        (v.bytes / 1e6).toFixed(2),
        metricsCell(v.manifest?.metrics),
      ]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function register(program: Command): Command {
  return withStorageOptions(
    program
      .command('list')
      .description('List published versions with their metrics; * marks the current one, ! an incomplete upload')
      .argument('[name]', 'only this model'),
  )
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, flags: StorageFlags & { json?: boolean }) => {
      const models = await withStorage(flags, async (storage) => {
        const names = name ? [name] : await listModelNames(storage);
        return Promise.all(names.map((n) => listVersions(storage, n)));
      });
      if (flags.json) {
        const plain = models.map((m) => ({
          name: m.name,
          current: m.current?.version ?? null,
          versions: m.versions.map((v) => ({
            version: v.version,
            current: v.isCurrent,
            complete: v.complete,
            createdAt: v.manifest?.createdAt ?? null,
            publishedAt: v.publishedAt.toISOString(),
            bytes: v.bytes,
            metrics: v.manifest?.metrics ?? null,
          })),
        }));
        process.stdout.write(`${JSON.stringify(plain, null, 2)}\n`);
      } else if (models.every((m) => m.versions.length === 0)) {
        process.stdout.write(name ? `${name}: no versions\n` : 'no models\n');
      } else {
        process.stdout.write(`${table(models)}\n`);
      }
    });
}
