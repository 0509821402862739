// The fault suite: the page is killed at a random moment of a bulk import, a bulk
// edit or a background index rebuild, 50 times in all (CASEBOOK_KILL_ROUNDS), on a
// bank past the exact-search size. After each kill the store is read before any
// worker runs: no memory may be torn (without the vector of its text, or in a state
// no commit wrote) and nothing committed may be lost; then the reopened bank must
// hold every memory in its index. A summary table is printed at the end.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serveDist } from './support/static_server.mjs';
import { launchBrowser } from './support/browser.mjs';
import { applyChanges, openHarness, memory, save, readStore } from './support/bank.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.CASEBOOK_DIST ?? `${ROOT}dist`;
const ROUNDS = Number(process.env.CASEBOOK_KILL_ROUNDS ?? 50);
const KINDS = ['bulk import', 'bulk edit', 'rebuild'];
/// Changes in one bulk import or edit.
const BULK = 200;
/// CHANGES_PER_BATCH in src/web/engine/bank.rs: each batch is one transaction.
const BATCH = 32;
/// Past IndexConfig::exact_below (3,000), so that the bank has a graph to rebuild.
const SEED = 3_200;
/// IndexConfig::rebuild_after: buffered vectors that make a rebuild due.
const REBUILD_AFTER = 1_000;
/// The first hex digit of the ids each source of memories writes.
const SERIES = { seed: 'a', import: 'b', rebuild: 'c' };

let server;
let browser;
/// The harness page the next round runs in (the previous round's check page).
let page;
/// Every memory as the store held it after the last kill: id → { revision, text }.
let committed;
/// How long the seed's index build took: the rebuild kills fall within it.
let buildMs;
const summary = new Map(KINDS.map((kind) => [kind, { trials: 0, landed: 0, torn: 0, lost: 0, failures: 0 }]));

before(async () => {
  server = await serveDist(DIST, { mounts: { '/test/': `${ROOT}tests/e2e/pages` } });
  browser = await launchBrowser();
  page = await browser.newPage();
  await openHarness(page, server.url);
  const seed = Array.from({ length: SEED }, (_, n) =>
    imported(memory(memoryId(SERIES.seed, 0, n), `Ticket ${n} concerns shelf ${n % 97}`)),
  );
  const reply = await applyChanges(page, seed);
  assert.equal(reply.outcomes.filter((o) => o.outcome === 'saved').length, SEED);
  // The build is due as the seed is applied, so it runs from the reply on.
  const started = Date.now();
  assert.equal(await page.evaluate(() => window.casebook.bankStatus.rebuilding), true);
  await page.waitForFunction(
    () => { const s = window.casebook.bankStatus; return s.graph && !s.rebuilding; },
    null,
    { timeout: 300_000 },
  );
  buildMs = Date.now() - started;
  committed = statesOf(await readStore(page));
});

after(async () => {
  console.log(`Fault suite\n${summaryTable()}`);
  await browser?.close();
  await server?.close();
});

afterEach(() => {
  assert.deepEqual(browser.consoleErrors.splice(0), [], 'the page logged errors');
});

test(`killing the page during a bulk import tears nothing and loses nothing committed (${roundsOf('bulk import')} rounds)`, async () => {
  for (let round = 0; round < roundsOf('bulk import'); round++) {
    await trial('bulk import', round, async () => {
      const writes = Array.from({ length: BULK }, (_, n) => {
        const token = `I${round}N${n}`;
        const text = `Import ${round} note ${n}: the parcel code is ${token}`;
        return { id: memoryId(SERIES.import, round, n), revision: 1, text, token };
      });
      const request = await startChanges(writes.map((w) => imported(memory(w.id, w.text))));
      return { writes, done: await killMidBulk(request) };
    });
  }
});

test(`killing the page during a bulk edit tears nothing and loses nothing committed (${roundsOf('bulk edit')} rounds)`, async () => {
  for (let round = 0; round < roundsOf('bulk edit'); round++) {
    await trial('bulk edit', round, async () => {
      const writes = sample([...committed.keys()], BULK).map((id, n) => {
        const token = `E${round}N${n}`;
        const text = `Edit ${round} of note ${n}: the locker code is now ${token}`;
        return { id, revision: committed.get(id).revision + 1, text, token };
      });
      const request = await startChanges(writes.map((w) => save(memory(w.id, w.text), w.revision - 1)));
      return { writes, done: await killMidBulk(request) };
    });
  }
});

