import { SELF } from 'cloudflare:test';
import { decode } from 'fast-png';
import { expect } from 'vitest';

export const ORIGIN = 'https://gan.test';

export function get(path: string, init?: RequestInit): Promise<Response> {
  return SELF.fetch(`${ORIGIN}${path}`, init);
}

export async function png(response: Response) {
  expect(response.status, await describe(response)).toBe(200);
  expect(response.headers.get('Content-Type')).toBe('image/png');
  const bytes = new Uint8Array(await response.arrayBuffer());
  // A real decoder: throws on a broken signature, chunk CRC or zlib stream.
  const image = decode(bytes);
  return { bytes, image };
}

async function describe(response: Response): Promise<string> {
  if (response.headers.get('Content-Type')?.includes('json')) return JSON.stringify(await response.clone().json());
  return `status ${response.status}`;
}

export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export interface ErrorBody {
  error: { code: string; message: string; parameter?: string };
}

export async function errorBody(response: Response): Promise<ErrorBody> {
  expect(response.headers.get('Content-Type')).toMatch(/^application\/json/);
  const body = await response.json<ErrorBody>();
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error.code).toBe('string');
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message).not.toMatch(/\n\s+at /); // never a stack trace
  return body;
}
