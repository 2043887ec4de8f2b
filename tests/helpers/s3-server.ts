/**
 * A real S3 server for the registry's remote path: s3rver (an S3 implementation on the file system:
 * buckets, objects, ListObjectsV2 with pagination, S3 XML errors). s3rver checks that the access key
 * exists but does not verify SigV4 signatures, so requests pass through a front that recomputes each
 * request's signature with AWS's own signer (@smithy/signature-v4) and answers 403
 * SignatureDoesNotMatch when it differs, as R2 would. The registry's client (aws4fetch) signs; an
 * independent implementation checks.
 *
 * s3rver also ignores conditional writes, which R2 honours and the registry relies on to move
 * current.json: the front evaluates If-Match and If-None-Match: * on PUT against the stored object's
 * ETag and answers 412 PreconditionFailed as R2 does (check then write, not atomic: enough for tests
 * whose writes do not overlap; racing writes are tested on Miniflare's R2).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';

export const S3_ACCESS_KEY_ID = 'S3RVER';
export const S3_SECRET_ACCESS_KEY = 'S3RVER';
export const S3_REGION = 'auto';

export interface TestS3Server {
  endpoint: string;
  bucket: string;
  /** Requests refused for a bad signature so far. */
  rejectedSignatures: number;
  /** Environment for a `gan` child process to reach this server. */
  env: Record<string, string>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function signatureMatches(req: IncomingMessage, body: Buffer): Promise<boolean> {
  const auth = req.headers.authorization ?? '';
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return false;
  const [, accessKeyId, , region, signedHeaderList, signature] = m;
  if (accessKeyId !== S3_ACCESS_KEY_ID) return false;
  const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
  const headers: Record<string, string> = {};
  for (const name of signedHeaderList.split(';')) headers[name] = String(req.headers[name] ?? '');
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: S3_SECRET_ACCESS_KEY },
    region,
    service: 's3',
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false, // S3 signs the path as sent, without encoding it a second time
  });
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const signed = await signer.sign(
    {
      method: req.method ?? 'GET',
      protocol: 'http:',
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers,
      body: body.length ? body : undefined,
    },
    { signingDate, signableHeaders: new Set(signedHeaderList.split(';')) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1];
  return expected === signature;
}

/** Whether a PUT's If-Match / If-None-Match: * holds for the object now stored at `url`. */
async function preconditionHolds(url: string, headers: Headers): Promise<boolean> {
  const ifMatch = headers.get('if-match');
  const ifNoneMatch = headers.get('if-none-match');
  if (!ifMatch && !ifNoneMatch) return true;
  const probe = new Headers(headers);
  for (const h of ['content-length', 'content-type', 'if-match', 'if-none-match']) probe.delete(h);
  const head = await fetch(url, { method: 'HEAD', headers: probe });
  const etag = head.ok ? head.headers.get('etag') : null;
  if (ifNoneMatch === '*' && etag !== null) return false;
  if (ifMatch && ifMatch !== '*' && ifMatch !== etag) return false;
  if (ifMatch === '*' && etag === null) return false;
  return true;
}

/** Starts s3rver with `bucket`, behind the signature-checking front, on 127.0.0.1. */
export async function startTestS3Server(bucket = 'gan-models'): Promise<TestS3Server> {
  const directory = await mkdtemp(path.join(tmpdir(), 'gan-s3-'));
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port: s3Port } = (await s3.run()) as AddressInfo;
  const state = { rejectedSignatures: 0 };
  const front: Server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      if (!(await signatureMatches(req, body))) {
        state.rejectedSignatures++;
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code></Error>');
        return;
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers.set(k, v);
      if (req.method === 'PUT' && !(await preconditionHolds(`http://127.0.0.1:${s3Port}${req.url}`, headers))) {
        res.writeHead(412, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code></Error>');
        return;
      }
      const upstream = await fetch(`http://127.0.0.1:${s3Port}${req.url}`, {
        method: req.method,
        headers,
        body: body.length && req.method !== 'GET' && req.method !== 'HEAD' ? new Uint8Array(body) : undefined,
      });
      const out: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
      });
      const payload = Buffer.from(await upstream.arrayBuffer());
      if (req.method !== 'HEAD') out['content-length'] = String(payload.length);
      res.writeHead(upstream.status, out);
      res.end(req.method === 'HEAD' ? undefined : payload);
    } catch (error) {
      res.writeHead(500);
      res.end(String(error));
    }
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  return {
    endpoint,
    bucket,
    get rejectedSignatures() {
      return state.rejectedSignatures;
    },
    env: { R2_ENDPOINT: endpoint, R2_ACCESS_KEY_ID: S3_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY: S3_SECRET_ACCESS_KEY, R2_BUCKET: bucket },
    async close() {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await s3.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
