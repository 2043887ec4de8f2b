/**
 * Which version `models/<name>/current.json` names, trusted for a short TTL so a new publish is
 * picked up without a deploy (a pinned `name@version` never reads it).
 *
 * - Its absence is remembered for the same TTL, so a mistyped model name embedded in a busy page does
 *   not cost an R2 read per visitor.
 * - If it becomes unreadable, the last version read keeps serving until it is readable again.
 * - Concurrent reads of one name share one R2 call.
 */
import { CurrentPointerSchema } from '@gan/registry/layout';
import { ModelNotFoundError, ModelUnavailableError } from '../errors.ts';
import { InFlight } from './in-flight.ts';
import { asUnavailable } from './unavailable.ts';

/** Unknown model names remembered at most (each for the pointer TTL). */
export const MAX_ABSENT_NAMES = 1024;

interface PointerEntry {
  version: string;
  expires: number;
}

export interface CurrentPointersOptions {
  /** current.json's text, `undefined` when there is none. */
  read: (name: string) => Promise<string | undefined>;
  /** How long a read (or an absence) is trusted. */
  ttlMs: number;
  now: () => number;
}

export class CurrentPointers {
  private readonly pointers = new Map<string, PointerEntry>();
  /** Names without current.json, until when that is trusted; the first entry is the oldest. */
  private readonly absent = new Map<string, number>();
  private readonly reads = new InFlight<string>();

  constructor(private readonly options: CurrentPointersOptions) {}

  /** The version current.json names. ModelNotFoundError when there is none, 503 when it cannot be read. */
  async version(name: string): Promise<string> {
    const { now } = this.options;
    const cached = this.pointers.get(name);
    if (cached && cached.expires > now()) return cached.version;
    if (this.knownAbsent(name)) throw new ModelNotFoundError(name);
    return this.reads.run(name, () => this.read(name, cached));
  }

  /**
   * Whether the last read found no current.json for `name`, within the TTL: callers with an answer
   * for that case (the embedded version) ask first, so that serving it does not build an error (a
   * stack trace) on every request.
   */
  knownAbsent(name: string): boolean {
    return (this.absent.get(name) ?? 0) > this.options.now();
  }

  private async read(name: string, stale: PointerEntry | undefined): Promise<string> {
    const { now, ttlMs } = this.options;
    try {
      const text = await this.options.read(name);
      if (text === undefined) {
        this.pointers.delete(name);
        this.absent.delete(name); // re-inserted last: the map's first entry is the oldest
        this.absent.set(name, now() + ttlMs);
        if (this.absent.size > MAX_ABSENT_NAMES) this.absent.delete(this.absent.keys().next().value!);
        throw new ModelNotFoundError(name);
      }
      this.absent.delete(name);
      const pointer = CurrentPointerSchema.safeParse(parseJson(text));
      if (!pointer.success) throw new ModelUnavailableError(name, 'current.json is not a valid version pointer');
      this.pointers.set(name, { version: pointer.data.version, expires: now() + ttlMs });
      return pointer.data.version;
    } catch (error) {
      if (error instanceof ModelNotFoundError || !stale) throw asUnavailable(name, error);
      // The pointer was readable before: keep serving that version and look again after the TTL.
      this.pointers.set(name, { version: stale.version, expires: now() + ttlMs });
      return stale.version;
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
