// The shape of embedded-models.gen.js, which worker/scripts/embed-models.ts writes from models/ before
// every build (wrangler.toml [build]) and test run; the .js itself is not committed.

/** One model under models/: its files whose sizes and sha256 the build checked against the manifest. */
export interface EmbeddedModelFiles {
  /** Its directory under models/ (the model's name). */
  dir: string;
  /** manifest.json's text. */
  manifest: string;
  /** Every file a loader may read (all the manifest lists but the card and pictures): [path, text or bytes]. */
  files: [string, string | ArrayBuffer][];
}

export const EMBEDDED_MODEL_FILES: EmbeddedModelFiles[];