test(`killing the page while the index is rebuilt tears nothing and loses nothing committed (${roundsOf('rebuild')} rounds)`, async () => {
  for (let round = 0; round < roundsOf('rebuild'); round++) {
    await trial('rebuild', round, async () => {
      // Memories added while the index builds, which installing the build must keep;
      // when no build runs (one that a kill cut short starts again as the bank
      // opens), as many more as make one due.
      const writes = [];
      const add = async (count) => {
        const added = Array.from({ length: count }, (_, k) => {
          const n = writes.length + k;
          const token = `B${round}N${n}`;
          const text = `Rebuild ${round} note ${n}: the shelf tag is ${token}`;
          return { id: memoryId(SERIES.rebuild, round, n), revision: 1, text, token };
        });
        const reply = await applyChanges(page, added.map((w) => imported(memory(w.id, w.text))));
        assert.equal(reply.outcomes.filter((o) => o.outcome === 'saved').length, count);
        writes.push(...added);
      };
      await add(BATCH);
      const status = await page.evaluate(() => window.casebook.bankStatus);
      if (!status.rebuilding) await add(Math.max(BATCH, REBUILD_AFTER - status.buffered));
      assert.equal(await page.evaluate(() => window.casebook.bankStatus.rebuilding), true, 'a rebuild runs');
      await page.waitForTimeout(Math.floor(Math.random() * buildMs));
      const rebuilding = await page.evaluate(() => window.casebook.bankStatus.rebuilding);
      await page.close({ runBeforeUnload: false });
      return { writes, done: writes.length, rebuilding };
    });
  }
});

/// One kill and its check. `operate` starts the operation in `page`, kills the page
/// at a random moment of it and resolves to the round's `writes` ({ id, revision,
/// text, token } each, in request order), how many of them were reported committed
/// (`done`) and, for a rebuild, whether one was running at the kill.
async function trial(kind, round, operate) {
  const { writes, done, rebuilding } = await operate();
  page = await browser.context.newPage();
  await page.goto(server.url + '/test/worker.html');
  // Read before any worker could repair it.
  const store = await readStore(page);
  await openHarness(page, server.url, { navigate: false });
  const { torn, lost, applied } = audit(store, writes, done);
  const unindexed = await auditIndex(store, applied);
  committed = statesOf(store);

  const landed = rebuilding ?? applied.length < writes.length;
  const stats = summary.get(kind);
  stats.trials += 1;
  stats.landed += landed ? 1 : 0;
  stats.torn += torn.length;
  stats.lost += lost.length;
  stats.failures += torn.length + lost.length + unindexed.length > 0 ? 1 : 0;
  assert.deepEqual(
    { torn, lost, unindexed },
    { torn: [], lost: [], unindexed: [] },
    `${kind} round ${round}: killed with ${done} of ${writes.length} changes reported committed, ${applied.length} stored`,
  );
  // A bulk change is killed before its last batches by construction; a rebuild
  // may end before its random moment, which the table counts.
  if (rebuilding === undefined) assert.ok(landed, `${kind} round ${round}: killed mid-operation`);
}

/// Checks the store read after a kill against what was committed before the round
/// and the round's writes, the first `done` of them reported committed. Torn: a
/// memory torn as readStore sees it, in a state no commit wrote, or written without
/// the vector of its new text. Lost: a committed memory missing or at an older
/// revision. `applied`: the writes the store holds, in request order.
function audit(store, writes, done) {
  const stored = new Map(store.memories.map((m) => [m.id, m]));
  const same = (a, b) => a.revision === b.revision && a.text === b.text;
  const mustHave = new Map(committed);
  for (const write of writes.slice(0, done)) mustHave.set(write.id, write);
  const pending = new Map(writes.slice(done).map((write) => [write.id, write]));

  const lost = [];
  for (const [id, want] of mustHave) {
    const got = stored.get(id);
    if (!got) lost.push(`${id}: missing`);
    else if (got.revision < want.revision) lost.push(`${id}: at revision ${got.revision}, committed at ${want.revision}`);
  }
  const tornIds = new Map(store.torn.map((reason) => [reason.split(':')[0], reason]));
  const lostIds = new Set(lost.map((reason) => reason.split(':')[0]));
  for (const got of store.memories) {
    const written = [mustHave.get(got.id), pending.get(got.id)].filter(Boolean);
    if (!lostIds.has(got.id) && !tornIds.has(got.id) && !written.some((state) => same(state, got))) {
      tornIds.set(got.id, `${got.id}: revision ${got.revision} "${got.text}" was never written`);
    }
  }
  const applied = writes.filter((write) => stored.has(write.id) && same(stored.get(write.id), write));
  for (const write of applied) {
    const version = store.vectorVersions[write.id];
    if (version !== write.revision && !tornIds.has(write.id)) {
      tornIds.set(write.id, `${write.id}: text of revision ${write.revision}, vector of ${version}`);
    }
  }
  return { torn: [...tornIds.values()], lost, applied };
}

