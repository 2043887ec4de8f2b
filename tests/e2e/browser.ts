/**
 * Finds a Chromium for the page test, in this order: CHROMIUM_PATH; a system Chromium or Chrome on
 * PATH; Playwright's own browsers (`npx playwright install chromium`, honouring
 * PLAYWRIGHT_BROWSERS_PATH). Without one the page test is skipped, unless GAN_REQUIRE_BROWSER=1 (as
 * in .ci/run), where a missing browser fails the run.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const SYSTEM_BROWSERS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

export const HOW_TO_ENABLE = 'install a browser (`apt-get install chromium`) or set CHROMIUM_PATH to a Chromium or Chrome executable';

export interface BrowserSearch {
  /** The executable to launch, or undefined where none was found. */
  executable?: string;
  /** Where it came from, or why nothing was found. */
  source: string;
}

const isExecutable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

function onPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

export function findBrowser(env: NodeJS.ProcessEnv = process.env): BrowserSearch {
  // An explicit choice is final: a CHROMIUM_PATH that points at nothing is not quietly replaced.
  if (env.CHROMIUM_PATH) {
    return isExecutable(env.CHROMIUM_PATH)
      ? { executable: env.CHROMIUM_PATH, source: 'CHROMIUM_PATH' }
      : { source: `CHROMIUM_PATH=${env.CHROMIUM_PATH} is not an executable file` };
  }
  for (const name of SYSTEM_BROWSERS) {
    const file = onPath(name, env.PATH ?? '');
    if (file) return { executable: file, source: `${name} on PATH` };
  }
  const playwrights = chromium.executablePath();
  if (playwrights && isExecutable(playwrights)) return { executable: playwrights, source: "Playwright's browsers" };
  return { source: `no ${SYSTEM_BROWSERS.join(', ')} on PATH and no Playwright Chromium` };
}

/** GAN_REQUIRE_BROWSER=1: a missing browser is a failure, not a skip. */
export const browserRequired = (env: NodeJS.ProcessEnv = process.env) => env.GAN_REQUIRE_BROWSER === '1';
