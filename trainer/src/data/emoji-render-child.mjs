// Renders SVGs to RGBA pixels with @resvg/resvg-js, in a child process of the emoji loader (emoji.ts).
// resvg-js aborts the whole process on a few icons (a native abort, not a JavaScript error), so each
// style is rendered here, one icon after the other, and the parent restarts this process after an icon
// that took it down. Plain JavaScript so that it starts with plain node, without the TypeScript loader.
//
// Parent → child (one message): { resvgDir, icons: [{ name, svg }] }
// Child → parent: { ready: true } once resvg-js is loaded; per icon, in order, { index, width, height,
// pixels } (premultiplied RGBA); then { done: true }.
import { createRequire } from 'node:module';

process.once('message', (job) => {
  const { Resvg } = createRequire(import.meta.url)(job.resvgDir);
  process.send({ ready: true });
  job.icons.forEach(({ svg }, index) => {
    // No system fonts and no text: the same pixels on every machine. Size comes from the SVG's own
    // width and height attributes, which the parent sets to the training size.
    const rendered = new Resvg(svg, { font: { loadSystemFonts: false } }).render();
    process.send({ index, width: rendered.width, height: rendered.height, pixels: new Uint8Array(rendered.pixels) });
  });
  process.send({ done: true }, () => process.disconnect());
});
