/**
 * The GEMM's buffers in the backend's memory, per part of a call (part 0 runs on the calling thread,
 * part i on helper thread i): the packing scratch (SCRATCH_BYTES, allocated on a part's first use and
 * kept as long as the backend) and a work buffer for convolutions (patches, transforms), grown as
 * needed and kept. Nothing is freed between calls: a training step makes thousands of them.
 */
import type { WasmBackendInternals } from './module-types.ts';

interface Part {
  scratch: number;
  work: { offset: number; bytes: number };
}

export class PartBuffers {
  private readonly parts: Part[];

  constructor(
    private readonly wasm: WasmBackendInternals['wasm'],
    private readonly scratchBytes: number,
    /** The calling thread's scratch, allocated with the module's instance. */
    callerScratch: number,
  ) {
    this.parts = [{ scratch: callerScratch, work: { offset: 0, bytes: 0 } }];
  }

  /** Part i's packing scratch. */
  scratch(i: number): number {
    return this.part(i).scratch;
  }

  /** Part i's work buffer of at least `bytes`. */
  work(i: number, bytes: number): number {
    const part = this.part(i);
    if (part.work.bytes < bytes) {
      if (part.work.bytes > 0) this.wasm._free(part.work.offset);
      part.work = { offset: this.wasm._malloc(bytes) >>> 0, bytes };
    }
    return part.work.offset;
  }

  private part(i: number): Part {
    while (this.parts.length <= i) this.parts.push({ scratch: this.wasm._malloc(this.scratchBytes) >>> 0, work: { offset: 0, bytes: 0 } });
    return this.parts[i];
  }
}
