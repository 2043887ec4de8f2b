/**
 * The shipped models' pinned bytes (tests/fixtures/golden-bytes.json, see tests/helpers/golden-bytes.ts)
 * as the worker serves them in workerd: every case, requested at its pinned version. Node renders the
 * same table (tests/integration/golden-bytes.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { GOLDEN_BYTES, goldenPath, routeOf } from '../helpers/golden-bytes.ts';
import { get, sha256 } from './helpers.ts';
import { publishShippedModels } from './shipped.ts';

beforeAll(async () => {
  const manifests = await publishShippedModels(Object.keys(GOLDEN_BYTES.versions));
  for (const [model, manifest] of manifests) expect(manifest.version, model).toBe(GOLDEN_BYTES.versions[model]);
});

describe('golden bytes of the shipped models, in workerd', () => {
  it.each(GOLDEN_BYTES.cases.map((c) => [`${c.model}/${c.request}`, c] as const))('%s', async (_, c) => {
    const response = await get(goldenPath(c, GOLDEN_BYTES.versions[c.model]));
    if (response.status !== 200) expect.fail(`${response.status}: ${await response.text()}`);
    expect(response.headers.get('Content-Type')).toBe(routeOf(c.request) === 'walk.gif' ? 'image/gif' : 'image/png');
    expect(await sha256(new Uint8Array(await response.arrayBuffer()))).toBe(c.sha256);
  });
});
