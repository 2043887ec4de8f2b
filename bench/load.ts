/**
 * Load and work-bound figures of RELIABILITY.md: the worker under `wrangler dev` (workerd, local R2,
 * loopback only), every phase bounded in time and request count.
 *
 *   node --experimental-websocket --import tsx bench/load.ts            (~4 min; --soak 0 skips the 60 s soak)
 *   node --experimental-websocket --import tsx bench/load.ts --quick    (~1.5 min, shorter phases)
 *   node --experimental-websocket --import tsx bench/load.ts --model models/emoji --model <another export>
 *     (instead of the phases below: what each exported generator costs to serve, side by side: cold
 *     start, the largest requests its image size allows, the WASM heap; ~2 min per model;
 *     `--reps 10`: distinct seeds per largest request, default 5)
 *   `--pause <file>` with any of these: the processes listed in the file (a pid first on each line;
 *     a training run, say) are paused while it measures and resumed when it ends
 *
 * (`--experimental-websocket` gives Node 20 the WebSocket used to read the isolate's V8 heap through
 * wrangler's inspector; Node 22 has it anyway. Without it, the V8 heap column says so.)
 *
 * Phases, each against generators of the reference architecture (32x32x3, width 64) in a local R2:
 *  1. the largest allowed requests, one at a time: render time (Server-Timing) and workerd CPU time;
 *  2. distinct seeds (no cache), mixed sizes;
 *  3. repeated seeds (Workers Cache API);
 *  4. mixed: images and grids, three models, current and pinned versions, with a memory budget that
 *     holds two generators of the three (LRU eviction on the way), while a checker fetches known
 *     URLs and compares bytes and X-Model-Version with those fetched before the load;
 *  5. a cold burst on a fresh `wrangler dev`: one load from R2, all served.
 * Memory is sampled every second: the WASM heap and tensors (/healthz), the V8 heap (inspector,
 * Runtime.getHeapUsage) and the workerd process's RSS (/proc).
 *
 * The rate limits of wrangler.toml would turn most of this into 429s (all requests come from one
 * address): the benchmark runs a copy of the configuration with limits it cannot reach.
 */
import autocannon from 'autocannon';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { REFERENCE_CONFIG } from '@gan/core';
import { fillLocalR2, readExportedModel } from '@gan/registry';
import { getPlatformProxy } from 'wrangler';
import { DIGITS_CLASSES, DIGITS_CONFIG, type WritableBucket, publishFixture } from '../tests/worker/fixtures.ts';
import { fmtMs, median, table } from './lib/stats.ts';
import { descendant, workerdCpuClock } from './lib/process-cpu.ts';
import { pauseJobsListedIn } from './lib/pause-jobs.ts';
import { largestGrid, largestRequests } from './lib/work-bounds.ts';
import { startWranglerDev } from './lib/wrangler-dev.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'string' },
    model: { type: 'string', multiple: true },
    /** Distinct seeds per largest request with --model (default 5; 3 with --quick). */
    reps: { type: 'string' },
    /** A file of pids (one first on each line) to pause while measuring: a training run, say. */
    pause: { type: 'string' },
  },
});
// Resumed however the bench ends (pause-jobs.ts).
pauseJobsListedIn(args.pause);
const PHASE_S = args.quick ? 6 : 15;
/** A longer phase of distinct seeds, images and grids, to see memory settle (0: none). */
const SOAK_S = Number(args.soak ?? (args.quick ? 0 : 60));
const MAX_REQUESTS = 20_000; // per phase, whatever the duration
const CONNECTIONS = 4;

// -------------------------------------------------------------------------------------------------
// wrangler dev

