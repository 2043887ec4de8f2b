/**
 * The models bucket as the store reads it: current.json, a version's manifest, its generator files
 * and the model names, each R2 call within the deadline. Manifests and files are checked by core's
 * model reader (the same rules as `gan sample` and `gan publish`); what it finds wrong, and R2
 * failing, come back as the API's 404 and 503 errors.
 */
import type { FastGenerator } from '@gan/core/inference';
import { loadGenerator } from '@gan/core/load-generator';
import { MANIFEST_FILE, type Manifest, MissingModelFileError, ModelNameSchema, parseManifest } from '@gan/core/manifest';
import { registryKeys } from '@gan/registry/layout';
import { ModelNotFoundError, StorageUnavailableError, VersionNotFoundError } from '../errors.ts';
import { withDeadline } from './r2-deadline.ts';
import { asUnavailable } from './unavailable.ts';

/** R2 reads made, by kind: lets tests and /healthz see that repeats do not go back to R2. */
export interface R2Reads {
  pointer: number;
  manifest: number;
  files: number;
}

export class R2Models {
  readonly reads: R2Reads = { pointer: 0, manifest: 0, files: 0 };

  constructor(
    private readonly bucket: R2Bucket,
    private readonly timeoutMs: number,
  ) {}

  /** The text of models/<name>/current.json; `undefined` when there is none. */
  pointerText(name: string): Promise<string | undefined> {
    this.reads.pointer++;
    return this.r2(async () => (await this.bucket.get(registryKeys.current(name)))?.text());
  }

  /** A version's manifest, checked to describe that version. 404 for an unknown pinned version. */
  async manifest(name: string, version: string, pinned: boolean): Promise<Manifest> {
    const label = `${name}@${version}`;
    try {
      this.reads.manifest++;
      const text = await this.r2(async () => (await this.bucket.get(registryKeys.manifest(name, version)))?.text());
      if (text === undefined) {
        if (pinned) {
          // Distinguish "no such version" (404) from "a version whose manifest is gone" (503).
          const listing = await this.r2(() => this.bucket.list({ prefix: registryKeys.versionDir(name, version), limit: 1 }));
          if (listing.objects.length === 0) {
            const pointer = await this.r2(() => this.bucket.head(registryKeys.current(name)));
            if (!pointer) throw new ModelNotFoundError(name);
            throw new VersionNotFoundError(name, version);
          }
        }
        throw new MissingModelFileError(label, MANIFEST_FILE);
      }
      return parseManifest(text, label, { name, version });
    } catch (error) {
      throw asUnavailable(label, error);
    }
  }

  /** A version's generator, from model.json and the shards it names, each verified first. */
  async generator(name: string, version: string, manifest: Manifest): Promise<FastGenerator> {
    const label = `${name}@${version}`;
    try {
      return await loadGenerator(label, manifest, (path) => {
        this.reads.files++;
        return this.r2(async () => (await this.bucket.get(registryKeys.file(name, version, path)))?.arrayBuffer());
      });
    } catch (error) {
      throw asUnavailable(label, error);
    }
  }

  /** Names of all published models (one R2 list call per 1000 names). */
  async names(): Promise<string[]> {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.r2(() => this.bucket.list({ prefix: registryKeys.prefix, delimiter: '/', cursor })).catch(
        (error: unknown) => {
          console.error('listing models failed', error instanceof Error ? error.message : error);
          throw new StorageUnavailableError();
        },
      );
      for (const prefix of page.delimitedPrefixes) {
        const name = prefix.slice(registryKeys.prefix.length, -1);
        if (ModelNameSchema.safeParse(name).success) names.push(name);
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return names.sort();
  }

  private r2<T>(call: () => Promise<T>): Promise<T> {
    return withDeadline(call, this.timeoutMs);
  }
}
