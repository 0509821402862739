// The embedding model in the browser: loading with progress, caching, parity with
// sentence-transformers and with the native engine, and clear errors for bad files.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serveDist } from './support/static_server.mjs';
import { launchBrowser } from './support/browser.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.CASEBOOK_DIST ?? `${ROOT}dist`;
const MODEL_DIR = `${ROOT}public/models/all-minilm-l6-v2`;
const REFERENCE = JSON.parse(
  readFileSync(`${ROOT}../shared/data/embeddings/all-MiniLM-L6-v2_ref.json`, 'utf8'),
);

let server;
let browser;

before(async () => {
  server = await serveDist(DIST, { mounts: { '/test/': `${ROOT}tests/e2e/pages` } });
});

after(async () => {
  await server?.close();
});

// Each test checks the console itself (some expect the browser's own 404 report).
afterEach(async () => {
  await browser.close();
  server.reset();
});

const cosine = (a, b) => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
};

test('the model downloads with visible progress, then loads from the cache', async () => {
  // ~2.4 s for the 23.5 MB model: slow enough to watch the progress bar.
  server.setThrottle((path) => (path.endsWith('model.onnx') ? 10_000_000 : undefined));
  browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(server.url + '/');
  const status = page.getByTestId('status-model');
  await status.getByText(/Model: downloading model\.onnx \d+% \([\d.]+ (kB|MB) of 23\.5 MB\)/).waitFor();
  assert.equal(await status.locator('progress').count(), 1);
  await status.getByText(/^Model: all-MiniLM-L6-v2 \(weight-only int8\) ready in [\d.]+ s$/).waitFor({ timeout: 60_000 });
  assert.equal(await status.locator('progress').count(), 0);

  await page.reload();
  await status.getByText(/ready in [\d.]+ s \(from cache\)$/).waitFor({ timeout: 60_000 });
  assert.deepEqual(browser.consoleErrors, []);
});

test('embeddings in Chromium match sentence-transformers and the native engine', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(server.url + '/test/worker.html');
  const vectors = await page.evaluate(
    async ({ script, model, sentences }) => {
      const worker = await window.startWorker(script);
      await worker.request({ type: 'load_model', base_url: model });
      const reply = await worker.request({ type: 'embed', texts: sentences });
      return reply.vectors;
    },
    { script: server.url + '/worker_loader.js', model: server.url + '/models/all-minilm-l6-v2/', sentences: REFERENCE.sentences },
  );
  assert.equal(vectors.length, REFERENCE.sentences.length);
  const versusReference = vectors.map((vector, i) => cosine(vector, REFERENCE.st_ref[i]));
  const minimum = Math.min(...versusReference);
  console.log(`wasm vs sentence-transformers: min cosine ${minimum.toFixed(6)}`);
  assert.ok(minimum >= 0.998, `min cosine ${minimum}`);

  const native = JSON.parse(
    execFileSync('cargo', ['run', '--quiet', '--example', 'embed', '--', MODEL_DIR], {
      cwd: ROOT,
      input: JSON.stringify(REFERENCE.sentences),
      maxBuffer: 64 * 1024 * 1024,
    }).toString(),
  );
  let largest = 0;
  vectors.forEach((vector, i) =>
    vector.forEach((value, j) => {
      largest = Math.max(largest, Math.abs(value - native[i][j]));
    }),
  );
  console.log(`wasm vs native: largest difference ${largest.toExponential(2)}`);
  assert.ok(largest <= 1e-5, `wasm and native differ by ${largest}`);
  assert.deepEqual(browser.consoleErrors, []);
});

test('the settings page compares texts by meaning', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(server.url + '/settings');
  await page.getByTestId('status-model').getByText(/ready in/).waitFor({ timeout: 60_000 });
  const result = page.getByTestId('compare-result');
  const similarity = async (first, second) => {
    const before = await result.textContent();
    await page.getByLabel('First text').fill(first);
    await page.getByLabel('Second text').fill(second);
    await page.getByRole('button', { name: 'Compare' }).click();
    await page.waitForFunction(
      (previous) => {
        const text = document.querySelector('[data-testid=compare-result]').textContent;
        return text !== previous && /^Similarity -?[\d.]+ \(embedded in \d+ ms\)$/.test(text);
      },
      before,
    );
    return Number((await result.textContent()).match(/Similarity (-?[\d.]+)/)[1]);
  };
  const paraphrase = await similarity('How do I reset my password?', 'Steps to recover a forgotten account password');
  const unrelated = await similarity('How do I reset my password?', 'The Eiffel Tower is located in Paris, France.');
  assert.ok(paraphrase > 0.5 && unrelated < 0.2, `paraphrase ${paraphrase}, unrelated ${unrelated}`);
  assert.deepEqual(browser.consoleErrors, []);
});

for (const [what, fault, expected] of [
  ['missing', () => ({ status: 404 }), /The model file model\.onnx could not be downloaded from http:\/\/127\.0\.0\.1:\d+\/models\/all-minilm-l6-v2\/model\.onnx: HTTP 404/],
  ['damaged', null, /The model file model\.onnx cannot be used: its sha256 is [0-9a-f]{64}, expected 521a1a35/],
]) {
  test(`a ${what} model file is named in a clear error and the rest of the app works`, async () => {
    if (fault) server.setFault((path) => (path.endsWith('model.onnx') ? fault() : undefined));
    else
      server.setTransform((path, body) => {
        if (!path.endsWith('model.onnx')) return body;
        const damaged = Buffer.from(body);
        damaged[1000] ^= 0xff;
        return damaged;
      });
    browser = await launchBrowser();
    const page = await browser.newPage();
    await page.goto(server.url + '/settings');
    await page.getByTestId('status-model').getByText(expected).waitFor({ timeout: 60_000 });
    // Storage and settings are unaffected.
    await page.getByTestId('status-storage').getByText('Storage: ready').waitFor();
    await page.getByLabel('Theme').selectOption('dark');
    await page.getByText('Saved', { exact: true }).waitFor();
    // Embedding says why it cannot run instead of hanging.
    await page.getByRole('button', { name: 'Compare' }).click();
    await page.getByTestId('compare-result').getByText(/model\.onnx/).waitFor();
    const errors = browser.consoleErrors.splice(0);
    // The browser itself logs the failed request of a missing file; nothing else.
    assert.ok(errors.every((error) => /404/.test(error)), errors.join('\n'));
  });
}
