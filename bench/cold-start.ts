/**
 * Cold start and the request path of the worker, in workerd's process CPU (/proc: on a machine shared
 * with other work, wall time would measure the other work too):
 *
 * 1. startup: `wrangler check startup` (Cloudflare's own profile of the global scope, where the
 *    embedded models are built): its busy samples, minus idle;
 * 2. first requests of fresh isolates (fresh `wrangler dev`, local R2 empty, so the embedded models
 *    serve): CPU of the first random emoji image, and in another fresh isolate of the first
 *    `?seed=<fresh>&size=128` (bilinear, and with the learned upscaler), each minus a /healthz of the same isolate;
 * 3. warm: per request, random and seeded mnist images against /healthz, and PyTorch's forward of
 *    the same generator (bench/pytorch/dcgan.py's Generator at mnist's sizes, 1 thread);
 * 3b. a version published after the deploy: CPU of the first request naming it (answered by the
 *    embedded version) plus its load, which runs after the response;
 * 4. the parts of a request (bench/worker/request-parts-worker.ts), each minus an empty call.
 *
 *   node --import tsx bench/cold-start.ts [--rounds 3] [--reps 200] [--skip startup,cold,warm,publish,parts] [--pause <file>]
 *
 * `--pause <file>`: background jobs listed in the file (first field of a line: a pid; a training run,
 * say) are paused with SIGSTOP while it runs, their child processes too, and always resumed (SIGCONT)
 * when it ends, however it ends.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fillLocalR2 } from '@gan/registry/fill-local';
import { pauseJobsListedIn } from './lib/pause-jobs.ts';
import { workerdCpuClock } from './lib/process-cpu.ts';
import { median, table } from './lib/stats.ts';
import { type WranglerDev, benchWranglerConfig, startWranglerDev } from './lib/wrangler-dev.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    reps: { type: 'string', default: '200' },
    skip: { type: 'string', default: '' },
    pause: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const REPS = Number(args.reps);
const skip = new Set(args.skip.split(',').filter(Boolean));

const resumeJobs = pauseJobsListedIn(args.pause);

// ---- Helpers ----------------------------------------------------------------------------------
let port = 8900 + Math.floor(Math.random() * 50);
const work = mkdtempSync(join(tmpdir(), 'gan-cold-start-'));
const config = benchWranglerConfig(work);
// The same without the R2 binding: a deployment with no bucket, the embedded models only.
const noBucketConfig = join(work, 'wrangler-no-bucket.toml');
writeFileSync(noBucketConfig, readFileSync(config, 'utf8').replace(/\[\[r2_buckets\]\][^[]*/g, ''));
const dev = (configPath = config) =>
  startWranglerDev(port++, ['--log-level', 'error', '--config', configPath, '--persist-to', join(work, 'state')], {
    readyPath: '/__bench_probe_404',
    timeoutMs: 120_000,
  });

/** No single request of the benches runs longer: a hang names its request instead of losing the phase. */
const REQUEST_TIMEOUT_MS = 120_000;

