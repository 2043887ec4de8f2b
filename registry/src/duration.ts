const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d`, `12h`, `90m`, `45s`, `2w` or `0` → milliseconds; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])?$/.exec(text.trim());
  if (!m) return undefined;
  const value = Number(m[1]);
  if (!m[2]) return value === 0 ? 0 : undefined; // a bare number is ambiguous unless it is 0
  return value * UNITS[m[2]];
}
