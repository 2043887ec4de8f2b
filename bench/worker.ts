/**
 * Worker-side figures: bundle size (wrangler deploy --dry-run, minified, SIMD .wasm only), the
 * generator forward pass inside workerd (the project's GanSubPixelConv kernel and tfjs's XNNPACK
 * convolutions, vs PyTorch, interleaved; wall-clock time in the isolate and workerd's CPU time from
 * /proc, which other work on a shared machine inflates less), cold start (fresh `wrangler dev`
 * to first image: backend start, model fetched from local R2 and checksummed, folded, rendered), the
 * whole seeded request's render time (latent, forward, PNG; the worker's Server-Timing), and load
 * with autocannon for distinct seeds (no cache) and one repeated seed (Cache API).
 */
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { buildManifest, encodeModelFiles, sha256Hex, versionName } from '@gan/core';
import { buildGenerator } from '@gan/core/model';
import { fillLocalR2 } from '@gan/registry';
import { CONFIG, referenceWeights } from './lib/models.ts';
import type { PyTorch } from './lib/pytorch.ts';
import { workerdCpuClock } from './lib/process-cpu.ts';
import { fmtMs, median, quantile, table } from './lib/stats.ts';
import { type WranglerDev, benchWranglerConfig, startWranglerDev } from './lib/wrangler-dev.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const MODEL = 'bench';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

function bundleSize(work: string): string {
  const out = join(work, 'bundle');
  const log = execFileSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', out], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const reported = /Total Upload:\s*([\d.]+ KiB)\s*\/\s*gzip:\s*([\d.]+ KiB)/.exec(log);
  const rows = filesUnder(out)
    // What is uploaded: code and WASM (wrangler also writes source maps and a README.md there).
    .filter((f) => /\.(m?js|wasm)$/.test(f))
    .map((f) => {
      const bytes = readFileSync(f);
      return [relative(out, f), (statSync(f).size / 1024).toFixed(0), (gzipSync(bytes, { level: 9 }).byteLength / 1024).toFixed(0)];
    });
  return (
    `Bundle (\`wrangler deploy --dry-run --outdir\`)${reported ? `: wrangler reports **${reported[1]} upload, ${reported[2]} gzipped**` : ''}\n\n` +
    table(['file', 'KiB', 'KiB gzip -9'], rows)
  );
}

/** Exports the benchmark generator (reference architecture) as `gan export` would, and puts it in a local R2. */
async function publishBenchModel(work: string): Promise<string> {
  await tf.setBackend('cpu');
  const weights = referenceWeights();
  const g = buildGenerator(CONFIG, 1);
  const files = encodeModelFiles({
    weights: g.weights.map((w) => ({ name: w.originalName, shape: w.shape as number[], data: weights.get(w.originalName)!.data })),
    modelTopology: g.toJSON(null, false) as never,
  });
  g.dispose();
  const now = new Date();
  const manifest = await buildManifest(
    {
      name: MODEL,
      version: versionName(now, await sha256Hex((files.get('group1-shard1of1.bin') ?? new Uint8Array()) as Uint8Array<ArrayBuffer>)),
      createdAt: now.toISOString(),
      classes: [],
      architecture: CONFIG,
      weightsFormat: 'float32',
      dataset: { name: 'none (benchmark weights)', licence: 'n/a' },
      training: { steps: 0, batchSize: 64, backend: 'none', seconds: 0 },
    },
    files,
  );
  const dir = join(work, 'models', MODEL);
  mkdirSync(dir, { recursive: true });
  for (const [file, bytes] of files) writeFileSync(join(dir, file), bytes);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  const state = join(work, 'state');
  await fillLocalR2({ modelsDir: join(work, 'models'), configPath: join(root, 'wrangler.toml'), persistTo: state, log: () => {} });
  return state;
}

let nextPort = 8870 + Math.floor(Math.random() * 100);