/** wrangler.toml with an absolute entry point and rate limits the benchmark cannot reach. */
function benchConfig(work: string): string {
  const text = readFileSync(join(root, 'wrangler.toml'), 'utf8')
    .replace(/^main = "(.*)"$/m, (_, main: string) => `main = "${join(root, main)}"`)
    .replace(/simple = \{ limit = \d+/g, 'simple = { limit = 100000000');
  const path = join(work, 'wrangler.toml');
  writeFileSync(path, text);
  return path;
}

interface Dev {
  url: string;
  inspectorPort: number;
  stop(): Promise<void>;
  workerdPid(): number | undefined;
  /** CPU ms used so far by the worker's own workerd, all threads (NaN where /proc cannot tell). */
  workerdCpuMs(): number;
}

let nextPort = 9100 + Math.floor(Math.random() * 400) * 2;

async function wranglerDev(config: string, state: string, vars: Record<string, string> = {}): Promise<Dev> {
  const port = nextPort;
  const inspectorPort = nextPort + 1;
  nextPort += 2;
  const varArgs = Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  const dev = await startWranglerDev(port, [
    '--config',
    config,
    '--persist-to',
    state,
    '--inspector-port',
    String(inspectorPort),
    '--log-level',
    'error',
    ...varArgs,
  ]);
  // wrangler runs two workerd processes: its proxy, and the worker's own (the one with an inspector).
  const clock = workerdCpuClock(dev.child.pid!);
  return {
    url: dev.url,
    inspectorPort,
    stop: dev.stop,
    workerdPid: () => descendant(dev.child.pid!, 'workerd', 'inspector-addr'),
    workerdCpuMs: () => clock?.() ?? Number.NaN,
  };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * The worker isolate's live V8 heap through wrangler's inspector proxy: a full GC
 * (HeapProfiler.collectGarbage), then Runtime.getHeapUsage, so garbage not yet collected does not
 * read as growth.
 */
async function v8HeapMb(inspectorPort: number): Promise<number | undefined> {
  const WS = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!WS) return undefined;
  try {
    const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as { webSocketDebuggerUrl?: string }[];
    const target = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
    if (!target) return undefined;
    // The inspector proxy wants an Origin on the loopback (Node's WebSocket takes headers as an extension).
    const ws = new WS(target, { headers: { Origin: 'http://localhost' } } as never);
    return await new Promise<number | undefined>((resolve) => {
      const timer = setTimeout(() => (ws.close(), resolve(undefined)), 3000);
      ws.onopen = () => {
        ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
        ws.send(JSON.stringify({ id: 2, method: 'Runtime.getHeapUsage' }));
      };
      ws.onmessage = (event) => {
        const message = JSON.parse(String(event.data)) as { id?: number; result?: { usedSize: number; backingStorageSize?: number } };
        if (message.id !== 2) return;
        clearTimeout(timer);
        ws.close();
        // The JS heap and the ArrayBuffers it holds (the WASM heap is counted on its own, from /healthz).
        resolve(message.result ? (message.result.usedSize + (message.result.backingStorageSize ?? 0)) / 2 ** 20 : undefined);
      };
      ws.onerror = () => (clearTimeout(timer), resolve(undefined));
    });
  } catch {
    return undefined;
  }
}

interface Health {
  versions: string[];
  memory: { modelBytes: number; tensors: number; tensorBytes: number; wasmHeapBytes: number | null };
  r2Reads: { pointer: number; manifest: number; files: number };
}
const health = async (dev: Dev) => (await (await fetch(`${dev.url}/healthz`)).json()) as Health;

interface MemorySample {
  wasmMb: number;
  tensors: number;
  v8Mb?: number;
  rssMb: number;
}

/** Samples memory every second until stopped. */
function sampleMemory(dev: Dev) {
  const samples: MemorySample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const h = await health(dev);
        const pid = dev.workerdPid();
        samples.push({
          wasmMb: (h.memory.wasmHeapBytes ?? NaN) / 2 ** 20,
          tensors: h.memory.tensors,
          v8Mb: await v8HeapMb(dev.inspectorPort),
          rssMb: pid ? rssMb(pid) : NaN,
        });
      } catch {}
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

const mb = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(1));

function memorySummary(samples: MemorySample[]): string[] {
  if (samples.length === 0) return ['–', '–', '–', '–'];
  const first = samples[0];
  const last = samples.at(-1)!;
  const max = (f: (s: MemorySample) => number | undefined) => Math.max(...samples.map((s) => f(s) ?? NaN).filter((x) => !Number.isNaN(x)));
  const v8 = samples.some((s) => s.v8Mb !== undefined)
    ? `${mb(first.v8Mb)} → ${mb(last.v8Mb)} (max ${mb(max((s) => s.v8Mb))})`
    : 'not read';
  return [
    `${mb(first.wasmMb)} → ${mb(last.wasmMb)}`,
    v8,
    `${mb(first.rssMb)} → ${mb(last.rssMb)} (max ${mb(max((s) => s.rssMb))})`,
    `${first.tensors} → ${last.tensors}`,
  ];
}

// -------------------------------------------------------------------------------------------------
// Load phases

interface Phase {
  name: string;
  requests: number;
  non2xx: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  memory: string[];
}

