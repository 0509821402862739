// Embedding benchmark in headless Chromium (run by `scripts/bench.sh embed`):
// Casebook's worker (tract compiled to wasm with simd128) against onnxruntime-web
// (wasm backend, 1 thread) on the same ONNX file, in the same page, same inputs;
// plus model load times and ingestion throughput with 1 and N workers.
// Inputs are "word" repeated: exactly k + 2 tokens, identical for both engines.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serveDist } from '../e2e/support/static_server.mjs';
import { launchBrowser } from '../e2e/support/browser.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.CASEBOOK_DIST ?? `${ROOT}target/e2e-dist`;
const WORD_ID = JSON.parse(readFileSync(`${ROOT}public/models/all-minilm-l6-v2/tokenizer.json`, 'utf8')).model.vocab.word;

const server = await serveDist(DIST, {
  mounts: { '/test/': `${ROOT}tests/e2e/pages`, '/ort/': `${ROOT}node_modules/onnxruntime-web/dist` },
});
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await page.goto(server.url + '/test/worker.html');
  await page.addScriptTag({ url: '/ort/ort.wasm.min.js' });
  const results = await page.evaluate(
    async ({ workerScript, modelBase, wordId }) => {
      const WARMUP = 5;
      const RUNS = 60;
      const BATCH_RUNS = 10;
      const text = (tokens) => Array(tokens - 2).fill('word').join(' ');
      const percentiles = (times) => {
        const sorted = [...times].sort((a, b) => a - b);
        const at = (q) => sorted[Math.round((sorted.length - 1) * q)];
        return { p50: at(0.5), p95: at(0.95) };
      };
      const time = async (run, runs = RUNS) => {
        for (let i = 0; i < WARMUP; i++) await run();
        const times = [];
        for (let i = 0; i < runs; i++) {
          const start = performance.now();
          await run();
          times.push(performance.now() - start);
        }
        return percentiles(times);
      };
      const out = { tract: {}, ort: {} };

      // Cold: nothing cached in this fresh profile. Then a new worker, from the cache.
      let start = performance.now();
      let worker = await window.startWorker(workerScript);
      let loaded = await worker.request({ type: 'load_model', base_url: modelBase });
      out.loadCold = performance.now() - start;
      out.coldFromCache = loaded.model.from_cache;
      worker.terminate();
      start = performance.now();
      worker = await window.startWorker(workerScript);
      loaded = await worker.request({ type: 'load_model', base_url: modelBase });
      out.loadCached = performance.now() - start;
      out.cachedFromCache = loaded.model.from_cache;

      for (const tokens of [8, 32, 128]) {
        out.tract[tokens] = await time(() => worker.request({ type: 'embed', texts: [text(tokens)] }));
      }
      const batch = Array(16).fill(text(32));
      start = performance.now();
      for (let i = 0; i < BATCH_RUNS; i++) await worker.request({ type: 'embed', texts: batch });
      out.tract.batch16 = (BATCH_RUNS * 16) / ((performance.now() - start) / 1000);
      out.wasmMemory = (await worker.request({ type: 'diagnostics' })).wasm_memory_bytes;
      const ours = (await worker.request({ type: 'embed', texts: [text(32)] })).vectors[0];

      // onnxruntime-web, same file, one thread, wasm backend.
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.wasmPaths = '/ort/';
      start = performance.now();
      const session = await ort.InferenceSession.create(modelBase + 'model.onnx', { executionProviders: ['wasm'] });
      out.ortLoad = performance.now() - start;
      const feeds = (rows, tokens) => {
        const ids = new BigInt64Array(rows * tokens);
        const mask = new BigInt64Array(rows * tokens).fill(1n);
        for (let r = 0; r < rows; r++) {
          ids[r * tokens] = 101n;
          ids.fill(BigInt(wordId), r * tokens + 1, (r + 1) * tokens - 1);
          ids[(r + 1) * tokens - 1] = 102n;
        }
        return {
          input_ids: new ort.Tensor('int64', ids, [rows, tokens]),
          attention_mask: new ort.Tensor('int64', mask, [rows, tokens]),
        };
      };
      for (const tokens of [8, 32, 128]) {
        const input = feeds(1, tokens);
        out.ort[tokens] = await time(() => session.run(input));
      }
      const batchInput = feeds(16, 32);
      start = performance.now();
      for (let i = 0; i < BATCH_RUNS; i++) await session.run(batchInput);
      out.ort.batch16 = (BATCH_RUNS * 16) / ((performance.now() - start) / 1000);
      // Same answer? Mean-pool ORT's token vectors and compare with ours.
      const hidden = (await session.run(feeds(1, 32))).last_hidden_state.data;
      const pooled = new Float64Array(384);
      for (let t = 0; t < 32; t++) for (let d = 0; d < 384; d++) pooled[d] += hidden[t * 384 + d] / 32;
      const norm = Math.hypot(...pooled);
      out.agreement = ours.reduce((sum, value, d) => sum + (value * pooled[d]) / norm, 0);

      // Ingestion of 256 texts: embedding alone in one worker, then storing them as
      // memories through the case bank, whose worker shares the embedding with its
      // helper workers (one per spare core). The first bank run starts the helpers.
      worker.terminate();
      const texts = Array.from({ length: 256 }, (_, i) => `${text(31)} ${i}`);
      const single = await window.startWorker(workerScript);
      await single.request({ type: 'load_model', base_url: modelBase });
      let begin = performance.now();
      for (let i = 0; i < texts.length; i += 32) await single.request({ type: 'embed', texts: texts.slice(i, i + 32) });
      out.ingest1 = 256 / ((performance.now() - begin) / 1000);
      single.terminate();
      const bank = await window.startWorker(workerScript);
      await bank.request({ type: 'load_model', base_url: modelBase });
      await bank.request({ type: 'open_bank' });
      const store = async (round) => {
        const changes = texts.map((t, i) => ({
          type: 'save',
          memory: {
            id: `m${String(round * 1000 + i).padStart(27, '0')}`, kind: 'note', text: `${t} ${round}`,
            source: { type: 'manual' }, pool: 'default', created_at: 1, updated_at: 1, revision: 1,
          },
          base_revision: null,
          changed_by: 'import',
        }));
        const start = performance.now();
        await bank.request({ type: 'apply_changes', changes });
        return 256 / ((performance.now() - start) / 1000);
      };
      out.ingestBankFirst = await store(0);
      out.ingestBank = await store(1);
      bank.terminate();
      out.cores = navigator.hardwareConcurrency;
      return out;
    },
    { workerScript: server.url + '/worker_loader.js', modelBase: server.url + '/models/all-minilm-l6-v2/', wordId: WORD_ID },
  );
  const ms = (value) => `${value.toFixed(1)} ms`;
  const row = (name, tract, ort, ratio) => console.log(`| ${name} | ${tract} | ${ort} | ${ratio} |`);
  console.log('Embedding benchmark, headless Chromium (release build; both engines single-threaded wasm)');
  console.log('| measure | Casebook (tract, simd128) | onnxruntime-web 1.30 | tract / ort |');
  console.log('|---|---|---|---|');
  row('model load, cold (download + verify + prepare)', ms(results.loadCold), ms(results.ortLoad), '');
  row('model load, from cache', ms(results.loadCached), '', '');
  for (const tokens of [8, 32, 128]) {
    const [t, o] = [results.tract[tokens], results.ort[tokens]];
    row(`${tokens} tokens, batch 1: p50 / p95`, `${ms(t.p50)} / ${ms(t.p95)}`, `${ms(o.p50)} / ${ms(o.p95)}`, (t.p50 / o.p50).toFixed(2));
  }
  row('32 tokens, batch 16: throughput', `${results.tract.batch16.toFixed(0)} texts/s`, `${results.ort.batch16.toFixed(0)} texts/s`, (results.ort.batch16 / results.tract.batch16).toFixed(2));
  row('worker wasm memory after the runs', `${(results.wasmMemory / 1e6).toFixed(0)} MB`, '', '');
  row('ingestion, 256 texts: embedding alone, 1 worker', `${results.ingest1.toFixed(0)} texts/s`, '', '');
  row(`ingestion, 256 memories stored through the case bank (${results.cores} cores: worker + ${Math.min(results.cores - 1, 3)} helpers; first run / warm)`,
    `${results.ingestBankFirst.toFixed(0)} / ${results.ingestBank.toFixed(0)} texts/s`, '', `×${(results.ingestBank / results.ingest1).toFixed(2)} vs 1 worker`);
  console.log(`(tract and onnxruntime-web vectors agree: cosine ${results.agreement.toFixed(6)}; cold load from cache: ${results.coldFromCache}, second load from cache: ${results.cachedFromCache})`);
  if (browser.consoleErrors.length) console.log('console errors:', browser.consoleErrors);
} finally {
  await browser.close();
  await server.close();
}
