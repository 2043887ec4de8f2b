import { AwsClient } from 'aws4fetch';
import {
  type ObjectStorage,
  type ObjectWithEtag,
  type PutOptions,
  PreconditionFailedError,
  StorageError,
  type StoredObjectInfo,
  unquoteEtag,
} from './storage.ts';

export interface S3StorageOptions {
  /** The S3 endpoint without the bucket: `https://<account id>.r2.cloudflarestorage.com`. */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** R2 takes `auto`; other S3 servers their own region. */
  region?: string;
  /** Retries on network errors, 5xx and 429, with exponential back-off (aws4fetch's). */
  retries?: number;
}

/** Missing or unusable credentials for the remote bucket. */
export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

/**
 * The S3 options for R2 from the environment:
 * - `R2_ACCESS_KEY_ID` and `R2_SECRET_ACCESS_KEY` (an R2 API token's S3 credentials; `AWS_ACCESS_KEY_ID`
 *   and `AWS_SECRET_ACCESS_KEY` are read as well);
 * - `CLOUDFLARE_ACCOUNT_ID` (endpoint `https://<id>.r2.cloudflarestorage.com`), or an explicit
 *   `R2_ENDPOINT` / `S3_ENDPOINT` for any S3-compatible server;
 * - `R2_REGION` (default `auto`).
 */
export function s3OptionsFromEnv(env: NodeJS.ProcessEnv, bucket: string): S3StorageOptions {
  const accessKeyId = env.R2_ACCESS_KEY_ID ?? env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.R2_SECRET_ACCESS_KEY ?? env.AWS_SECRET_ACCESS_KEY;
  const explicit = env.R2_ENDPOINT ?? env.S3_ENDPOINT;
  const endpoint = explicit ?? (env.CLOUDFLARE_ACCOUNT_ID ? `https://${env.CLOUDFLARE_ACCOUNT_ID}.r2.cloudflarestorage.com` : undefined);
  const missing = [
    !endpoint && 'CLOUDFLARE_ACCOUNT_ID (or R2_ENDPOINT)',
    !accessKeyId && 'R2_ACCESS_KEY_ID',
    !secretAccessKey && 'R2_SECRET_ACCESS_KEY',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new CredentialsError(`the remote bucket needs ${missing.join(', ')} in the environment (or use --local)`);
  }
  return { endpoint: endpoint!, bucket, accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey!, region: env.R2_REGION ?? 'auto' };
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
function xmlText(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return XML_ENTITIES[e] ?? whole;
  });
}
function xmlField(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m ? xmlText(m[1]) : undefined;
}

/** Parses one ListObjectsV2 response page. */
export function parseListObjectsV2(xml: string): { objects: StoredObjectInfo[]; nextToken?: string } {
  const objects: StoredObjectInfo[] = [];
  for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const key = xmlField(m[1], 'Key');
    if (key === undefined) continue;
    objects.push({
      key,
      size: Number(xmlField(m[1], 'Size') ?? 0),
      uploaded: new Date(xmlField(m[1], 'LastModified') ?? 0),
    });
  }
  const truncated = xmlField(xml, 'IsTruncated') === 'true';
  return { objects, nextToken: truncated ? xmlField(xml, 'NextContinuationToken') : undefined };
}

/** Percent-encodes as SigV4 wants: everything but A-Z a-z 0-9 - _ . ~ (encodeURIComponent spares !'()* too). */
function awsEncode(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Path-style object URL, each key segment encoded once; S3 signs the path exactly as sent. */
function objectUrl(options: S3StorageOptions, key: string): string {
  const encodedKey = key.split('/').map(awsEncode).join('/');
  return `${options.endpoint.replace(/\/+$/, '')}/${awsEncode(options.bucket)}/${encodedKey}`;
}

/** R2 (or any S3-compatible server) through its S3 API, signed with SigV4 by aws4fetch. */
export function openS3Storage(options: S3StorageOptions): ObjectStorage {
  const client = new AwsClient({
    accessKeyId: options.accessKeyId,
    secretAccessKey: options.secretAccessKey,
    service: 's3',
    region: options.region ?? 'auto',
    retries: options.retries ?? 4,
    initRetryMs: 200,
  });
  const fail = async (what: string, response: Response): Promise<never> => {
    const body = await response.text().catch(() => '');
    const code = xmlField(body, 'Code');
    throw new StorageError(`${what}: HTTP ${response.status}${code ? ` ${code}` : ''}`, response.status);
  };
  const bucketUrl = `${options.endpoint.replace(/\/+$/, '')}/${encodeURIComponent(options.bucket)}`;
  const getWithEtag = async (key: string): Promise<ObjectWithEtag | null> => {
    const response = await client.fetch(objectUrl(options, key), { method: 'GET' });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    if (!response.ok) return fail(`GET ${key}`, response);
    return { bytes: new Uint8Array(await response.arrayBuffer()), etag: unquoteEtag(response.headers.get('etag') ?? '') };
  };
  return {
    description: `S3 ${bucketUrl}`,
    async get(key) {
      return (await getWithEtag(key))?.bytes ?? null;
    },
    getWithEtag,
    async put(key, bytes, opts: PutOptions = {}) {
      const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/octet-stream' };
      if (opts.cacheControl) headers['cache-control'] = opts.cacheControl;
      if (opts.onlyIf && 'etag' in opts.onlyIf) headers['if-match'] = `"${opts.onlyIf.etag}"`;
      if (opts.onlyIf && 'absent' in opts.onlyIf) headers['if-none-match'] = '*';
      const response = await client.fetch(objectUrl(options, key), { method: 'PUT', body: bytes as Uint8Array<ArrayBuffer>, headers });
      if (response.status === 412) {
        await response.body?.cancel();
        throw new PreconditionFailedError(key);
      }
      if (!response.ok) return fail(`PUT ${key}`, response);
      await response.body?.cancel();
    },
    async head(key) {
      const response = await client.fetch(objectUrl(options, key), { method: 'HEAD' });
      if (response.status === 404) return null;
      if (!response.ok) return fail(`HEAD ${key}`, response);
      return {
        key,
        size: Number(response.headers.get('content-length') ?? 0),
        uploaded: new Date(response.headers.get('last-modified') ?? 0),
      };
    },
    async list(prefix) {
      const all: StoredObjectInfo[] = [];
      let token: string | undefined;
      do {
        const query = new URLSearchParams({ 'list-type': '2', prefix });
        if (token) query.set('continuation-token', token);
        const response = await client.fetch(`${bucketUrl}?${query}`, { method: 'GET' });
        if (!response.ok) return fail(`LIST ${prefix}`, response);
        const page = parseListObjectsV2(await response.text());
        all.push(...page.objects);
        token = page.nextToken;
      } while (token);
      return all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async delete(keys) {
      for (const key of keys) {
        const response = await client.fetch(objectUrl(options, key), { method: 'DELETE' });
        if (!response.ok && response.status !== 404) return fail(`DELETE ${key}`, response);
        await response.body?.cancel();
      }
    },
    async close() {},
  };
}