async function phase(dev: Dev, name: string, nextPath: () => string, seconds = PHASE_S): Promise<Phase> {
  const memory = sampleMemory(dev);
  const result = await autocannon({
    url: dev.url,
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 30,
    maxOverallRequests: MAX_REQUESTS,
    requests: [{ method: 'GET', setupRequest: (req: Record<string, unknown>) => ({ ...req, path: nextPath() }) }],
  });
  const samples = await memory.stop();
  return {
    name,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    memory: memorySummary(samples),
  };
}

const sha = (bytes: ArrayBuffer) => createHash('sha256').update(new Uint8Array(bytes)).digest('hex');

/** Fetches known URLs over and over during a load, comparing bytes and version with a reference. */
function checker(dev: Dev, reference: Map<string, { sha: string; version: string }>) {
  let running = true;
  const result = { checked: 0, wrongBytes: 0, wrongVersion: 0, failed: 0 };
  const paths = [...reference.keys()];
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const path = paths[i % paths.length];
      const response = await fetch(`${dev.url}${path}`);
      const bytes = await response.arrayBuffer();
      result.checked++;
      if (response.status !== 200) result.failed++;
      else if (sha(bytes) !== reference.get(path)!.sha) result.wrongBytes++;
      if (response.headers.get('X-Model-Version') !== reference.get(path)!.version) result.wrongVersion++;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return result;
    },
  };
}

// -------------------------------------------------------------------------------------------------
// Requests one at a time: render time and the worker's CPU

const WORKERD_CPU =
  "CPU time of the worker's own workerd process (all threads, /proc/<pid>/task/*/schedstat) over the request, its Cache API put included";
const ONE_AT_A_TIME_COLUMNS = [
  'request',
  'status',
  'KiB',
  'render median ms',
  'render max ms',
  'workerd CPU median ms',
  'workerd CPU max ms',
];

const serverTiming = (response: Response, name: string) =>
  Number(new RegExp(`${name};dur=([\\d.]+)`).exec(response.headers.get('Server-Timing') ?? '')?.[1] ?? Number.NaN);

/** Each path `reps` times with distinct seeds (`seed=b` or `from=b` → `b0`, `b1`, …), one request at a time. */
async function oneAtATime(dev: Dev, cases: [label: string, path: string][], reps: number): Promise<(string | number)[][]> {
  const rows: (string | number)[][] = [];
  for (const [label, path] of cases) {
    const render: number[] = [];
    const cpu: number[] = [];
    let status: number | string = 0;
    let bytes = 0;
    for (let i = 0; i < reps; i++) {
      const before = dev.workerdCpuMs();
      const url = `${dev.url}${path.replace(/\b(seed|from)=b(?=&|$)/, `$1=b${i}`)}`;
      try {
        const response = await fetch(url);
        bytes = (await response.arrayBuffer()).byteLength;
        status = response.status;
        render.push(serverTiming(response, 'render'));
      } catch (error) {
        // A dropped connection (the isolate killed mid-request) is a row of its own, not the end of the run.
        status = `no answer (${(error as { cause?: { code?: string } }).cause?.code ?? String(error)}) at b${i}`;
        console.error(`${label}: ${status}`);
        await new Promise((r) => setTimeout(r, 2000));
        break;
      }
      await new Promise((r) => setTimeout(r, 30)); // let the Cache API put finish inside the sample
      cpu.push(dev.workerdCpuMs() - before);
    }
    const ok = status === 200;
    rows.push([
      label,
      status,
      (bytes / 1024).toFixed(0),
      ok ? fmtMs(median(render)) : '–',
      ok ? fmtMs(Math.max(...render)) : '–',
      fmtMs(median(cpu)),
      fmtMs(Math.max(...cpu)),
    ]);
  }
  return rows;
}

/**
 * The largest requests the work bounds allow a model of this image size (they scale with it: 256
 * images of 32 px, 64 of 64 px), and the first one over the generator bound.
 */
function boundCases(name: string, imageSize: number): [string, string][] {
  const { side } = largestGrid(imageSize);
  const base = `/v1/models/${name}`;
  return [
    ...largestRequests(imageSize).map((r): [string, string] => [`${r.route} ${r.label}`, `${base}/${r.route}?${r.query}`]),
    [
      `grid.png ${side}x${side + 1}, ${imageSize} px (over the generator bound: 400)`,
      `${base}/grid.png?seed=b&rows=${side}&cols=${side + 1}&size=${imageSize}`,
    ],
  ];
}

