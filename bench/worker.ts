/** Worker-side figures (placeholder until the worker section is measured). */
export async function benchWorker(_opts: { quick: boolean }): Promise<string> {
  return '(not yet measured)';
}
