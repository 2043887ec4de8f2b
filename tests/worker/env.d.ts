// The bindings tests see through `cloudflare:workers` / `cloudflare:test`: the Worker's own Env.
declare namespace Cloudflare {
  interface Env extends import('../../worker/src/env.ts').Env {}
}