/**
 * `--model <export dir>`, repeatable: what each exported generator costs to serve, from a local R2
 * of its own: cold start (fresh `wrangler dev` → first image: backend start, model read from R2 and
 * checksummed, folded, rendered), the WASM heap after it, the largest requests its size allows, and
 * the WASM heap after those.
 */
async function exportedModels(dirs: string[], work: string, config: string): Promise<string[]> {
  const coldStarts = args.quick ? 2 : 3;
  const reps = Number(args.reps ?? (args.quick ? 3 : 5));
  const coldRows: (string | number)[][] = [];
  const out: string[] = [];
  for (const dir of dirs) {
    const { manifest } = await readExportedModel(dir);
    const models = join(work, manifest.name, 'models');
    cpSync(dir, join(models, manifest.name), { recursive: true });
    const state = join(work, manifest.name, 'state');
    await fillLocalR2({ modelsDir: models, configPath: config, persistTo: state, log: () => {} });
    const client: number[] = [];
    const inWorker: number[] = [];
    const cpu: number[] = [];
    const heapFirst: number[] = [];
    let modelBytes = Number.NaN;
    let heapAfterLargest = Number.NaN;
    let rows: (string | number)[][] = [];
    for (let i = 0; i < coldStarts; i++) {
      const dev = await wranglerDev(config, state);
      try {
        const c0 = dev.workerdCpuMs();
        const t0 = performance.now();
        const response = await fetch(`${dev.url}/v1/models/${manifest.name}/image.png?seed=cold-${i}`);
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`${manifest.name}: cold request answered HTTP ${response.status}`);
        client.push(performance.now() - t0);
        cpu.push(dev.workerdCpuMs() - c0);
        inWorker.push(serverTiming(response, 'total'));
        const { memory } = await health(dev);
        heapFirst.push(memory.wasmHeapBytes ?? Number.NaN);
        modelBytes = memory.modelBytes;
        if (i === coldStarts - 1) {
          rows = await oneAtATime(dev, boundCases(manifest.name, manifest.imageSize), reps);
          heapAfterLargest = await health(dev).then(
            (h) => h.memory.wasmHeapBytes ?? Number.NaN,
            () => Number.NaN, // the isolate did not survive the largest requests: the rows say which
          );
        }
      } finally {
        await dev.stop();
      }
    }
    const id = `${manifest.name} (${manifest.imageSize} px)`;
    coldRows.push([
      id,
      fmtMs(median(client)),
      fmtMs(median(inWorker)),
      fmtMs(median(cpu)),
      mb(modelBytes / 2 ** 20),
      mb(median(heapFirst) / 2 ** 20),
      mb(heapAfterLargest / 2 ** 20),
    ]);
    const section =
      `## ${id}: the largest requests its work bounds allow, one at a time (${reps} distinct seeds each; load average ${load()})\n\n` +
      `render = Server-Timing (latent + forward + resize + encoding, wall clock inside the isolate); workerd CPU = ${WORKERD_CPU}\n\n` +
      table(ONE_AT_A_TIME_COLUMNS, rows);
    console.error(section); // as it comes: a later model's failure loses nothing
    out.push(section);
  }
  out.unshift(
    `## Cold start and WASM heap (${coldStarts} fresh \`wrangler dev\` each, medians)\n\n` +
      table(
        [
          'model',
          'cold: fresh wrangler dev → first image, client ms',
          'cold: in-worker total ms (Server-Timing)',
          'cold: workerd CPU ms',
          'generator in memory MB',
          'WASM heap after the first image MB',
          'WASM heap after the largest requests MB',
        ],
        coldRows,
      ),
  );
  return out;
}