/** Starts `wrangler dev` and resolves when it is ready, with its URL. */
function wranglerDev(args: string[]): Promise<WranglerDev> {
  return startWranglerDev(nextPort++, ['--log-level', 'warn', ...args], { readyPath: '/__bench_probe_404', timeoutMs: 60_000 });
}

const serverTiming = (res: Response, name: string) =>
  Number(new RegExp(`${name};dur=([\\d.]+)`).exec(res.headers.get('Server-Timing') ?? '')?.[1] ?? NaN);

async function load(url: string, seconds: number, distinct: boolean) {
  let i = 0;
  const result = await autocannon({
    url,
    connections: 4,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (req: Record<string, unknown>) => ({
          ...req,
          path: `/v1/models/${MODEL}/image.png?seed=${distinct ? `load-${i++}` : 'cached'}`,
        }),
      },
    ],
  });
  const statuses = Object.entries((result as unknown as { statusCodeStats?: Record<string, { count: number }> }).statusCodeStats ?? {})
    .map(([code, v]) => `${code}: ${v.count}`)
    .join(', ');
  return {
    statuses,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

export async function benchWorker(opts: { quick: boolean; py?: PyTorch; torchVersion?: string }): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'gan-edge-bench-worker-'));
  const out: string[] = [];
  try {
    out.push(bundleSize(work));

    // Forward inside workerd, our kernel and tfjs's alternating, interleaved with PyTorch.
    const fwd = await wranglerDev(['--config', join(root, 'bench/worker/wrangler.toml')]);
    try {
      const rounds = opts.quick ? 3 : 5;
      const samples = new Map<string, { ms: number[]; cpuMs: number[] }>();
      const add = (k: string, ms: number[], cpuMs: number[]) => {
        const s = samples.get(k) ?? { ms: [], cpuMs: [] };
        s.ms.push(...ms);
        s.cpuMs.push(...cpuMs);
        samples.set(k, s);
      };
      await fetch(`${fwd.url}/?batch=1&reps=1`).then((r) => r.arrayBuffer()); // backend start, weights folded
      const workerdCpu = workerdCpuClock(fwd.child.pid!);
      const kernels = { ours: 'GanSubPixelConv', tfjs: 'XNNPACK' } as const;
      for (let r = 0; r < rounds; r++) {
        for (const batch of [1, 64]) {
          const reps = batch === 1 ? 50 : 2;
          for (const k of Object.keys(kernels) as (keyof typeof kernels)[]) {
            await fetch(`${fwd.url}/?batch=${batch}&reps=1&kernels=${k}`).then((r) => r.arrayBuffer()); // filters prepacked
            const c0 = workerdCpu?.() ?? Number.NaN;
            const res = (await (await fetch(`${fwd.url}/?batch=${batch}&reps=${reps}&kernels=${k}`)).json()) as { ms: number[] };
            const cpu = ((workerdCpu?.() ?? Number.NaN) - c0) / reps;
            add(`${k} ${batch}`, res.ms, [cpu]);
          }
          if (opts.py) {
            const torch = await opts.py.send<{ ms: number[]; cpu_ms: number[] }>({ cmd: 'time_forward', batch, reps, threads: 1 });
            add(`torch ${batch}`, torch.ms, torch.cpu_ms);
          }
        }
      }
      const med = (k: string, m: 'ms' | 'cpuMs') => (samples.has(k) ? median(samples.get(k)![m]) : Number.NaN);
      const ratio = (x: number, y: number) => (Number.isFinite(x / y) ? `${(x / y).toFixed(2)}×` : '–');
      const ms = (x: number) => (Number.isFinite(x) ? fmtMs(x) : '–');
      const rows = [1, 64].flatMap((b) =>
        (Object.keys(kernels) as (keyof typeof kernels)[]).map((k) => [
          b,
          kernels[k],
          ms(med(`${k} ${b}`, 'ms')),
          ms(med(`${k} ${b}`, 'cpuMs')),
          ms(med(`torch ${b}`, 'ms')),
          ms(med(`torch ${b}`, 'cpuMs')),
          ratio(med(`${k} ${b}`, 'cpuMs'), med(`torch ${b}`, 'cpuMs')),
          ratio(med(`${k} ${b}`, 'cpuMs'), med(`tfjs ${b}`, 'cpuMs')),
        ]),
      );
      out.push(
        `Generator forward inside workerd (fast generator, WASM SIMD; its layers on the project's GanSubPixelConv or on XNNPACK, alternating; ${rounds} interleaved rounds with PyTorch; medians)\n\n` +
          table(
            [
              'batch',
              'layers on',
              'workerd ms (in the isolate)',
              'workerd CPU ms',
              `PyTorch ${opts.torchVersion ?? ''} 1 thread ms`,
              'PyTorch CPU ms',
              'CPU time vs PyTorch',
              'CPU time vs XNNPACK',
            ],
            rows,
          ),
      );
    } finally {
      await fwd.stop();
    }

    // Cold starts and render time of the real worker, then load.
    const state = await publishBenchModel(work);
    // Without the per-client rate limits: the load test is one client measuring capacity (with the
    // limits, all but the first few hundred requests a minute are 429 by design).
    const config = benchWranglerConfig(work);
    const devArgs = ['--config', config, '--persist-to', state];
    const cold: number[] = [];
    const coldServer: number[] = [];
    for (let i = 0; i < (opts.quick ? 2 : 3); i++) {
      const dev = await wranglerDev(devArgs);
      try {
        const t0 = performance.now();
        const res = await fetch(`${dev.url}/v1/models/${MODEL}/image.png?seed=cold-${i}`);
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`cold request: HTTP ${res.status}`);
        cold.push(performance.now() - t0);
        coldServer.push(serverTiming(res, 'total'));
      } finally {
        await dev.stop();
      }
    }
    const dev = await wranglerDev(devArgs);
    try {
      await fetch(`${dev.url}/v1/models/${MODEL}/image.png?seed=warm`).then((r) => r.arrayBuffer());
      const render: number[] = [];
      const client: number[] = [];
      for (let i = 0; i < (opts.quick ? 30 : 100); i++) {
        const t0 = performance.now();
        const res = await fetch(`${dev.url}/v1/models/${MODEL}/image.png?seed=render-${i}`);
        await res.arrayBuffer();
        client.push(performance.now() - t0);
        render.push(serverTiming(res, 'render'));
      }
      out.push(
        'Seeded requests, one at a time (worker on `wrangler dev`, local R2; render = latent + forward + PNG, from Server-Timing)\n\n' +
          table(
            ['measure', 'median ms', 'p99 ms'],
            [
              ['cold: fresh `wrangler dev` → first image (client)', fmtMs(median(cold)), '–'],
              ['cold: in-worker total of that request', fmtMs(median(coldServer)), '–'],
              ['warm request (client, distinct seeds)', fmtMs(median(client)), fmtMs(quantile(client, 0.99))],
              ['warm render (Server-Timing)', fmtMs(median(render)), fmtMs(quantile(render, 0.99))],
            ],
          ),
      );
      const seconds = opts.quick ? 5 : 10;
      const distinct = await load(dev.url, seconds, true);
      await fetch(`${dev.url}/v1/models/${MODEL}/image.png?seed=cached`).then((r) => r.arrayBuffer());
      const cached = await load(dev.url, seconds, false);
      out.push(
        `Load (autocannon, 4 connections, ${seconds} s each)\n\n` +
          table(
            ['requests', 'req/s', 'p50 ms', 'p99 ms', 'total', 'errors', 'status codes'],
            [
              [
                'distinct seeds (no cache)',
                distinct.rps.toFixed(0),
                distinct.p50,
                distinct.p99,
                distinct.requests,
                distinct.errors,
                distinct.statuses,
              ],
              [
                'one repeated seed (Cache API)',
                cached.rps.toFixed(0),
                cached.p50,
                cached.p99,
                cached.requests,
                cached.errors,
                cached.statuses,
              ],
            ],
          ),
      );
    } finally {
      await dev.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out.join('\n\n');
}
