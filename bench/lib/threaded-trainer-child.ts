/** Child side of threaded-trainer.ts: argv = threads, batch; messages { reps } → { ms }, { gemm } → { gflops }. */
import { selectBackend } from '@gan/trainer/backend';
import { timeAsync } from './stats.ts';
import { gemmGflops, trainer } from './train-iteration.ts';

const [threads, batch] = process.argv.slice(2).map(Number);
try {
  const selection = await selectBackend('wasm', { threads });
  const iteration = await trainer('wasm', batch);
  await iteration(); // warm-up: kernels compiled, buffers allocated
  process.on('message', async (m: { reps?: number; gemm?: true }) => {
    process.send!(m.gemm ? { gflops: gemmGflops() } : { ms: await timeAsync(iteration, m.reps!) });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ threads: selection.threads });
} catch (err) {
  process.send!({ error: (err as Error).message });
  process.exit(1);
}
