// Several tabs: a change in one appears in the others, two tabs editing the same
// memory never lose an update, and a schema upgrade from a newer tab is not
// blocked by an older one, which tells its user to reload.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serveDist } from './support/static_server.mjs';
import { launchBrowser } from './support/browser.mjs';
import { applyChanges, openHarness, memory, save } from './support/bank.mjs';

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
  assert.deepEqual(errors, [], 'the pages logged errors');
});

const search = (page, text) =>
  page.evaluate(async (text) => window.casebook.request({ type: 'search', text, k: 3, filter: {} }), text);

test('a memory saved in one tab is found in another, and concurrent edits never overwrite each other', async () => {
  browser = await launchBrowser();
  const first = await browser.newPage();
  const second = await browser.context.newPage();
  await openHarness(first, server.url);
  await openHarness(second, server.url);

  const id = 'm0000000000c0000000000000001';
  await applyChanges(first, [save(memory(id, 'The boiler service is booked for March 3rd'))]);
  await second.waitForFunction((id) => window.casebook.changedElsewhere.includes(id), id);
  const found = await search(second, 'boiler service');
  assert.equal(found.results[0]?.memory.id, id, 'the other tab searches the new memory');
  assert.equal((await second.evaluate(() => window.casebook.bankStatus)).memories, 1);

  // Both tabs start from revision 1; the first edit wins, the second is refused.
  const edit = (page, text) => applyChanges(page, [save(memory(id, text), 1)]);
  const [a, b] = [await edit(first, 'The boiler service is booked for March 5th'), await edit(second, 'The boiler service is on March 9th')];
  assert.equal(a.outcomes[0].outcome, 'saved');
  assert.equal(b.outcomes[0].outcome, 'failed');
  assert.match(b.outcomes[0].message, /changed elsewhere/);
  // The second tab now holds the winning text, so the user edits from there.
  await second.waitForFunction(
    async (id) => (await window.casebook.request({ type: 'memory_history', id })).memory.revision === 2,
    id,
  );
  const retried = await applyChanges(second, [save(memory(id, 'The boiler service is on March 9th'), 2)]);
  assert.equal(retried.outcomes[0].memory.revision, 3);
  const history = await first.evaluate(async (id) => window.casebook.request({ type: 'memory_history', id }), id);
  assert.deepEqual(
    history.revisions.map((r) => r.before.text),
    ['The boiler service is booked for March 3rd', 'The boiler service is booked for March 5th'],
    'every update is kept in the history',
  );

  // Deleting in one tab removes it from the other's searches.
  await applyChanges(first, [{ type: 'trash', id, base_revision: 3, changed_by: 'user' }]);
  await second.waitForFunction(
    async () => (await window.casebook.request({ type: 'search', text: 'boiler', k: 3, filter: {} })).results.length === 0,
  );
});

test('a schema upgrade from a newer tab is not blocked, and the older tab asks for a reload', async () => {
  browser = await launchBrowser();
  const app = await browser.newPage();
  await app.goto(server.url + '/settings');
  await app.getByTestId('status-storage').getByText('Storage: ready').waitFor();
  await app.getByTestId('status-bank').getByText(/Memory: \d+ memor/).waitFor({ timeout: 60_000 });

  // A "newer Casebook" opens the database one version up.
  const newer = await browser.context.newPage();
  await newer.goto(server.url + '/test/worker.html');
  const upgraded = await newer.evaluate(
    () =>
      new Promise((resolve) => {
        const probe = indexedDB.open('casebook');
        probe.onsuccess = () => {
          const version = probe.result.version;
          probe.result.close();
          const request = indexedDB.open('casebook', version + 1);
          request.onupgradeneeded = () => request.result.createObjectStore('from_the_future', { keyPath: 'id' });
          request.onblocked = () => resolve('blocked');
          request.onsuccess = () => {
            request.result.close();
            resolve('upgraded');
          };
          request.onerror = () => resolve(String(request.error));
        };
      }),
  );
  assert.equal(upgraded, 'upgraded', 'the old tab and its worker closed their connections');
  await app.getByTestId('update-banner').getByText('Casebook was updated in another tab').waitFor();
  await app.getByTestId('status-storage').getByText(/Reload this page to continue/).waitFor();
});
