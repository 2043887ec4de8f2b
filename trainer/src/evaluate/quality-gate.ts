/**
 * The retrain workflow's quality gate: a newly trained model is published only if it is not worse
 * than the version users get now, by the project's evaluation (`gan evaluate --json`). Each rule
 * names a metric (a dotted path into the evaluation), which direction is better, and a relative
 * tolerance. Numbers are compared only when both evaluations were made the same way (same extractor,
 * sample count and seed), since the metric is only comparable with itself.
 */
export interface GateRule {
  /** Dotted path into the evaluation JSON (`fd`, `classAccuracy.overall`). */
  metric: string;
  better: 'lower' | 'higher';
  /** Allowed relative slack (0.02 = 2 % worse still passes). */
  tolerance: number;
}

export interface GateRow {
  metric: string;
  better: 'lower' | 'higher';
  current?: number;
  candidate?: number;
  verdict: 'better' | 'equal' | 'within tolerance' | 'worse' | 'missing' | 'no baseline' | 'not measured';
}

export interface GateResult {
  pass: boolean;
  summary: string;
  rows: GateRow[];
}

/**
 * Fields that must agree for two evaluations to be comparable, when both record them: the features,
 * the sample count and seed, the size and truncation the images were served with, and the classifier
 * that judged style agreement (a stricter judge gives lower agreement to the same model).
 */
export const COMPARABILITY_FIELDS = ['extractor', 'extractorVersion', 'samples', 'seed', 'size', 'truncation', 'styleClassifier.version'];

export function metricAt(value: unknown, dotted: string): number | undefined {
  let node: unknown = value;
  for (const part of dotted.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return typeof node === 'number' && Number.isFinite(node) ? node : undefined;
}

function fieldAt(value: unknown, dotted: string): unknown {
  let node: unknown = value;
  for (const part of dotted.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/**
 * Compares a candidate evaluation with the current version's. With no current version (or one
 * published without an evaluation) the gate passes: there is nothing to be worse than.
 */
export function runQualityGate(
  candidate: unknown,
  current: unknown | undefined,
  rules: GateRule[],
  comparability = COMPARABILITY_FIELDS,
): GateResult {
  if (current === undefined || current === null) {
    return {
      pass: true,
      summary: 'no current version with an evaluation: nothing to compare against',
      rows: rules.map((r) => ({ metric: r.metric, better: r.better, candidate: metricAt(candidate, r.metric), verdict: 'no baseline' })),
    };
  }
  for (const field of comparability) {
    const a = fieldAt(candidate, field);
    const b = fieldAt(current, field);
    if (a !== undefined && b !== undefined && JSON.stringify(a) !== JSON.stringify(b)) {
      return {
        pass: false,
        summary: `evaluations are not comparable: ${field} is ${JSON.stringify(a)} now, ${JSON.stringify(b)} for the current version (re-evaluate the current version the same way)`,
        rows: [],
      };
    }
  }
  const rows: GateRow[] = rules.map((rule) => {
    const cur = metricAt(current, rule.metric);
    const cand = metricAt(candidate, rule.metric);
    const row = { metric: rule.metric, better: rule.better, current: cur, candidate: cand };
    if (cur === undefined && cand === undefined) return { ...row, verdict: 'not measured' };
    if (cand === undefined) return { ...row, verdict: 'missing' };
    if (cur === undefined) return { ...row, verdict: 'no baseline' };
    const gain = rule.better === 'lower' ? cur - cand : cand - cur;
    if (gain > 0) return { ...row, verdict: 'better' };
    if (gain === 0) return { ...row, verdict: 'equal' };
    return { ...row, verdict: -gain <= rule.tolerance * Math.abs(cur) ? 'within tolerance' : 'worse' };
  });
  const failing = rows.filter((r) => r.verdict === 'worse' || r.verdict === 'missing');
  return {
    pass: failing.length === 0,
    summary:
      failing.length === 0
        ? 'not worse than the current version'
        : `worse than the current version on ${failing.map((r) => r.metric).join(', ')}`,
    rows,
  };
}

/** The gate as a Markdown table (printed in the log and in the job summary). */
export function formatGate(result: GateResult): string {
  const fmt = (n?: number) => (n === undefined ? '–' : Number.isInteger(n) ? String(n) : n.toPrecision(5));
  const lines = [`Quality gate: ${result.pass ? 'PASS' : 'FAIL'}: ${result.summary}`, ''];
  if (result.rows.length > 0) {
    lines.push('| metric | better | current | candidate | verdict |', '| --- | --- | --- | --- | --- |');
    for (const r of result.rows) lines.push(`| ${r.metric} | ${r.better} | ${fmt(r.current)} | ${fmt(r.candidate)} | ${r.verdict} |`);
  }
  return lines.join('\n');
}

/**
 * The project's gate: the Fréchet distance in the evaluation classifier's feature space must not
 * grow, and for conditional models the share of images classified as the requested class must not
 * fall. (Paths follow `gan evaluate --json`.)
 */
export const DEFAULT_GATE_RULES: GateRule[] = [
  { metric: 'fd', better: 'lower', tolerance: 0 },
  { metric: 'classAccuracy', better: 'higher', tolerance: 0 },
];

/** Every number two evaluations report, side by side (the job summary's metrics table). */
export function formatMetricsTable(candidate: unknown, current: unknown | undefined): string {
  const numbers = (value: unknown): Record<string, number> => {
    const out: Record<string, number> = {};
    if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    }
    return out;
  };
  const cand = numbers(candidate);
  const cur = numbers(current);
  const keys = [...new Set([...Object.keys(cand), ...Object.keys(cur)])];
  if (keys.length === 0) return '';
  const fmt = (n?: number) => (n === undefined ? '–' : Number.isInteger(n) ? String(n) : n.toPrecision(5));
  return [
    '| metric | current | candidate |',
    '| --- | --- | --- |',
    ...keys.map((k) => `| ${k} | ${fmt(cur[k])} | ${fmt(cand[k])} |`),
  ].join('\n');
}
