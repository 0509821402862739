// Helpers for the memory editor's end-to-end tests: seed the store through the
// worker harness (tests/e2e/pages/worker.html), then drive the app's /memory page.
import { openHarness } from './bank.mjs';

/// Writes `changes` (protocol `MemoryChange`s) through the harness's own worker,
/// waits until every memory is embedded, then leaves the harness page so that the
/// app's worker is the only one with the database open.
export async function seed(page, serverUrl, changes) {
  await openHarness(page, serverUrl);
  const applied = await page.evaluate(
    async (changes) => window.casebook.request({ type: 'apply_changes', changes }),
    changes,
  );
  const failed = applied.outcomes.filter((o) => o.outcome === 'failed');
  if (failed.length > 0) throw new Error(`seeding failed: ${JSON.stringify(failed)}`);
  await page.evaluate(() => window.casebook.terminate());
  return applied.outcomes;
}

/// Puts records straight into an IndexedDB store of the `casebook` database.
export async function putRecords(page, store, records) {
  await page.evaluate(
    async ({ store, records }) => {
      const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open('casebook');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      await new Promise((resolve, reject) => {
        const transaction = db.transaction(store, 'readwrite');
        for (const record of records) transaction.objectStore(store).put(record);
        transaction.oncomplete = resolve;
        transaction.onerror = () => reject(transaction.error);
      });
      db.close();
    },
    { store, records },
  );
}

/// Every record of the stores export and import touch, sorted, for comparing
/// whole stores (vectors as plain arrays).
export async function dumpStore(page) {
  return page.evaluate(async () => {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open('casebook');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const all = (store) =>
      new Promise((resolve, reject) => {
        if (!db.objectStoreNames.contains(store)) return resolve([]);
        const request = db.transaction(store).objectStore(store).getAll();
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    const dump = {};
    for (const store of ['memories', 'revisions', 'pools', 'assistants', 'vectors']) {
      dump[store] = (await all(store)).map((record) =>
        record.vector ? { ...record, vector: Array.from(record.vector) } : record,
      );
    }
    db.close();
    return dump;
  });
}

/// Opens the memory page and waits until its list has loaded.
export async function openMemoryPage(page, serverUrl, path = '/memory') {
  await page.goto(serverUrl + path);
  await page.getByTestId('list-count').getByText(/^(\d+ memor(y|ies)|1 memory)( in the trash)?$/).waitFor();
}

/// The texts of the rows the list shows, in order.
export async function rowTexts(page) {
  return page.getByTestId('memory-row').locator('.row-text').allTextContents();
}

/// The row whose text contains `text`.
export function row(page, text) {
  return page.getByTestId('memory-row').filter({ hasText: text });
}

/// A search through the harness's worker (after `openHarness`), as the chat
/// searches: [{id, vector, keyword}].
export async function searchThroughHarness(page, text, filter = {}) {
  return page.evaluate(
    async ({ text, filter }) => {
      const worker = window.casebook;
      const reply = await worker.request({ type: 'search', text, k: 5, filter });
      return reply.results.map((r) => ({
        id: r.memory.id,
        vector: r.explanation.vector_score,
        keyword: r.explanation.keyword_score,
      }));
    },
    { text, filter },
  );
}