/// Checks the reopened bank's index: every stored memory has its entry, and the
/// round's last applied write is found by its token.
async function auditIndex(store, applied) {
  const problems = [];
  // The status sent as the bank opened, before the background pass could embed
  // what lacked a vector.
  const opened = await page.evaluate(() => window.casebook.bank[0]);
  if (opened.memories !== store.memories.length) {
    problems.push(`the bank opened with ${opened.memories} memories; the store holds ${store.memories.length}`);
  }
  if (opened.embedded !== opened.memories) {
    problems.push(`${opened.memories - opened.embedded} of ${opened.memories} memories have no index entry`);
  }
  const last = applied.at(-1);
  if (last) {
    const found = await page.evaluate(
      async (text) => window.casebook.request({ type: 'search', text, k: 1, filter: {} }),
      last.token,
    );
    const id = found.results[0]?.memory.id;
    if (id !== last.id) problems.push(`searching ${last.token} finds ${id}, not ${last.id}`);
  }
  return problems;
}

/// Starts applying `changes` in `page` without waiting for the reply; resolves to
/// the request's id, under which its progress is reported.
function startChanges(changes) {
  return page.evaluate((changes) => window.casebook.requestWithId({ type: 'apply_changes', changes }).id, changes);
}

/// Kills `page` after a random number (1 to 4) of the request's batches committed,
/// at a random moment of the next; resolves to how many changes were reported
/// committed by then.
async function killMidBulk(request) {
  const batches = 1 + Math.floor(Math.random() * 4);
  await page.waitForFunction(
    ({ request, wanted }) => (window.casebook.progress.get(request)?.done ?? 0) >= wanted,
    { request, wanted: batches * BATCH },
    { timeout: 120_000 },
  );
  await page.waitForTimeout(Math.floor(Math.random() * 400));
  const done = await page.evaluate((request) => window.casebook.progress.get(request)?.done ?? 0, request);
  await page.close({ runBeforeUnload: false });
  return done;
}

/// An id in MemoryId's shape: "m", 11 hex digits (here the series and round), 16
/// more (here the number).
function memoryId(series, round, n) {
  return `m${series}${String(round).padStart(10, '0')}${String(n).padStart(16, '0')}`;
}

/// A `save` of a new memory, as an import makes it.
function imported(memory) {
  return { ...save(memory), changed_by: 'import' };
}

function statesOf(store) {
  return new Map(store.memories.map(({ id, revision, text }) => [id, { revision, text }]));
}

/// `count` of `items`, drawn at random.
function sample(items, count) {
  const pool = [...items];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, count);
}

/// Rounds go to the kinds in turn: of 50, 17 imports, 17 edits and 16 rebuilds.
function roundsOf(kind) {
  return Math.max(0, Math.ceil((ROUNDS - KINDS.indexOf(kind)) / KINDS.length));
}

function summaryTable() {
  const rows = [...summary].map(([kind, s]) => [kind, s.trials, s.landed, s.torn, s.lost, s.failures]);
  const total = ['total', ...[1, 2, 3, 4, 5].map((column) => rows.reduce((sum, row) => sum + row[column], 0))];
  return [
    '| operation | trials | killed mid-operation | torn memories | committed memories lost | failures |',
    '|---|--:|--:|--:|--:|--:|',
    ...[...rows, total].map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}