// -------------------------------------------------------------------------------------------------

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'gan-edge-load-'));
  const config = benchConfig(work);
  const state = join(work, 'state');
  const out: string[] = [];
  out.push(`# Reliability figures — ${new Date().toISOString()}`);
  out.push(`${cpus().length}× ${cpus()[0]?.model}, Node ${process.version}; load average at start: ${load()}`);
  if (args.model) {
    out.push(...(await exportedModels(args.model, work, config)));
    out.push(`load average at the end: ${load()}`);
    rmSync(work, { recursive: true, force: true });
    console.log(out.join('\n\n'));
    return;
  }

  // Generators of the reference architecture (random weights: speed and memory do not depend on them).
  const proxy = await getPlatformProxy<{ MODELS_BUCKET: WritableBucket }>({ configPath: config, persist: { path: join(state, 'v3') } });
  const files: Record<string, number> = {};
  try {
    const bucket = proxy.env.MODELS_BUCKET;
    const big = { config: REFERENCE_CONFIG, shardBytes: 4 << 20 };
    files.ref = (await publishFixture(bucket, { name: 'ref', version: 'v1', ...big, makeCurrent: false })).files.size;
    await publishFixture(bucket, { name: 'ref', version: 'v2', ...big });
    await publishFixture(bucket, { name: 'other', version: 'v1', ...big });
    files.cold = (await publishFixture(bucket, { name: 'cold', version: 'v1', ...big })).files.size;
    await publishFixture(bucket, { name: 'digits', version: 'v1', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
  } finally {
    await proxy.dispose();
  }

  // 1. The largest allowed requests, one at a time.
  {
    const dev = await wranglerDev(config, state);
    try {
      await (await fetch(`${dev.url}/v1/models/ref/image.png?seed=warm`)).arrayBuffer();
      const cases: [string, string][] = [
        ['image.png, native 32 px', '/v1/models/ref/image.png?seed=b'],
        ['image.png, size=512 (largest image)', '/v1/models/ref/image.png?seed=b&size=512'],
        ['grid.png 4x4, 32 px (the page)', '/v1/models/ref/grid.png?seed=b&rows=4&cols=4&size=32'],
        ['grid.png 16x16, 32 px (most images)', '/v1/models/ref/grid.png?seed=b&rows=16&cols=16&size=32'],
        ['grid.png 16x16, 64 px, padding 0 (most images, 1024x1024)', '/v1/models/ref/grid.png?seed=b&rows=16&cols=16&size=64&padding=0'],
        ['grid.png 2x2, 512 px, padding 0 (1024x1024, few images)', '/v1/models/ref/grid.png?seed=b&rows=2&cols=2&size=512&padding=0'],
        ['grid.png 16x16, 126 px (refused: 400)', '/v1/models/ref/grid.png?seed=b&rows=16&cols=16&size=126'],
      ];
      const reps = args.quick ? 3 : 5;
      const rows = await oneAtATime(dev, cases, reps);
      out.push(
        `## Work bounds: the largest allowed requests, one at a time (reference generator; ${reps} distinct seeds each; load average ${load()})\n\n` +
          `render = Server-Timing (latent + forward + resize + PNG, wall clock inside the isolate); workerd CPU = ${WORKERD_CPU}\n\n` +
          table(ONE_AT_A_TIME_COLUMNS, rows),
      );

      // 2 and 3: distinct and repeated seeds.
      let i = 0;
      const sizes = [32, 64, 128];
      const distinct = await phase(
        dev,
        'distinct seeds, image.png, sizes 32/64/128',
        () => `/v1/models/ref/image.png?seed=d${i}&size=${sizes[i++ % 3]}`,
      );
      for (let s = 0; s < 8; s++) await (await fetch(`${dev.url}/v1/models/ref/image.png?seed=r${s}`)).arrayBuffer();
      let j = 0;
      const repeated = await phase(dev, 'repeated seeds (8), image.png: Cache API', () => `/v1/models/ref/image.png?seed=r${j++ % 8}`);
      const phases = [distinct, repeated];
      if (SOAK_S > 0) {
        const shapes = [
          'image.png?size=32',
          'image.png?size=256',
          'grid.png?rows=4&cols=4&size=32',
          'image.png?size=64',
          'grid.png?rows=8&cols=8&size=48',
        ];
        let k = 0;
        phases.push(
          await phase(
            dev,
            `soak, ${SOAK_S} s: distinct seeds, images 32–256 px and grids up to 8x8`,
            () => {
              const [path, q] = shapes[k % shapes.length].split('?');
              return `/v1/models/ref/${path}?${q}&seed=soak${k++}`;
            },
            SOAK_S,
          ),
        );
      }
      out.push(phaseTable('One model', phases));
    } finally {
      await dev.stop();
    }
  }

  // 4. Mixed: several models and pinned versions, a budget that holds two of the three generators.
  {
    const probe = await wranglerDev(config, state);
    let perModel = 0;
    try {
      await (await fetch(`${probe.url}/v1/models/ref/image.png?seed=x`)).arrayBuffer();
      perModel = (await health(probe)).memory.modelBytes;
    } finally {
      await probe.stop();
    }
    const budgetMb = ((2.5 * perModel) / 2 ** 20).toFixed(1);
    const dev = await wranglerDev(config, state, { MODEL_MEMORY_BUDGET_MB: budgetMb });
    try {
      const known = [
        '/v1/models/ref/image.png?seed=check-a',
        '/v1/models/ref@v1/image.png?seed=check-a',
        '/v1/models/ref@v2/grid.png?seed=check-b&rows=2&cols=3',
        '/v1/models/other/image.png?seed=check-a&size=64',
        '/v1/models/other@v1/grid.png?seed=check-c&rows=3&cols=2&size=48&filter=nearest',
        '/v1/models/digits/grid.png?seed=check-d&class=each',
      ];
      const reference = new Map<string, { sha: string; version: string }>();
      for (const path of known) {
        const response = await fetch(`${dev.url}${path}`);
        if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
        reference.set(path, { sha: sha(await response.arrayBuffer()), version: response.headers.get('X-Model-Version')! });
      }
      const models = ['ref', 'ref@v1', 'ref@v2', 'other', 'other@v1', 'digits'];
      const shapes = [
        'image.png?size=32',
        'image.png?size=96',
        'grid.png?rows=2&cols=2&size=32',
        'grid.png?rows=4&cols=4&size=32',
        'grid.png?rows=3&cols=5&size=48&padding=4',
      ];
      let k = 0;
      const check = checker(dev, reference);
      const mixed = await phase(dev, `mixed: 3 models, current + pinned, images and grids; budget ${budgetMb} MB (2.5 generators)`, () => {
        const n = k++;
        const [path, q] = shapes[n % shapes.length].split('?');
        return `/v1/models/${models[(n >> 1) % models.length]}/${path}?${q}&seed=m${n}`;
      });
      const checked = await check.stop();
      const h = await health(dev);
      out.push(phaseTable('Several models and pinned versions at once (LRU eviction)', [mixed]));
      out.push(
        `Checker during the mixed phase: ${checked.checked} fetches of ${known.length} known URLs; wrong bytes ${checked.wrongBytes}, wrong X-Model-Version ${checked.wrongVersion}, failed ${checked.failed}. ` +
          `After the phase: loaded ${h.versions.join(', ')}; generators ${(h.memory.modelBytes / 2 ** 20).toFixed(1)} MB of ${budgetMb} MB; R2 file reads ${h.r2Reads.files} (each load reads ${files.ref} files: ${(h.r2Reads.files / files.ref).toFixed(0)} loads, i.e. evictions and reloads).`,
      );
    } finally {
      await dev.stop();
    }
  }

  // 5. A cold burst.
  {
    const dev = await wranglerDev(config, state);
    try {
      const t0 = performance.now();
      const responses = await Promise.all(Array.from({ length: 32 }, (_, i) => fetch(`${dev.url}/v1/models/cold/image.png?seed=c${i}`)));
      const statuses = await Promise.all(responses.map(async (r) => (await r.arrayBuffer(), r.status)));
      const ms = performance.now() - t0;
      const h = await health(dev);
      out.push(
        `## Cold burst\n\n32 concurrent requests for a model not yet loaded, on a fresh \`wrangler dev\`: ${statuses.filter((s) => s === 200).length}/32 served (200) in ${fmtMs(ms)} ms; ` +
          `R2 reads: ${h.r2Reads.manifest} manifest, ${h.r2Reads.files} files (the version has ${files.cold}): ${h.r2Reads.files === files.cold ? 'one load' : 'MORE THAN ONE LOAD'}.`,
      );
    } finally {
      await dev.stop();
    }
  }
  out.push(`load average at the end: ${load()}`);
  rmSync(work, { recursive: true, force: true });
  console.log(out.join('\n\n'));
}

function phaseTable(title: string, phases: Phase[]): string {
  return (
    `## ${title} (autocannon, ${CONNECTIONS} connections, ${PHASE_S} s (unless stated) or ${MAX_REQUESTS} requests per phase)\n\n` +
    table(
      [
        'phase',
        'requests',
        'non-2xx',
        'errors',
        'req/s',
        'p50 ms',
        'p99 ms',
        'WASM heap MB',
        'V8 heap after GC MB',
        'workerd RSS MB',
        'tensors',
      ],
      phases.map((p) => [p.name, p.requests, p.non2xx, p.errors, p.rps.toFixed(1), p.p50, p.p99, ...p.memory]),
    )
  );
}

await main();
