/**
 * Where a request's CPU goes inside workerd: V8's sampling profiler in the worker's isolate (through
 * wrangler's inspector) while one path is requested many times, summarised by function (self time)
 * and by function with everything it calls (inclusive time). The full profile is written for Chrome
 * DevTools (Performance panel, "Load profile").
 *
 *   node --experimental-websocket --import tsx bench/profile-request.ts [--path /v1/models/mnist/image.png]
 *     [--requests 3000] [--interval-us 50] [--out /tmp/request.cpuprofile] [--pause <file of pids>]
 *
 * The worker is built from wrangler.toml without its per-client rate limits (one client measuring,
 * not a visitor) and unminified, so that frames keep their names; it serves its embedded models
 * with an empty local R2, as a first deploy does. Sampling costs CPU itself: shares are what this is
 * for, not absolute times.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pauseJobsListedIn } from './lib/pause-jobs.ts';
import { benchWranglerConfig, startWranglerDev } from './lib/wrangler-dev.ts';

const { values: args } = parseArgs({
  options: {
    path: { type: 'string', default: '/v1/models/mnist/image.png' },
    requests: { type: 'string', default: '3000' },
    'interval-us': { type: 'string', default: '50' },
    out: { type: 'string', default: path.join(tmpdir(), 'request.cpuprofile') },
    pause: { type: 'string' },
  },
});

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

/** One inspector session: send a method, await its result. */
async function inspector(port: number) {
  const WS = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!WS) throw new Error('run with node --experimental-websocket (Node 20) or Node 22');
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl?: string }[];
  const target = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
  if (!target) throw new Error('the worker has no inspector target');
  // The inspector proxy wants an Origin on the loopback (Node's WebSocket takes headers as an extension).
  const ws = new WS(target, { headers: { Origin: 'http://localhost' } } as never);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let nextId = 1;
  const pending = new Map<number, (result: unknown) => void>();
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  };
  return {
    send: <T>(method: string, params: object = {}) =>
      new Promise<T>((resolve) => {
        const id = nextId++;
        pending.set(id, resolve as (result: unknown) => void);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** A frame: its function, and where in the bundle (one file: the worker's bundle, or a WASM module). */
function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.split('/').pop();
  return `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
}

function summarise(profile: Profile): { self: [string, number][]; inclusive: [string, number][]; total: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const id of profile.samples) {
    const name = frameName(byId.get(id)!);
    self.set(name, (self.get(name) ?? 0) + 1);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = frameName(byId.get(at)!);
      if (seen.has(n)) continue;
      seen.add(n);
      inclusive.set(n, (inclusive.get(n) ?? 0) + 1);
    }
  }
  const idle = self.get('(idle)') ?? 0;
  const sorted = (m: Map<string, number>) => [...m].filter(([n]) => n !== '(idle)' && n !== '(root)').sort((a, b) => b[1] - a[1]);
  return { self: sorted(self), inclusive: sorted(inclusive), total: profile.samples.length - idle };
}

const requests = Number(args.requests);
const port = 9300 + Math.floor(Math.random() * 300) * 2;
const work = mkdtempSync(path.join(tmpdir(), 'profile-request-'));
const config = benchWranglerConfig(work, { minify: false });
const resume = pauseJobsListedIn(args.pause);
const dev = await startWranglerDev(
  port,
  ['--config', config, '--persist-to', path.join(work, 'state'), '--inspector-port', String(port + 1), '--log-level', 'error'],
  { readyPath: '/healthz' },
);
try {
  const url = `${dev.url}${args.path}`;
  const first = await fetch(url);
  if (!first.ok) throw new Error(`GET ${args.path} answered ${first.status}: ${(await first.text()).slice(0, 300)}`);
  for (let i = 0; i < 200; i++) await (await fetch(url)).arrayBuffer(); // warm
  const session = await inspector(port + 1);
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: Number(args['interval-us']) });
  await session.send('Profiler.start');
  for (let i = 0; i < requests; i++) await (await fetch(url)).arrayBuffer();
  const { profile } = await session.send<{ profile: Profile }>('Profiler.stop');
  session.close();
  writeFileSync(args.out, JSON.stringify(profile));
  const { self, inclusive, total } = summarise(profile);
  const pct = (n: number) => `${((100 * n) / total).toFixed(1)} %`;
  const table = (rows: [string, number][]) => rows.map(([n, c]) => `| ${n.replaceAll('|', '\\|')} | ${pct(c)} |`).join('\n');
  console.log(`${requests} × GET ${args.path}: ${total} busy samples of the isolate's thread, every ${args['interval-us']} µs\n`);
  console.log(`Self time (top 25)\n\n| function | share |\n| --- | --- |\n${table(self.slice(0, 25))}\n`);
  const frames = inclusive.filter(([n]) => !n.startsWith('(') && !n.startsWith('js-to-wasm'));
  console.log(`Inclusive time (top 45)\n\n| function | share |\n| --- | --- |\n${table(frames.slice(0, 45))}\n`);
  console.log(`profile: ${args.out}`);
} finally {
  await dev.stop();
  resume();
}
