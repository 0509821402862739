// The case bank in the browser: memories persist in IndexedDB with their vectors,
// are searchable after a reload, edits keep history and never overwrite a newer
// state, and a large bank is indexed in the background. Killing the page in the
// middle of a change is the fault suite's (faults.test.mjs).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serveDist } from './support/static_server.mjs';
import { launchBrowser } from './support/browser.mjs';
import { applyChanges, openHarness, memory, save, readStore } from './support/bank.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.CASEBOOK_DIST ?? `${ROOT}dist`;

let server;
let browser;

before(async () => {
  server = await serveDist(DIST, { mounts: { '/test/': `${ROOT}tests/e2e/pages` } });
});

after(async () => {
  await server?.close();
});

afterEach(async () => {
  const errors = browser.consoleErrors.splice(0);
  await browser.close();
  assert.deepEqual(errors, [], 'the page logged errors');
});

test('memories are saved with vectors, found by meaning and by keyword, and survive a reload', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await openHarness(page, server.url);
  const saved = await page.evaluate(
    async ({ memories }) => window.casebook.request({ type: 'apply_changes', changes: memories }),
    {
      memories: [
        save(memory('m0000000000a0000000000000001', 'The office wifi password is hunter2-blue')),
        save(memory('m0000000000a0000000000000002', 'My daughter is allergic to peanuts')),
        save(memory('m0000000000a0000000000000003', 'I prefer answers as short bullet lists', 'preference')),
      ],
    },
  );
  assert.deepEqual(saved.outcomes.map((o) => o.outcome), ['saved', 'saved', 'saved']);

  const search = (text) =>
    page.evaluate(
      async (text) => window.casebook.request({ type: 'search', text, k: 3, filter: {} }),
      text,
    );
  // Paraphrase: found by the vector, not by shared words.
  let found = await search('Which foods must my child avoid?');
  assert.equal(found.results[0].memory.id, 'm0000000000a0000000000000002');
  assert.ok(found.results[0].explanation.vector_score > 0.3);
  // An exact token: the keyword index finds it.
  found = await search('hunter2-blue');
  assert.equal(found.results[0].memory.id, 'm0000000000a0000000000000001');
  assert.ok(found.results[0].explanation.keyword_score > 0);

  await page.reload();
  const store = await readStore(page);
  await openHarness(page, server.url, { navigate: false });
  assert.equal(store.memories.length, 3);
  assert.deepEqual(store.torn, [], 'every memory has a vector of its revision');
  found = await search('peanut allergy');
  assert.equal(found.results[0].memory.id, 'm0000000000a0000000000000002');
  const status = await page.evaluate(() => window.casebook.bankStatus);
  assert.equal(status.memories, 3);
  assert.equal(status.embedded, 3);
});

test('an edit keeps the old text as history; a stale edit is refused; the trash hides and restores', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await openHarness(page, server.url);
  const id = 'm0000000000b0000000000000001';
  const apply = (changes) => applyChanges(page, changes);
  await apply([save(memory(id, 'I live in Lyon'))]);
  const edited = await apply([save(memory(id, 'I live in Paris'), 1)]);
  assert.equal(edited.outcomes[0].memory.revision, 2);

  const stale = await apply([save(memory(id, 'I live in Berlin'), 1)]);
  assert.equal(stale.outcomes[0].outcome, 'failed');
  assert.match(stale.outcomes[0].message, /changed elsewhere/);

  const history = await page.evaluate(
    async (id) => window.casebook.request({ type: 'memory_history', id }),
    id,
  );
  assert.equal(history.memory.text, 'I live in Paris');
  assert.deepEqual(history.revisions.map((r) => r.before.text), ['I live in Lyon']);

  // The vector follows the edit: the old city no longer finds it by meaning.
  let found = await page.evaluate(async () =>
    window.casebook.request({ type: 'search', text: 'Paris', k: 1, filter: {} }),
  );
  assert.equal(found.results[0].memory.id, id);

  await apply([{ type: 'trash', id, base_revision: 2, changed_by: 'user' }]);
  found = await page.evaluate(async () =>
    window.casebook.request({ type: 'search', text: 'Paris', k: 5, filter: {} }),
  );
  assert.equal(found.results.length, 0, 'a trashed memory is never retrieved');
  const trash = await page.evaluate(async () =>
    window.casebook.request({ type: 'list_memories', query: { trash: true, limit: 10 } }),
  );
  assert.deepEqual(trash.page.memories.map((m) => m.id), [id]);

  await page.reload();
  await openHarness(page, server.url);
  assert.equal((await page.evaluate(() => window.casebook.bankStatus)).trashed, 1);
  await apply([{ type: 'restore', id, changed_by: 'user' }]);
  found = await page.evaluate(async () =>
    window.casebook.request({ type: 'search', text: 'Paris', k: 5, filter: {} }),
  );
  assert.equal(found.results[0].memory.id, id);
});

