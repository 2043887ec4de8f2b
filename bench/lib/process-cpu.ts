/**
 * CPU time of another process tree (Linux /proc): how the benchmarks time work inside workerd on a
 * machine shared with other work, where wall-clock time would also measure the other work.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Pids of `root` and all its descendants now, from each process's parent in /proc/<pid>/stat. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (in parentheses, which may hold spaces): state, ppid, …
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const visit = (pid: number) => {
    out.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return out;
}

/** The first process under `root` named `name` whose command line contains `arg`, if any. */
export function descendant(root: number, name: string, arg: string): number | undefined {
  return processTree(root).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(arg);
    } catch {
      return false;
    }
  });
}

/**
 * A clock of the CPU milliseconds used by the worker's own workerd under a `wrangler dev` process
 * (the one with an inspector; wrangler also runs a workerd as its proxy): all its threads, from
 * /proc/<pid>/task/<tid>/schedstat, in nanoseconds. Undefined where /proc cannot tell.
 */
export function workerdCpuClock(wranglerPid: number): (() => number) | undefined {
  try {
    const pid = descendant(wranglerPid, 'workerd', 'inspector-addr');
    if (pid === undefined) return undefined;
    return () => {
      let ns = 0;
      for (const tid of readdirSync(`/proc/${pid}/task`))
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      return ns / 1e6;
    };
  } catch {
    return undefined;
  }
}
