/**
 * The object store the registry writes to: Cloudflare R2, reached either through the local R2 that
 * `wrangler dev` persists (Miniflare) or through R2's S3-compatible API. Publish, rollback, list,
 * prune and checkpoints are written against this interface only, so both paths run the same code.
 */
export interface StoredObjectInfo {
  key: string;
  size: number;
  /** When the object was written (R2 `uploaded`, S3 `LastModified`). */
  uploaded: Date;
}

export interface PutOptions {
  contentType?: string;
  cacheControl?: string;
  /**
   * Write only if the object is as the writer last read it: `{ etag }` — it still has that ETag;
   * `{ absent: true }` — there is no such object yet. Otherwise PreconditionFailedError, nothing
   * written. This is what makes moving current.json a compare-and-swap (R2: `onlyIf` on the binding,
   * If-Match / If-None-Match on the S3 API).
   */
  onlyIf?: { etag: string } | { absent: true };
}

/** An object's bytes with the ETag that a conditional write can name. */
export interface ObjectWithEtag {
  bytes: Uint8Array;
  etag: string;
}

export interface ObjectStorage {
  /** Human-readable description for logs: `local R2 gan-models (.wrangler/state)`, `s3 https://…/gan-models`. */
  readonly description: string;
  /** The object's bytes, or null when there is no such key. */
  get(key: string): Promise<Uint8Array | null>;
  /** Like `get`, with the object's ETag (unquoted). */
  getWithEtag(key: string): Promise<ObjectWithEtag | null>;
  put(key: string, bytes: Uint8Array, options?: PutOptions): Promise<void>;
  head(key: string): Promise<StoredObjectInfo | null>;
  /** Every object whose key starts with `prefix`, in key order (follows pagination). */
  list(prefix: string): Promise<StoredObjectInfo[]>;
  delete(keys: string[]): Promise<void>;
  /** Releases what the storage holds open (the local R2's workerd process). */
  close(): Promise<void>;
}

/** The store answered with something other than success. */
export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A conditional write found the object changed (or present) since it was read: nothing was written. */
export class PreconditionFailedError extends StorageError {
  override name = 'PreconditionFailedError';
  constructor(readonly key: string) {
    super(`${key} changed since it was read; not written`, 412);
  }
}

/** ETags without the quotes HTTP puts around them. */
export const unquoteEtag = (etag: string): string => etag.replace(/^(W\/)?"(.*)"$/, '$2');

/** Content types by file extension, for the objects the registry writes. */
export function contentTypeFor(path: string): string {
  if (path.endsWith('.json')) return 'application/json';
  if (path.endsWith('.png')) return 'image/png';
  if (path.endsWith('.md')) return 'text/markdown; charset=utf-8';
  if (path.endsWith('.svg')) return 'image/svg+xml';
  if (path.endsWith('.jsonl')) return 'application/x-ndjson';
  return 'application/octet-stream';
}
