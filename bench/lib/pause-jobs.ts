/**
 * Background jobs (a training run, say) paused with SIGSTOP while a benchmark measures, and resumed
 * with SIGCONT when it ends, however it ends. `file` lists them, a pid first on each line; each listed
 * process's children are paused too (a listed `npx` or shell runs the job as a child).
 */
import { existsSync, readFileSync } from 'node:fs';
import { processTree } from './process-cpu.ts';

/** Pauses the jobs listed in `file` (none without one) and returns what resumes them. */
export function pauseJobsListedIn(file: string | undefined): () => void {
  const paused: number[] = [];
  if (file && existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const pid = Number(line.trim().split(/[\s,]+/)[0]);
      if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) paused.push(...processTree(pid).filter((p) => p !== process.pid));
    }
  }
  const signalAll = (signal: 'SIGSTOP' | 'SIGCONT') => {
    for (const pid of paused) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    }
  };
  const resume = () => signalAll('SIGCONT');
  process.on('exit', resume);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(s, () => {
      resume();
      process.exit(130);
    });
  }
  signalAll('SIGSTOP');
  if (file) console.error(`paused ${paused.length} background process(es) listed in ${file}`);
  return resume;
}
