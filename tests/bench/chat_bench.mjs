// Chat latency benchmark in headless Chromium (run by `scripts/bench.sh chat [COUNT]`):
// with COUNT memories in the bank (10,000 by default), the time from pressing Enter in
// the chat to the request leaving the browser for the provider: saving the question,
// embedding it in the worker, hybrid retrieval, composing the prompt. Measured in the
// page itself: a capturing keydown listener stamps Enter, a wrapper around fetch stamps
// the call to /chat/completions. Also the worker's search alone (embed + retrieve),
// through the test harness page, for the breakdown.
import { fileURLToPath } from 'node:url';
import { serveDist } from '../e2e/support/static_server.mjs';
import { launchBrowser } from '../e2e/support/browser.mjs';
import { startLlmServer } from '../e2e/support/llm_server.mjs';
import { openHarness } from '../e2e/support/bank.mjs';
import { addProvider, ask, setLearning, waitForApp } from '../e2e/support/chat.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.CASEBOOK_DIST ?? `${ROOT}target/e2e-dist`;
const COUNT = Number(process.argv[2] ?? 10_000);
const WARMUP = 3;
const RUNS = 30;
const BATCH = 250;

// Varied, sentence-like memories: every one differs in words and in meaning.
const SUBJECTS = ['The invoice', 'My sister', 'The staging server', 'Our landlord', 'The dentist', 'The build',
  'The garden hose', 'Project Falcon', 'The quarterly report', 'The kitchen tap', 'The cat', 'The VPN'];
const VERBS = ['needs', 'prefers', 'breaks without', 'was moved to', 'depends on', 'is cheaper with',
  'was fixed by', 'should avoid', 'works best with', 'is due after'];
const OBJECTS = ['the blue folder', 'a restart on Mondays', 'oat milk', 'port 8443', 'the second drawer',
  'a signed receipt', 'the old charger', 'weekly backups', 'a warmer room', 'the night train', 'ticket'];
const memoryText = (n) =>
  `${SUBJECTS[n % SUBJECTS.length]} ${VERBS[(n >> 2) % VERBS.length]} ${OBJECTS[(n >> 4) % OBJECTS.length]} ${n}, ` +
  `noted on day ${n % 365} of the year (entry ${n}).`;
const QUESTIONS = Array.from({ length: WARMUP + RUNS }, (_, n) =>
  `What does ${SUBJECTS[(n * 5) % SUBJECTS.length].toLowerCase()} ${VERBS[(n * 3) % VERBS.length]} now, question ${n}?`);

const percentiles = (times) => {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q) => sorted[Math.round((sorted.length - 1) * q)];
  return { p50: at(0.5), p95: at(0.95) };
};

const server = await serveDist(DIST, { mounts: { '/test/': `${ROOT}tests/e2e/pages` } });
const llm = await startLlmServer();
const browser = await launchBrowser();
try {
  // Fill the bank through the worker (real embeddings), and let its graph build and save.
  const harness = await browser.newPage();
  await openHarness(harness, server.url);
  const fillStart = performance.now();
  for (let from = 0; from < COUNT; from += BATCH) {
    const texts = Array.from({ length: Math.min(BATCH, COUNT - from) }, (_, i) => [from + i, memoryText(from + i)]);
    await harness.evaluate(async (texts) => {
      const now = Date.now();
      const changes = texts.map(([n, text]) => ({
        type: 'save',
        memory: {
          id: `m${String(n).padStart(27, '0')}`, kind: n % 3 === 0 ? 'fact' : 'note', text,
          source: { type: 'manual' }, pool: 'default', created_at: now, updated_at: now, revision: 1,
        },
        base_revision: null,
        changed_by: 'import',
      }));
      await window.casebook.request({ type: 'apply_changes', changes });
    }, texts);
    process.stderr.write(`\rfilling the bank: ${from + texts.length} / ${COUNT}`);
  }
  const fillSeconds = (performance.now() - fillStart) / 1000;
  process.stderr.write('\nwaiting for the index build\n');
  await harness.waitForFunction(
    (count) => { const s = window.casebook.bankStatus; return s.memories === count && !s.rebuilding; },
    COUNT,
    { timeout: 1_800_000, polling: 500 },
  );
  const graph = await harness.evaluate(() => window.casebook.bankStatus.graph);
  const search = await harness.evaluate(async ({ questions, warmup }) => {
    const times = [];
    for (const [n, text] of questions.entries()) {
      const start = performance.now();
      await window.casebook.request({ type: 'search', text, k: 4, filter: {} });
      if (n >= warmup) times.push(performance.now() - start);
    }
    return times;
  }, { questions: QUESTIONS.map((q) => `${q} (harness)`), warmup: WARMUP });
  await harness.evaluate(() => window.casebook.terminate());

  // The app: stamp Enter and the provider call in the page.
  const page = harness;
  await page.addInitScript(() => {
    window.chatBench = { enter: [], call: [] };
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) window.chatBench.enter.push(performance.now());
    }, true);
    const fetch = window.fetch;
    window.fetch = function (input, init) {
      const url = typeof input === 'string' ? input : input.url;
      if (url.includes('/chat/completions')) window.chatBench.call.push(performance.now());
      return fetch.call(this, input, init);
    };
  });
  await page.goto(server.url + '/');
  await waitForApp(page);
  await setLearning(page, {});
  await addProvider(page, server.url, { name: 'Scripted', baseUrl: llm.url + '/v1' });
  await page.getByRole('link', { name: 'Chat' }).click();
  await page.getByLabel('Message', { exact: true }).waitFor();
  const chat = [];
  for (const [n, question] of QUESTIONS.entries()) {
    await page.evaluate(() => { window.chatBench.enter = []; window.chatBench.call = []; });
    await ask(page, question);
    const { enter, call } = await page.evaluate(() => window.chatBench);
    if (enter.length !== 1 || call.length !== 1) {
      throw new Error(`question ${n}: expected one Enter and one provider call, saw ${enter.length} and ${call.length}`);
    }
    if (n >= WARMUP) chat.push(call[0] - enter[0]);
  }
  const loaded = await page.getByTestId('status-bank').textContent();
  const prompts = llm.requests.filter((request) => request.method === 'POST');
  const withMemories = prompts.filter((request) => JSON.stringify(request.body).includes('[M1]')).length;

  const ms = (value) => `${value.toFixed(1)} ms`;
  const row = (what, { p50, p95 }) => console.log(`| ${what} | ${ms(p50)} | ${ms(p95)} |`);
  console.log(`Chat latency, headless Chromium (release build), ${COUNT} memories; ${RUNS} questions after ${WARMUP} warm-up`);
  console.log(`(bank filled in ${fillSeconds.toFixed(0)} s; graph index: ${graph}; status bar: "${loaded.trim()}"; ` +
    `${withMemories} of ${prompts.length} prompts carried memories)`);
  console.log('| measure | p50 | p95 |');
  console.log('|---|---|---|');
  row('worker search: embed the question + hybrid retrieval (k 4)', percentiles(search));
  row('Enter → request to the provider leaves the browser', percentiles(chat));
  if (browser.consoleErrors.length) console.log('console errors:', browser.consoleErrors);
} finally {
  await browser.close();
  await llm.close();
  await server.close();
}