test('an edit made while the model is not loaded drops the old vector, and the new text is embedded once it loads', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await openHarness(page, server.url);
  const id = 'm0000000000c0000000000000001';
  const apply = (changes) => applyChanges(page, changes);
  await apply([save(memory(id, 'The spare key is under the blue flowerpot'))]);

  // Reopened without loading the model: the edit cannot be embedded.
  await page.reload();
  await page.evaluate(async () => {
    window.casebook = await window.startWorker('/worker_loader.js');
    await window.casebook.request({ type: 'open_bank' });
  });
  const edited = await apply([save(memory(id, 'The spare key now hangs in the garage'), 1)]);
  assert.equal(edited.outcomes[0].memory.revision, 2);
  let store = await readStore(page);
  assert.deepEqual(store.torn, [`${id}: no vector`], 'the vector of the old text is gone');

  // With the model back, the background pass embeds the new text.
  await page.reload();
  await openHarness(page, server.url, { navigate: false });
  await page.waitForFunction(() => window.casebook.bankStatus.embedded === 1, null, { timeout: 60_000 });
  store = await readStore(page);
  assert.deepEqual(store.torn, []);
  assert.equal(store.vectorVersions[id], 2, 'the vector is of the edited text');
});

test('past the exact-search size the index is built in the background, searched meanwhile, and saved', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await openHarness(page, server.url);
  const count = Number(process.env.CASEBOOK_INDEX_TEST_SIZE ?? 3_200);
  const reply = await page.evaluate(async (count) => {
    const changes = Array.from({ length: count }, (_, n) => ({
      type: 'save',
      memory: {
        id: `m${String(n).padStart(27, '0')}`, kind: 'note', text: `Ticket ${n} concerns shelf ${n % 97}`,
        source: { type: 'manual' }, pool: 'default', created_at: 1, updated_at: 1, revision: 1,
      },
      base_revision: null,
      changed_by: 'import',
    }));
    return window.casebook.request({ type: 'apply_changes', changes });
  }, count);
  assert.equal(reply.outcomes.filter((o) => o.outcome === 'saved').length, count);

  // The build runs in another worker: this one keeps answering.
  await page.waitForFunction(() => window.casebook.bank.some((status) => status.rebuilding), null, { timeout: 60_000 });
  const during = await page.evaluate(async () =>
    window.casebook.request({ type: 'search', text: 'Ticket 1234', k: 1, filter: {} }),
  );
  assert.equal(during.results[0].memory.text, 'Ticket 1234 concerns shelf 70');
  await page.waitForFunction(
    () => { const s = window.casebook.bankStatus; return s.graph && !s.rebuilding; },
    null,
    { timeout: 600_000 },
  );
  const after = await page.evaluate(async () =>
    window.casebook.request({ type: 'search', text: 'Ticket 2345', k: 1, filter: {} }),
  );
  assert.equal(after.results[0].memory.text, 'Ticket 2345 concerns shelf 17');

  // A reload finds the saved graph instead of building again.
  await page.reload();
  await openHarness(page, server.url, { navigate: false });
  const status = await page.evaluate(() => window.casebook.bankStatus);
  assert.equal(status.memories, count);
  assert.equal(status.graph, true);
  assert.equal(status.rebuilding, false);
});
