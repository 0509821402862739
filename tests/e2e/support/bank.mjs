// Helpers for tests that drive the worker's case bank directly through the
// harness page (tests/e2e/pages/worker.html), in the protocol's JSON shapes.

/// A memory record as src/core/memory.rs serialises it.
export function memory(id, text, kind = 'note', extra = {}) {
  const now = Date.now();
  return {
    id, kind, text, source: { type: 'manual' }, pool: 'default',
    created_at: now, updated_at: now, revision: 1, ...extra,
  };
}

/// A `save` change: new when `baseRevision` is null, else an edit of that revision.
export function save(memory, baseRevision = null) {
  return { type: 'save', memory, base_revision: baseRevision, changed_by: 'user' };
}

/// Sends `changes` to the harness's worker; resolves to its reply (`outcomes`).
export function applyChanges(page, changes) {
  return page.evaluate(async (changes) => window.casebook.request({ type: 'apply_changes', changes }), changes);
}

/// Opens the harness page (unless `navigate` is false), starts the worker, loads
/// the model and opens the bank; `window.casebook` is the worker handle, with
/// `bankStatus` the last status the worker reported.
export async function openHarness(page, serverUrl, { navigate = true } = {}) {
  if (navigate) await page.goto(serverUrl + '/test/worker.html');
  await page.evaluate(async () => {
    const worker = await window.startWorker('/worker_loader.js');
    window.casebook = worker;
    await worker.request({ type: 'load_model', base_url: new URL('/models/all-minilm-l6-v2/', location.href).href });
    const opened = await worker.request({ type: 'open_bank' });
    Object.defineProperty(worker, 'bankStatus', { get: () => worker.bank.at(-1) ?? opened.status });
  });
}

/// Reads the `casebook` database directly: its memories, vectors, and the
/// memories that are torn (no vector, or a vector newer than the memory) or
/// vectors without a memory.
export async function readStore(page) {
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
    const memories = await all('memories');
    const vectors = await all('vectors');
    db.close();
    const byMemory = new Map(vectors.map((v) => [v.memory_id, v]));
    const torn = [];
    for (const m of memories) {
      const v = byMemory.get(m.id);
      if (!v) torn.push(`${m.id}: no vector`);
      else if (v.version > m.revision) torn.push(`${m.id}: vector of revision ${v.version} > ${m.revision}`);
      else if (v.vector.length !== 384) torn.push(`${m.id}: vector of ${v.vector.length} values`);
    }
    const ids = new Set(memories.map((m) => m.id));
    for (const v of vectors) if (!ids.has(v.memory_id)) torn.push(`${v.memory_id}: vector without memory`);
    return {
      memories: memories.map(({ id, revision, text }) => ({ id, revision, text })),
      vectors: vectors.length,
      vectorVersions: Object.fromEntries(vectors.map((v) => [v.memory_id, v.version])),
      torn,
    };
  });
}
