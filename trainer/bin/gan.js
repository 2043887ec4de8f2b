#!/usr/bin/env node
// The `gan` command: runs the TypeScript CLI through tsx, so `npx gan …` works without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv);
