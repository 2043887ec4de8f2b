/** GET /: a small page to try the API. No framework: one form, two images, one snippet. */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { LIMITS } from '../validation.ts';

const PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gan-edge: GAN images at the edge</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
  form { display: flex; flex-wrap: wrap; gap: .75rem 1.25rem; align-items: end; margin-bottom: 1.25rem; }
  label { display: flex; flex-direction: column; font-size: .85rem; gap: .2rem; }
  input, select, button { font: inherit; padding: .3rem .45rem; }
  .out { display: flex; flex-wrap: wrap; gap: 2rem; align-items: start; }
  figure { margin: 0; }
  figcaption { font-size: .85rem; color: #555; margin-top: .3rem; }
  img { image-rendering: pixelated; background: #eee; max-width: 100%; }
  #status { min-height: 1.4em; color: #555; }
  #status.error { color: #b00020; }
  textarea { width: 100%; font: 13px ui-monospace, monospace; }
</style>
</head>
<body>
<h1>GAN images at the edge</h1>
<p>A DCGAN generator served by a Cloudflare Worker on TensorFlow.js WASM SIMD. The same seed always gives the same image.</p>
<form id="controls">
  <label>Model <select id="model" name="model"></select></label>
  <label>Seed <input id="seed" name="seed" maxlength="${LIMITS.maxSeedLength}" value="hello"></label>
  <button type="button" id="random">Random seed</button>
  <label>Size (${LIMITS.minSize}–${LIMITS.maxSize}) <input id="size" name="size" type="number" value="128"></label>
  <label>Class <select id="class" name="class"></select></label>
  <label>Filter <select id="filter" name="filter"></select></label>
  <button type="submit" id="generate">Generate</button>
</form>
<p id="status" role="status"></p>
<div class="out">
  <figure><img id="image" alt="generated image"><figcaption id="image-caption"></figcaption></figure>
  <figure><img id="walk" alt="latent walk" width="128" height="128"><figcaption>walk.gif: through the grid's first cells and back (class = each: through every class)</figcaption></figure>
  <figure><img id="grid" alt="grid of generated images"><figcaption>grid.png, 4 x 4 (one row per class with class = each)</figcaption></figure>
</div>
<h2>Use it</h2>
<textarea id="snippet" rows="2" readonly></textarea>
<button type="button" id="copy">Copy &lt;img&gt; snippet</button>
<p>The walk, animated:</p>
<textarea id="walk-snippet" rows="2" readonly></textarea>
<p><a href="/v1/openapi.json">API description (OpenAPI)</a> · <a href="/v1/models">models</a> · <a href="/healthz">health</a></p>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const status = (text, error) => { $('status').textContent = text; $('status').className = error ? 'error' : ''; };
  let models = [];
  let generation = 0;

  function fillClasses() {
    const model = models.find((m) => m.name === $('model').value);
    const select = $('class');
    select.replaceChildren(new Option('(follows the seed)', ''));
    if (model && model.classes.length) {
      // class=each is one grid row and one walk key per class: a walk needs 2 keys, and more classes than
      // either limit allows is a 400.
      if (model.classes.length >= 2 && model.classes.length <= ${Math.min(LIMITS.maxCells, LIMITS.maxKeys)})
        select.append(new Option('each (grid: one row per class; walk: through every class)', 'each'));
      model.classes.forEach((name) => select.append(new Option(name, name)));
    }
    select.disabled = !model || model.classes.length === 0;
  }

  // The filters the model's current version accepts; its learned upscaler, where it ships one, is
  // chosen so that the page shows the best enlargement (the snippet then asks for it too).
  function fillFilters() {
    const model = models.find((m) => m.name === $('model').value);
    const select = $('filter');
    const filters = (model && model.filters) || ['bilinear', 'nearest'];
    select.replaceChildren(...filters.map((name) => new Option(name, name)));
    select.value = filters.includes('learned') ? 'learned' : (model && model.defaultFilter) || 'bilinear';
  }

  function url(kind) {
    const params = new URLSearchParams();
    if ($('seed').value) params.set('seed', $('seed').value);
    if ($('size').value) params.set('size', kind === 'grid' ? String(Math.min(64, Number($('size').value))) : $('size').value);
    const cls = $('class').value;
    if (kind === 'walk') params.delete('size'); // frames at the model's size; the page scales them
    if (cls && (cls !== 'each' || kind !== 'image')) params.set('class', cls);
    const model = models.find((m) => m.name === $('model').value);
    const filter = $('filter').value;
    if (kind !== 'walk' && filter && filter !== ((model && model.defaultFilter) || 'bilinear')) params.set('filter', filter);
    if (kind === 'grid' && cls !== 'each') { params.set('rows', '4'); }
    if (kind === 'grid') params.set('cols', '4');
    const query = params.toString();
    return '/v1/models/' + encodeURIComponent($('model').value) + '/' + kind + (kind === 'walk' ? '.gif' : '.png') + (query ? '?' + query : '');
  }

  async function show(img, src) {
    const response = await fetch(src);
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error(body && body.error ? body.error.message : 'HTTP ' + response.status);
    }
    const blob = await response.blob();
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error('the image did not decode'));
      img.src = URL.createObjectURL(blob);
    });
    img.dataset.src = src;
    img.dataset.seed = decodeURIComponent(response.headers.get('X-Seed') || '');
    return response;
  }

  async function generate() {
    if (!$('model').value) return;
    // Only the latest request updates the page, whatever order the responses arrive in.
    const mine = ++generation;
    const imageUrl = url('image');
    const gridUrl = url('grid');
    const walkUrl = url('walk');
    document.body.dataset.state = 'busy';
    status('Generating…');
    try {
      const image = new Image();
      const grid = new Image();
      const walk = new Image();
      const response = await show(image, imageUrl);
      await show(grid, gridUrl);
      await show(walk, walkUrl);
      if (mine !== generation) return;
      for (const [id, img] of [['image', image], ['grid', grid], ['walk', walk]]) {
        if ($(id).src.startsWith('blob:')) URL.revokeObjectURL($(id).src);
        $(id).src = img.src;
        $(id).dataset.src = img.dataset.src;
      }
      await Promise.all(['image', 'grid', 'walk'].map((id) => $(id).decode()));
      if (mine !== generation) return;
      $('image-caption').textContent = 'image.png, seed "' + image.dataset.seed + '", ' + image.naturalWidth + ' x ' + image.naturalHeight + ', model version ' + response.headers.get('X-Model-Version');
      const attribute = (u) => new URL(u, location.href).href.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
      $('snippet').value = '<img src="' + attribute(imageUrl) + '" alt="generated image">';
      $('walk-snippet').value = '<img src="' + attribute(walkUrl) + '" alt="latent walk" width="128" style="image-rendering: pixelated">';
      status('Done.');
      document.body.dataset.state = 'ready';
    } catch (error) {
      if (mine !== generation) return;
      status(error.message, true);
      document.body.dataset.state = 'error';
    }
  }

  $('controls').addEventListener('submit', (event) => { event.preventDefault(); generate(); });
  $('model').addEventListener('change', () => { fillClasses(); fillFilters(); generate(); });
  $('random').addEventListener('click', () => {
    $('seed').value = Math.random().toString(36).slice(2, 10);
    generate();
  });
  $('copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('snippet').value);
      status('Snippet copied.');
    } catch {
      $('snippet').select();
      status('Select the snippet and copy it.');
    }
  });

  fetch('/v1/models')
    .then((r) => r.json())
    .then((body) => {
      models = body.models.filter((m) => m.available);
      if (models.length === 0) { status('No model is published yet.', true); return; }
      models.forEach((m) => $('model').append(new Option(m.name + ' (' + m.imageSize + ' px)', m.name)));
      fillClasses();
      fillFilters();
      generate();
    })
    .catch((error) => status('Could not list models: ' + error.message, true));
})();
</script>
</body>
</html>
`;

export const pageRoutes = new Hono<AppEnv>().get('/', (c) =>
  c.html(PAGE, 200, {
    'Cache-Control': 'public, max-age=300',
    'Content-Security-Policy': "default-src 'self'; img-src 'self' blob: data:; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
  }),
);
