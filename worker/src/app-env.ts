/** The Hono environment of the app's routes: the Worker's bindings and the isolate's model store. */
import type { Env } from './env.ts';
import type { ModelStore } from './model-store.ts';

export type AppEnv = { Bindings: Env; Variables: { store: ModelStore } };
