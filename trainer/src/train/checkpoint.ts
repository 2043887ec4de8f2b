/**
 * Checkpoints: everything a run needs to continue bit-for-bit — both networks' weights (batch-norm
 * statistics included), both Adam states, the step, the noise generator's state and the data cursor.
 *
 *   <run>/checkpoints/step-000120/tensors.bin   float32 values, back to back
 *   <run>/checkpoints/step-000120/state.json    step, config, options, RNG state, tensor table, sha256 of tensors.bin
 *   <run>/checkpoints/index.json                newest first: directory, step, sha256 of both files
 *
 * A checkpoint is written into a temporary directory and renamed into place, then the index is
 * replaced by rename: a crash leaves either the old or the new checkpoint, never half of one. The
 * previous checkpoint is kept; loading verifies sha256 sums and falls back to it when the newest is
 * corrupt or truncated.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ModelConfigSchema } from '@gan/core/config';
import { writeDirectoryAtomically, writeFileAtomically } from '../atomic-write.ts';

export const CHECKPOINT_FORMAT = 1;
const KEEP = 2;

export const TensorEntrySchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  /** Offset in float32 values from the start of tensors.bin. */
  offset: z.number().int().nonnegative(),
});

export const CheckpointStateSchema = z.object({
  format: z.literal(CHECKPOINT_FORMAT),
  step: z.number().int().nonnegative(),
  config: ModelConfigSchema,
  /** The run's fixed settings (data set, batch size, seed, learning rates...), as the trainer wrote them. */
  settings: z.record(z.string(), z.unknown()),
  /** sfc32 state of the noise stream after `step`. */
  noiseRng: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  /** Where the data order stands after `step`. */
  data: z.object({ epoch: z.number().int().nonnegative(), position: z.number().int().nonnegative() }),
  /** Seconds of training so far (for throughput over resumes). */
  seconds: z.number().nonnegative(),
  tensors: z.array(TensorEntrySchema),
  tensorsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
});
export type CheckpointState = z.infer<typeof CheckpointStateSchema>;

const IndexSchema = z.object({
  checkpoints: z.array(z.object({ dir: z.string(), step: z.number().int(), sha256: z.record(z.string(), z.string()) })),
});

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint {
  dir: string;
  state: CheckpointState;
  tensors: Map<string, NamedArray>;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
export const checkpointDirName = (step: number) => `step-${String(step).padStart(6, '0')}`;

export type CheckpointInput = Omit<CheckpointState, 'format' | 'tensors' | 'tensorsSha256' | 'createdAt'> & { tensors: NamedArray[] };

/** Writes a checkpoint atomically and makes it the newest; keeps the previous one, removes older ones. */
export async function saveCheckpoint(runDir: string, input: CheckpointInput): Promise<string> {
  const root = path.join(runDir, 'checkpoints');
  await mkdir(root, { recursive: true });
  const total = input.tensors.reduce((s, t) => s + t.data.length, 0);
  const values = new Float32Array(total);
  const table: CheckpointState['tensors'] = [];
  let offset = 0;
  for (const t of input.tensors) {
    values.set(t.data, offset);
    table.push({ name: t.name, shape: t.shape, offset });
    offset += t.data.length;
  }
  const tensorBytes = new Uint8Array(values.buffer);
  const { tensors: _omit, ...rest } = input;
  const state: CheckpointState = {
    format: CHECKPOINT_FORMAT,
    ...rest,
    tensors: table,
    tensorsSha256: sha256(tensorBytes),
    createdAt: new Date().toISOString(),
  };
  const stateBytes = new TextEncoder().encode(JSON.stringify(state));

  const name = checkpointDirName(input.step);
  const final = path.join(root, name);
  await writeDirectoryAtomically(
    final,
    [
      ['tensors.bin', tensorBytes],
      ['state.json', stateBytes],
    ],
    { durable: true },
  );

  const previous = (await readIndex(root))?.checkpoints.filter((c) => c.dir !== name) ?? [];
  const index = {
    checkpoints: [
      { dir: name, step: input.step, sha256: { 'tensors.bin': state.tensorsSha256, 'state.json': sha256(stateBytes) } },
      ...previous,
    ].slice(0, KEEP),
  };
  await writeFileAtomically(path.join(root, 'index.json'), JSON.stringify(index, null, 1), { durable: true });

  const keep = new Set(index.checkpoints.map((c) => c.dir));
  for (const entry of await readdir(root)) {
    if (/^step-\d+$/.test(entry) && !keep.has(entry)) await rm(path.join(root, entry), { recursive: true, force: true });
  }
  return final;
}

async function readIndex(root: string) {
  try {
    return IndexSchema.parse(JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8')));
  } catch {
    return undefined;
  }
}

/** Reads and verifies one checkpoint directory; throws CheckpointError when anything is off. */
export async function readCheckpoint(dir: string, expectedSha?: Record<string, string>): Promise<Checkpoint> {
  let stateBytes: Uint8Array;
  let tensorBytes: Uint8Array;
  try {
    stateBytes = new Uint8Array(await readFile(path.join(dir, 'state.json')));
    tensorBytes = new Uint8Array(await readFile(path.join(dir, 'tensors.bin')));
  } catch {
    throw new CheckpointError(`${dir} is incomplete`);
  }
  if (expectedSha?.['state.json'] && sha256(stateBytes) !== expectedSha['state.json'])
    throw new CheckpointError(`${dir}/state.json is corrupt`);
  let state: CheckpointState;
  try {
    state = CheckpointStateSchema.parse(JSON.parse(new TextDecoder().decode(stateBytes)));
  } catch {
    throw new CheckpointError(`${dir}/state.json is unreadable`);
  }
  if (sha256(tensorBytes) !== state.tensorsSha256) throw new CheckpointError(`${dir}/tensors.bin is corrupt or truncated`);
  if (tensorBytes.byteLength % 4 !== 0) throw new CheckpointError(`${dir}/tensors.bin has a partial value`);
  const values = new Float32Array(tensorBytes.buffer, tensorBytes.byteOffset, tensorBytes.byteLength / 4);
  const tensors = new Map<string, NamedArray>();
  for (const t of state.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + size > values.length) throw new CheckpointError(`${dir}: tensor ${t.name} runs past the end of tensors.bin`);
    tensors.set(t.name, { name: t.name, shape: t.shape, data: values.slice(t.offset, t.offset + size) });
  }
  return { dir, state, tensors };
}

export interface LoadResult {
  checkpoint?: Checkpoint;
  /** Checkpoints that were skipped, and why (newest first). */
  rejected: { dir: string; reason: string }[];
}

/**
 * The newest checkpoint of a run that verifies. Tries the index's entries newest first; if the index
 * itself is missing or unreadable, every step-* directory, newest first.
 */
export async function loadLatestCheckpoint(runDir: string): Promise<LoadResult> {
  const root = path.join(runDir, 'checkpoints');
  const rejected: LoadResult['rejected'] = [];
  if (!existsSync(root)) return { rejected };
  const index = await readIndex(root);
  const candidates = index
    ? index.checkpoints.map((c) => ({ dir: path.join(root, c.dir), sha: c.sha256 }))
    : (await readdir(root))
        .filter((d) => /^step-\d+$/.test(d))
        .sort()
        .reverse()
        .map((d) => ({ dir: path.join(root, d), sha: undefined }));
  for (const c of candidates) {
    try {
      return { checkpoint: await readCheckpoint(c.dir, c.sha), rejected };
    } catch (err) {
      rejected.push({ dir: c.dir, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { rejected };
}
