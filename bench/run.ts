/**
 * `npm run bench`: prints the performance figures of BENCHMARKS.md (Markdown tables).
 *
 *   npm run bench                       forward + training (+ worker when built)
 *   npm run bench -- --only forward     one section: forward | train | worker
 *   npm run bench -- --quick            fewer rounds (rough figures, ~3 min)
 *   npm run bench -- --cpu              also pure JS (slow: seconds per batch-64 forward)
 *   npm run bench -- --no-pytorch       skip the PyTorch reference
 *
 * Speed is measured here only; tests assert correctness, not timings. Figures on a shared machine
 * drift: contenders run in interleaved rounds so drift hits all of them alike.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { benchForward, setPyTorchVersion } from './forward.ts';
import { PyTorch } from './lib/pytorch.ts';
import { benchTrain } from './train.ts';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    cpu: { type: 'boolean', default: false },
    'no-pytorch': { type: 'boolean', default: false },
  },
});
const sections = args.only ? args.only.split(',') : ['forward', 'train', 'worker'];

tf.env().set('PROD', true);
await tf.setBackend('wasm');
console.log(`# gan-edge benchmarks — ${new Date().toISOString()}`);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
console.log(
  `${cpus().length}× ${cpus()[0]?.model}, Node ${process.version}, tfjs ${tf.version_core}, WASM SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')}`,
);
console.log(`load average at start: ${load()} (other work on these cores slows every contender; rounds are interleaved)\n`);

let py: PyTorch | undefined;
let torchVersion = '';
if (!args['no-pytorch']) {
  const started = await PyTorch.start();
  if (typeof started === 'string') console.log(`(PyTorch reference skipped: ${started})\n`);
  else {
    py = started;
    const info = await py.send<{ torch: string; blas: boolean }>({ cmd: 'info' });
    torchVersion = info.torch.replace(/a0$/, '');
    setPyTorchVersion(torchVersion);
  }
}

try {
  if (sections.includes('forward')) {
    const { text } = await benchForward({ py, quick: args.quick, cpu: args.cpu });
    console.log(`## Generator forward\n\n${text}\n`);
  }
  if (sections.includes('train')) {
    const { text } = await benchTrain({ py, quick: args.quick, cpu: args.cpu, torchVersion });
    console.log(`## Training\n\n${text}\n`);
  }
  if (sections.includes('worker')) {
    const { benchWorker } = await import('./worker.ts');
    console.log(`## Worker\n\n${await benchWorker({ quick: args.quick, py, torchVersion })}\n`);
  }
} catch (error) {
  // Reported here: an uncaught error would go through the WASM glue's handler, which prints its source.
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  py?.close();
  console.log(`load average at end: ${load()}`);
}
