/** Child side of threaded-trainer.ts: argv = threads, batch; each message { reps } → { ms }. */
import { selectBackend } from '../../trainer/src/backend.ts';
import { timeAsync } from './stats.ts';
import { trainer } from './train-iteration.ts';

const [threads, batch] = process.argv.slice(2).map(Number);
try {
  const selection = await selectBackend('wasm', { threads });
  const iteration = await trainer('wasm', batch);
  await iteration(); // warm-up: kernels compiled, buffers allocated
  process.on('message', async ({ reps }: { reps: number }) => {
    process.send!({ ms: await timeAsync(iteration, reps) });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ threads: selection.threads });
} catch (err) {
  process.send!({ error: (err as Error).message });
  process.exit(1);
}