async function cpuOf(d: WranglerDev, clock: () => number, path: string, reps = 1): Promise<number> {
  const c0 = clock();
  for (let i = 0; i < reps; i++) {
    const url = `${d.url}${path.replace('{i}', `${i}-${Math.random().toString(36).slice(2)}`)}`;
    const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).catch((error: unknown) => {
      throw new Error(`${path}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s (${error instanceof Error ? error.message : error})`);
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  }
  return (clock() - c0) / reps;
}

/** Repetitions of a part per request of the parts worker: each request stays short. */
const PART_REPS_PER_REQUEST = 25;

/** CPU ms per repetition of one part, run `reps` times in requests of PART_REPS_PER_REQUEST. */
async function partCpu(d: WranglerDev, clock: () => number, model: string, part: string, reps: number): Promise<number> {
  let total = 0;
  for (let done = 0; done < reps; done += PART_REPS_PER_REQUEST) {
    const n = Math.min(PART_REPS_PER_REQUEST, reps - done);
    total += await cpuOf(d, clock, `/?model=${model}&part=${encodeURIComponent(part)}&reps=${n}`);
  }
  return total / reps;
}
/**
 * PyTorch's forward of the mnist generator (bench/pytorch/dcgan.py at nz 110, ngf 32, nc 1), batch 1,
 * one thread, in a Python process that answers each `time()` with the process CPU ms of one forward
 * (the mean of 50). Undefined when PyTorch cannot run here.
 */
function startPyTorchForward(): { time(): Promise<number>; stop(): void } | undefined {
  const py = `
import sys, time, torch
sys.path.insert(0, ${JSON.stringify(`${root}bench/pytorch`)})
from dcgan import Generator
torch.set_num_threads(1)
g = Generator(nz=110, ngf=32, nc=1).eval()
z = torch.randn(1, 110)
with torch.no_grad():
    for _ in range(50): g(z)
    for line in sys.stdin:
        c = time.process_time()
        for _ in range(50): g(z)
        print((time.process_time() - c) * 1000 / 50, flush=True)
`;
  try {
    execFileSync('sh', [join(root, 'bench/pytorch/setup.sh')], { stdio: 'ignore' });
  } catch (e) {
    console.error(`PyTorch failed: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
  const child = spawn('/usr/bin/python3', ['-c', py], {
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    async time() {
      child.stdin!.write('\n');
      const { value, done } = await lines.next();
      if (done) throw new Error('the PyTorch process ended');
      return Number(value);
    },
    stop: () => child.kill(),
  };
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
/** Each table is printed when its phase ends: a later phase that fails loses nothing measured before it. */
const report = (text: string) => console.log(`${text}\n`);
execFileSync(process.execPath, ['--import', 'tsx', join(root, 'worker/scripts/embed-models.ts')], { cwd: root, stdio: 'ignore' });

try {
  // ---- 1. startup ---------------------------------------------------------------------------------
  if (!skip.has('startup')) {
    const busy: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const profile = `/tmp/gan-startup-${process.pid}-${r}.cpuprofile`;
      execFileSync('npx', ['wrangler', 'check', 'startup', '--outfile', profile], { cwd: root, stdio: 'ignore' });
      const p = JSON.parse(readFileSync(profile, 'utf8')) as {
        nodes: { id: number; callFrame: { functionName: string } }[];
        samples: number[];
        timeDeltas: number[];
      };
      const name = new Map(p.nodes.map((n) => [n.id, n.callFrame.functionName]));
      let total = 0;
      p.samples.forEach((id, i) => {
        if (name.get(id) !== '(idle)') total += p.timeDeltas[i];
      });
      busy.push(total / 1000);
    }
    report(
      `Startup (global scope: the embedded models checked, built and warmed up), \`wrangler check startup\`, busy samples, ${ROUNDS} runs\n\n` +
        table(['measure', 'median ms', 'runs'], [['startup CPU profile, not idle', ms(median(busy)), busy.map(ms).join(', ')]]),
    );
  }

  // ---- 2. first requests of fresh isolates -------------------------------------------------------
  if (!skip.has('cold')) {
    const rows: string[][] = [];
    const ready: number[] = [];
    // [label, config, a request made before (local R2's first use, not the image route's), the first image]
    const cases: [string, string, string | undefined, string][] = [
      ['emoji random, native size', config, undefined, '/v1/models/emoji/image.png'],
      ['emoji ?seed=<fresh>&size=128', config, undefined, '/v1/models/emoji/image.png?seed=cold-{i}&size=128'],
      [
        'emoji ?seed=<fresh>&size=128&filter=learned',
        config,
        undefined,
        '/v1/models/emoji/image.png?seed=cold-{i}&size=128&filter=learned',
      ],
      [
        'emoji random, after one read of local R2 (GET /v1/models/unknown: 404)',
        config,
        '/v1/models/unknown',
        '/v1/models/emoji/image.png',
      ],
      ['emoji random, no R2 bucket bound', noBucketConfig, undefined, '/v1/models/emoji/image.png'],
      ['emoji ?seed=<fresh>&size=128, no R2 bucket bound', noBucketConfig, undefined, '/v1/models/emoji/image.png?seed=cold-{i}&size=128'],
      [
        'emoji ?seed=<fresh>&size=128, no R2 bucket, after one seeded mnist image (local Cache API first use)',
        noBucketConfig,
        '/v1/models/mnist/image.png?seed=cache-first-use',
        '/v1/models/emoji/image.png?seed=cold-{i}&size=128',
      ],
    ];
    for (const [label, configPath, before, path] of cases) {
      const above: number[] = [];
      const first: number[] = [];
      const health: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const d = await dev(configPath);
        try {
          const clock = workerdCpuClock(d.child.pid!);
          if (!clock) throw new Error('no workerd CPU clock under wrangler dev');
          if (configPath === config && !before) ready.push(clock());
          await cpuOf(d, clock, '/healthz'); // the isolate's first /healthz
          if (before) await fetch(`${d.url}${before}`).then((res) => res.arrayBuffer());
          const h = await cpuOf(d, clock, '/healthz');
          const f = await cpuOf(d, clock, path);
          health.push(h);
          first.push(f);
          above.push(f - h);
        } finally {
          await d.stop();
        }
      }
      rows.push([label, ms(median(first)), ms(median(health)), ms(median(above)), above.map(ms).join(', ')]);
    }
    report(
      `First image of a fresh isolate (fresh \`wrangler dev\`, local R2 empty: the embedded model serves), workerd process CPU, ${ROUNDS} starts each\n\n` +
        table(['request', 'CPU ms', '/healthz CPU ms', 'above /healthz ms (median)', 'each start'], rows),
    );
    // workerd's CPU from its start to ready (its own start, the bundle, the global scope), against a
    // checkout without embedded models (BASELINE=<dir>): the difference is what embedding adds.
    const baseline = process.env.BASELINE;
    const baseReady: number[] = [];
    if (baseline) {
      for (let r = 0; r < ROUNDS; r++) {
        const d = await startWranglerDev(port++, ['--log-level', 'error', '--config', join(baseline, 'wrangler.toml')], {
          readyPath: '/__bench_probe_404',
          timeoutMs: 120_000,
        });
        try {
          baseReady.push(workerdCpuClock(d.child.pid!)!());
        } finally {
          await d.stop();
        }
      }
    }
    report(
      'workerd process CPU from start to ready (one 404 probe answered)\n\n' +
        table(
          ['build', 'median ms', 'each start'],
          [
            ['this checkout (embedded models built at startup)', ms(median(ready)), ready.map(ms).join(', ')],
            ...(baseline ? [[`${baseline} (no embedded models)`, ms(median(baseReady)), baseReady.map(ms).join(', ')]] : []),
          ],
        ),
    );
  }

  // ---- 3. warm requests and PyTorch --------------------------------------------------------------
  // The machine's load drifts by more than the figures differ, so PyTorch's forward is timed inside
  // each round, right after the worker's requests, and the ratio is the median of per-round ratios.
  if (!skip.has('warm')) {
    const torch = startPyTorchForward();
    const d = await dev();
    const samples = new Map<string, number[]>();
    const add = (k: string, v: number) => samples.set(k, [...(samples.get(k) ?? []), v]);
    try {
      const clock = workerdCpuClock(d.child.pid!)!;
      const cases = {
        '/healthz': '/healthz',
        'mnist random': '/v1/models/mnist/image.png',
        'mnist ?seed=<fresh> (Cache API miss + put)': '/v1/models/mnist/image.png?seed=warm-{i}',
        'mnist ?seed=<repeated> (Cache API hit)': '/v1/models/mnist/image.png?seed=repeated',
        'emoji random': '/v1/models/emoji/image.png',
        'emoji ?seed=<fresh>&size=128': '/v1/models/emoji/image.png?seed=warm-{i}&size=128',
        'emoji ?seed=<fresh>&size=128&filter=learned': '/v1/models/emoji/image.png?seed=warm-{i}&size=128&filter=learned',
      };
      for (const path of Object.values(cases)) await cpuOf(d, clock, path, 5);
      await torch?.time();
      for (let r = 0; r < ROUNDS; r++) {
        for (const [k, path] of Object.entries(cases)) add(k, await cpuOf(d, clock, path, 50));
        const t = await torch?.time();
        if (t !== undefined) add('PyTorch', t);
      }
    } finally {
      torch?.stop();
      await d.stop();
    }
    const health = median(samples.get('/healthz')!);
    const torchMs = samples.has('PyTorch') ? median(samples.get('PyTorch')!) : Number.NaN;
    /** Median over rounds of (request − /healthz) / PyTorch, each from the same round. */
    const roundRatio = (k: string) =>
      samples.has('PyTorch')
        ? median(samples.get(k)!.map((v, r) => (v - samples.get('/healthz')![r]) / samples.get('PyTorch')![r])).toFixed(2)
        : '–';
    const rows = [...samples]
      .filter(([k]) => k !== 'PyTorch')
      .map(([k, v]) => {
        const m = median(v);
        const above = k === '/healthz' ? Number.NaN : m - health;
        return [k, ms(m), ms(above), k.startsWith('mnist') ? `${(m / torchMs).toFixed(2)}× / ${roundRatio(k)}×` : '–'];
      });
    rows.push(['PyTorch forward, mnist generator, batch 1, 1 thread (process CPU)', ms(torchMs), '–', '1×']);
    report(
      `Warm requests (one \`wrangler dev\`, ${ROUNDS} rounds × 50 requests, workerd process CPU per request, medians; PyTorch timed in each round) against PyTorch\n\n` +
        table(['request', 'CPU ms', 'above /healthz ms', 'vs PyTorch forward (CPU / above /healthz, median of rounds)'], rows),
    );
  }

  // ---- 3b. a version published after the deploy (not the embedded one) ----------------------------
  if (!skip.has('publish')) {
    // models/mnist's files published as another version: the same weights, so only the load differs.
    const exports = join(work, 'published');
    mkdirSync(join(exports, 'mnist'), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(root, 'models/mnist/manifest.json'), 'utf8'));
    for (const { path } of manifest.files) copyFileSync(join(root, 'models/mnist', path), join(exports, 'mnist', path));
    writeFileSync(join(exports, 'mnist/manifest.json'), JSON.stringify({ ...manifest, version: 'published-after-deploy' }));
    const state = join(work, 'state-published');
    await fillLocalR2({ modelsDir: exports, configPath: config, persistTo: state, log: () => {} });
    const load: number[] = [];
    const standIn: number[] = [];
    const after: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const d = await startWranglerDev(port++, ['--log-level', 'error', '--config', config, '--persist-to', state], {
        readyPath: '/__bench_probe_404',
        timeoutMs: 120_000,
      });
      try {
        const clock = workerdCpuClock(d.child.pid!)!;
        await cpuOf(d, clock, '/healthz');
        // Warm the request path and the local R2 on the embedded version, pinned (no load).
        await cpuOf(d, clock, `/v1/models/mnist@${manifest.version}/image.png`, 3);
        const warm = await cpuOf(d, clock, `/v1/models/mnist@${manifest.version}/image.png`, 5);
        // The first request naming the published version: the embedded one answers, the load runs after.
        const c0 = clock();
        const res = await fetch(`${d.url}/v1/models/mnist/image.png`);
        await res.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, 1500)); // the background load finishes
        load.push(clock() - c0 - warm);
        standIn.push(res.headers.get('X-Model-Version') === manifest.version ? 1 : 0);
        const next = await fetch(`${d.url}/v1/models/mnist/image.png`);
        await next.arrayBuffer();
        after.push(next.headers.get('X-Model-Version') === 'published-after-deploy' ? 1 : 0);
      } finally {
        await d.stop();
      }
    }
    report(
      `A version published after the deploy (models/mnist's files as another version in local R2), ${ROUNDS} fresh starts: the first request is answered by the embedded version, the published one loads after the response\n\n` +
        table(
          ['measure', 'median', 'each start'],
          [
            ['workerd CPU of that request and the load, minus a warm image request (ms)', ms(median(load)), load.map(ms).join(', ')],
            ['first answer labelled as the embedded version', `${standIn.filter(Boolean).length}/${ROUNDS}`, '–'],
            ['next answer from the published version', `${after.filter(Boolean).length}/${ROUNDS}`, '–'],
          ],
        ),
    );
  }

  // ---- 4. parts of a request ----------------------------------------------------------------------
  if (!skip.has('parts')) {
    const d = await startWranglerDev(port++, ['--log-level', 'error', '--config', `${root}bench/worker/request-parts.toml`], {
      readyPath: '/parts',
      timeoutMs: 120_000,
    });
    try {
      const clock = workerdCpuClock(d.child.pid!)!;
      for (const model of ['mnist', 'emoji']) {
        const parts = (await (await fetch(`${d.url}/parts?model=${model}`)).json()) as string[];
        const samples = new Map<string, number[]>();
        // A part whose request gets no answer (Miniflare's Cache API emulation has hung on `put`) is
        // reported as such and left out of later rounds; the other parts are still measured.
        const hung = new Map<string, string>();
        const measure = async (part: string, reps: number) => {
          if (hung.has(part)) return undefined;
          try {
            return await partCpu(d, clock, model, part, reps);
          } catch (error) {
            hung.set(part, error instanceof Error ? error.message : String(error));
            console.error(`part "${part}" left out: ${hung.get(part)}`);
            return undefined;
          }
        };
        for (const part of parts) await measure(part, 10);
        for (let r = 0; r < ROUNDS; r++) {
          for (const part of parts) {
            const cpu = await measure(part, part.includes('size=128') ? Math.ceil(REPS / 4) : REPS);
            if (cpu !== undefined) samples.set(part, [...(samples.get(part) ?? []), cpu * 1000]);
          }
        }
        const none = median(samples.get('none')!);
        const rows = parts
          .filter((p) => p !== 'none')
          .map((p) => [
            p,
            hung.has(p) ? `– (no answer within ${REQUEST_TIMEOUT_MS / 1000} s)` : (median(samples.get(p)!) - none).toFixed(0),
          ]);
        report(
          `Parts of a request, ${model} (bench/worker/request-parts-worker.ts; workerd process CPU per repetition minus an empty call, ${ROUNDS} rounds × ${REPS}, medians)\n\n` +
            table(['part', 'µs'], rows),
        );
      }
    } finally {
      await d.stop();
    }
  }
} finally {
  resumeJobs();
}
