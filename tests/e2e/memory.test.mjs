// The memory editor in the built app: search, edit → history → restore, trash and
// undo, bulk operations with the keyboard and the mouse, the map, pools kept apart,
// and export → bad files refused → wipe → import.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { serveDist } from './support/static_server.mjs';
import { launchBrowser } from './support/browser.mjs';
import { memory, save, openHarness } from './support/bank.mjs';
import {
  seed, putRecords, dumpStore, openMemoryPage, rowTexts, row, searchThroughHarness,
} from './support/memory_page.mjs';

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

const id = (n) => `m0000000001${String(n).padStart(17, '0')}`;

test('edit → history with a word diff → restore an earlier version → undo the restore', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await seed(page, server.url, [
    save(memory(id(1), 'I live in Lyon with my two cats', 'fact')),
    save(memory(id(2), 'Answer in short bullet points', 'preference')),
  ]);
  await openMemoryPage(page, server.url);
  assert.equal(await page.getByTestId('list-count').textContent(), '2 memories');

  await row(page, 'I live in Lyon').click();
  const editor = page.getByTestId('memory-editor');
  const text = editor.getByLabel('Text', { exact: true });
  assert.equal(await text.inputValue(), 'I live in Lyon with my two cats');
  await editor.getByText('Written by you.').waitFor();
  await text.fill('I live in Paris with my two cats');
  await editor.getByTestId('unsaved').waitFor();
  await editor.getByTestId('save-memory').click();
  await editor.getByTestId('editor-status').getByText('Saved the memory.').waitFor();
  await row(page, 'I live in Paris').waitFor();

  // The history says what changed, by whom, and shows the words.
  const entry = editor.getByTestId('history-entry').first();
  await entry.getByText('Text edited').waitFor();
  assert.equal(await entry.locator('del').textContent(), 'Lyon');
  assert.equal(await entry.locator('ins').textContent(), 'Paris');

  // Pinning is a revision too, and needs no new embedding.
  await editor.getByLabel('Pinned').check();
  await editor.getByTestId('save-memory').click();
  await editor.getByTestId('history-entry').filter({ hasText: 'Pinned' }).waitFor();
  assert.equal(await editor.getByTestId('history-entry').count(), 3, 'two changes and the creation');

  // Restore version 1: the text comes back as a new revision (history only grows).
  await editor.getByRole('button', { name: 'Restore version 1' }).click();
  await editor.getByTestId('editor-status').getByText('Restored an earlier version.').waitFor();
  await page.waitForFunction(() =>
    document.querySelector('#edit-text')?.value === 'I live in Lyon with my two cats');
  assert.equal(await editor.getByTestId('history-entry').count(), 4);
  assert.equal(await editor.getByLabel('Pinned').isChecked(), false, 'version 1 was not pinned');

  // The toast offers to undo the restore, and Undo puts the pinned Paris version back.
  const toast = page.getByTestId('undo-toast');
  await toast.getByText('Restored an earlier version').waitFor();
  await toast.getByRole('button', { name: 'Undo' }).click();
  await toast.getByText('Undone: Restored an earlier version').waitFor();
  await page.waitForFunction(() =>
    document.querySelector('#edit-text')?.value === 'I live in Paris with my two cats');
  assert.equal(await editor.getByLabel('Pinned').isChecked(), true);

  // Search by meaning finds the edited text, not the old one.
  await page.getByLabel('Search', { exact: true }).fill('Which city is my home?');
  await page.getByTestId('list-count').getByText('found by meaning').waitFor();
  assert.match((await rowTexts(page))[0], /Paris/);

  // Exact words find only the memories that contain them; Escape clears the search.
  await page.getByLabel('Exact words').check();
  await page.getByLabel('Search', { exact: true }).fill('bullet');
  await page.getByTestId('list-count').getByText('1 memory', { exact: true }).waitFor();
  assert.deepEqual(await rowTexts(page), ['Answer in short bullet points']);
  await page.getByLabel('Search', { exact: true }).fill('Lyon');
  await page.getByTestId('list-empty').getByText('No memory matches.').waitFor();
  await page.getByLabel('Search', { exact: true }).press('Escape');
  await page.getByTestId('list-count').getByText('2 memories', { exact: true }).waitFor();
});

test('delete → trash → restore, Ctrl+Z outside text fields, and drafts survive switching memories', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await seed(page, server.url, [
    save(memory(id(1), 'The wifi password is hunter2-blue', 'fact')),
    save(memory(id(2), 'My daughter is allergic to peanuts', 'fact')),
  ]);
  await openMemoryPage(page, server.url);

  // An unsaved edit stays when another memory is opened, and comes back.
  await row(page, 'wifi').click();
  const editor = page.getByTestId('memory-editor');
  await editor.getByLabel('Text', { exact: true }).fill('The wifi password is hunter3-green');
  await row(page, 'peanuts').click();
  await page.waitForFunction(() => document.querySelector('#edit-text')?.value.includes('peanuts'));
  await row(page, 'wifi').click();
  await page.waitForFunction(() => document.querySelector('#edit-text')?.value === 'The wifi password is hunter3-green');
  await editor.getByTestId('unsaved').waitFor();
  await editor.getByRole('button', { name: 'Discard changes' }).click();

  await editor.getByTestId('trash-memory').click();
  await editor.getByTestId('in-trash').waitFor();
  await page.getByTestId('list-count').getByText('1 memory').waitFor();
  assert.deepEqual(await rowTexts(page), ['My daughter is allergic to peanuts']);

  // Ctrl+Z while the focus is on a button (not a text field) undoes the trash.
  await page.getByRole('tab', { name: /^Memories/ }).focus();
  await page.keyboard.press('Control+z');
  await page.getByTestId('undo-toast').getByText('Undone: Moved a memory to the trash').waitFor();
  await page.getByTestId('list-count').getByText('2 memories').waitFor();

  // Trash it again, then restore it from the trash tab with the bulk bar.
  await row(page, 'wifi').click();
  await editor.getByTestId('trash-memory').click();
  await page.getByRole('tab', { name: 'Trash (1)' }).click();
  await page.getByTestId('list-count').getByText('1 memory in the trash').waitFor();
  await row(page, 'wifi').locator('input[type=checkbox]').click();
  await page.getByTestId('bulk-restore').click();
  await page.getByTestId('bulk-message').getByText('Restored 1 memory.').waitFor();
  await page.getByTestId('list-empty').getByText('The trash is empty.').waitFor();
  await page.getByRole('tab', { name: 'Memories (2)' }).click();
  await row(page, 'wifi').waitFor();

  // Ctrl+Z inside a text field is the field's own undo, not the memory's.
  await page.getByLabel('Search', { exact: true }).focus();
  await page.keyboard.press('Control+z');
  await page.getByTestId('list-count').getByText('2 memories').waitFor();
  assert.equal(await page.getByRole('tab', { name: 'Trash (0)' }).count(), 1);

  // Keyboard only: Enter on a row opens it, Ctrl+Enter saves, Escape closes and
  // the focus goes back to the row.
  await row(page, 'peanuts').focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.id === 'editor-title');
  assert.equal(await editor.getByLabel('Text', { exact: true }).inputValue(), 'My daughter is allergic to peanuts');
  await editor.getByLabel('Text', { exact: true }).focus();
  await page.keyboard.press('End');
  await page.keyboard.type(' and sesame');
  await page.keyboard.press('Control+Enter');
  await editor.getByTestId('editor-status').getByText('Saved the memory.').waitFor();
  await row(page, 'peanuts and sesame').waitFor();
  await page.keyboard.press('Escape');
  await editor.waitFor({ state: 'detached' });
  await page.waitForFunction(() =>
    document.activeElement?.closest('[data-testid=memory-row]')?.textContent.includes('peanuts and sesame'));
});

test('bulk operations: Shift+click ranges, Space, select all, pin, move to a pool, trash, empty the trash', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  const notes = Array.from({ length: 30 }, (_, n) =>
    save(memory(id(n), `Note number ${String(n).padStart(2, '0')} about the garden`, 'note', { created_at: 1_767_225_600_000 + n * 1000 })));
  await seed(page, server.url, notes);
  await putRecords(page, 'pools', [{ id: 'work', name: 'Work', description: '' }]);
  await openMemoryPage(page, server.url);
  await page.getByTestId('sort').selectOption('oldest');
  await page.waitForFunction(() => document.querySelector('[data-testid=memory-row] .row-text')?.textContent.includes('00'));

  // Click the first checkbox, Shift+click the tenth: ten selected.
  await page.getByTestId('memory-row').nth(0).locator('input[type=checkbox]').click();
  await page.getByTestId('memory-row').nth(9).locator('input[type=checkbox]').click({ modifiers: ['Shift'] });
  await page.getByTestId('selected-count').getByText('10 selected').waitFor();
  await page.getByRole('button', { name: 'Pin', exact: true }).click();
  await page.getByTestId('bulk-message').getByText('Pinned 10 memories.').waitFor();

  // Keyboard: focus a row, Space toggles, ↓ moves, Shift+↓ extends.
  await page.getByTestId('memory-row').nth(10).click();
  await page.getByTestId('memory-editor').getByRole('button', { name: 'Close' }).click();
  await page.getByTestId('memory-row').nth(10).focus();
  await page.keyboard.press('Space');
  await page.keyboard.press('Shift+ArrowDown');
  await page.keyboard.press('Shift+ArrowDown');
  await page.getByTestId('selected-count').getByText('3 selected').waitFor();
  await page.locator('#bulk-pool').selectOption('work');
  await page.getByRole('button', { name: 'Move', exact: true }).click();
  await page.getByTestId('bulk-message').getByText('Moved 3 memories to pool work.').waitFor();

  await page.getByTestId('filter-pool').selectOption('work');
  await page.getByTestId('list-count').getByText('3 memories').waitFor();
  assert.deepEqual(await rowTexts(page), [10, 11, 12].map((n) => `Note number ${n} about the garden`));
  await page.getByTestId('filter-pool').selectOption('');
  await page.getByRole('combobox', { name: 'Pinned' }).selectOption('yes');
  await page.getByTestId('list-count').getByText('10 memories').waitFor();
  assert.ok((await page.getByTestId('memory-row').locator('.pin-badge').count()) >= 9);

  // Select all (of the pinned ones) with Ctrl+A in the list, and trash them; Undo brings them back.
  await page.getByTestId('memory-row').first().focus();
  await page.keyboard.press('Control+a');
  await page.getByTestId('selected-count').getByText('10 selected').waitFor();
  await page.getByTestId('bulk-trash').click();
  await page.getByTestId('bulk-message').getByText('Moved 10 memories to the trash.').waitFor();
  await page.getByTestId('list-empty').waitFor();
  await page.getByTestId('undo-toast').getByRole('button', { name: 'Undo' }).click();
  await page.getByTestId('list-count').getByText('10 memories').waitFor();
  await page.getByTestId('memory-row').first().focus();
  await page.keyboard.press('Control+a');
  await page.getByTestId('bulk-trash').click();
  await page.getByTestId('bulk-message').getByText('Moved 10 memories to the trash.').waitFor();

  // Empty the trash: asked first, then gone for good.
  await page.getByRole('tab', { name: 'Trash (10)' }).click();
  await page.getByTestId('empty-trash').click();
  await page.getByTestId('confirm-purge').getByText('Delete 10 memories for good?').waitFor();
  await page.getByRole('button', { name: 'Delete for good' }).click();
  await page.getByTestId('list-empty').getByText('The trash is empty.').waitFor();
  await page.getByRole('tab', { name: 'Memories (20)' }).waitFor();
});

test('the map draws one point per memory, coloured by kind; a click opens the memory; the timeline counts them', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  const kinds = ['fact', 'preference', 'note'];
  await seed(page, server.url, Array.from({ length: 12 }, (_, n) =>
    save(memory(id(n), `Memory ${n}: ${['the train leaves at nine', 'I like tea', 'buy bread'][n % 3]}`, kinds[n % 3]))));
  await openMemoryPage(page, server.url);
  await page.getByRole('tab', { name: 'Map and timeline' }).click();
  const points = page.getByTestId('memory-map').locator('circle');
  await points.first().waitFor();
  assert.equal(await points.count(), 12);
  assert.equal(await page.getByTestId('memory-map').locator('circle.kind-preference').count(), 4);
  const target = await points.nth(5).getAttribute('data-id');
  await points.nth(5).click();
  await page.getByTestId('memory-editor').waitFor();
  assert.equal(await page.locator(`[data-testid=memory-row][data-id="${target}"]`).getAttribute('class').then((c) => c.includes('open')), true);

  await page.getByRole('tab', { name: 'Map and timeline' }).click();
  await page.getByTestId('timeline').locator('rect.bar-added').first().waitFor();
  await page.getByText('Show as a table').click();
  const added = await page.locator('.timeline-table tbody td:nth-child(2)').allTextContents();
  assert.equal(added.reduce((sum, n) => sum + Number(n), 0), 12);
});

test('pools keep memories apart in retrieval; an assistant reads its own pool and the shared ones', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  const inPool = (n, text, pool) => save(memory(id(n), text, 'fact', { pool }));
  await seed(page, server.url, [
    inPool(1, 'The VPN at work is WireGuard on wg0', 'work'),
    inPool(2, 'At home the VPN is OpenVPN on the router', 'home'),
    inPool(3, 'My name is Camille and I prefer short answers', 'about-me'),
  ]);
  await openHarness(page, server.url);
  const ids = async (text, pools) => (await searchThroughHarness(page, text, { pools })).map((r) => r.id);
  assert.deepEqual(await ids('How do I connect to the VPN?', ['work']), [id(1)]);
  assert.deepEqual(await ids('How do I connect to the VPN?', ['home']), [id(2)]);
  const workAssistant = await ids('VPN, and what is my name?', ['work', 'about-me']);
  assert.deepEqual([...workAssistant].sort(), [id(1), id(3)]);
  assert.ok(!workAssistant.includes(id(2)), 'the home pool is not read by the work assistant');

  // The memory page's pool filter applies to searches by meaning too.
  await page.evaluate(() => window.casebook.terminate());
  await putRecords(page, 'pools', [
    { id: 'work', name: 'Work', description: '' },
    { id: 'home', name: 'Home', description: '' },
  ]);
  await openMemoryPage(page, server.url);
  await page.getByTestId('filter-pool').selectOption('home');
  await page.getByLabel('Search', { exact: true }).fill('VPN');
  await page.getByTestId('list-count').getByText('1 memory found by meaning').waitFor();
  assert.match((await rowTexts(page))[0], /OpenVPN/);
});

test('export → bad files refused with nothing changed → wipe → import gives the same store and the same search results', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  const lyon = memory(id(1), 'I live in Lyon with my two cats', 'fact');
  await seed(page, server.url, [
    save(lyon),
    save(memory(id(2), 'Answer in short bullet points', 'preference')),
    save(memory(id(3), 'The dentist appointment is on Tuesday at ten', 'note', { pool: 'home' })),
    save(memory(id(4), 'The old wifi password was hunter2', 'fact')),
  ]);
  // A second revision and a memory in the trash: history and trash travel too.
  await seed(page, server.url, [
    save({ ...lyon, text: 'I live in Paris with my two cats' }, 1),
    { type: 'trash', id: id(4), base_revision: 1, changed_by: 'user' },
  ]);
  await putRecords(page, 'pools', [{ id: 'home', name: 'Home', description: '' }]);

  await openMemoryPage(page, server.url);
  const search = async () => {
    await page.getByLabel('Search', { exact: true }).fill('Which city is my home?');
    await page.getByTestId('list-count').getByText('3 memories found by meaning, best first').waitFor();
    const texts = await rowTexts(page);
    await page.getByLabel('Search', { exact: true }).fill('');
    await page.getByTestId('list-count').getByText('3 memories', { exact: true }).waitFor();
    return texts;
  };
  const found = await search();
  assert.match(found[0], /Paris/);
  const before = await dumpStore(page);
  assert.equal(before.memories.length, 4);
  // A revision keeps the state a change replaced: one for the edit, one for the trashing.
  assert.equal(before.revisions.length, 2);

  // Export everything, the trash and the vectors included.
  await page.getByRole('tab', { name: 'Import and export' }).click();
  await page.getByLabel('Include the trash').check();
  await page.getByLabel(/Include the vectors/).check();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('export').click(),
  ]);
  assert.match(download.suggestedFilename(), /^casebook-\d{4}-\d\d-\d\d\.json$/);
  await page.getByTestId('export-result').getByText(/^Exported 4 memories to casebook-/).waitFor();
  const exportPath = await download.path();
  const exported = await readFile(exportPath, 'utf8');
  const file = JSON.parse(exported);
  assert.equal(file.format, 'casebook-export');
  assert.equal(file.memories.length, 4);

  // Bad files: each is refused with what is wrong, and nothing changes.
  const edited = (change) => {
    const copy = JSON.parse(exported);
    change(copy);
    return JSON.stringify(copy, null, 1);
  };
  // 25 kinds: the file as a whole, its header, then a field of each record type.
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(exported, 'utf16le')]);
  const latin1 = Buffer.concat([Buffer.from(exported.slice(0, 40)), Buffer.from([0xe9]), Buffer.from(exported.slice(40))]);
  const badFiles = [
    ['empty.json', '', 'the file is empty'],
    ['notes.json', 'my memories: cats, Lyon', 'the file is not valid JSON'],
    ['cut.json', exported.slice(0, Math.floor(exported.length / 2)), 'it looks cut off'],
    ['utf16.json', utf16, 'the file is UTF-16 text'],
    ['latin1.json', latin1, 'the file is not UTF-8 text'],
    ['deep.json', '['.repeat(100) + ']'.repeat(100), 'nests lists or objects more than 32 deep'],
    ['list.json', '[1, 2, 3]', 'instead of a JSON object'],
    ['other.json', edited((f) => { f.format = 'chatgpt-memories'; }), 'this is not a Casebook export'],
    ['unversioned.json', edited((f) => { delete f.version; }), 'does not say which version'],
    ['future.json', edited((f) => { f.version = 99; }), 'newer than this app'],
    ['version0.json', edited((f) => { f.version = 0; }), 'which does not exist'],
    ['repeated.json', exported.replace('{', '{"memories": [],'), 'has the field "memories" twice'],
    ['nomemories.json', edited((f) => { delete f.memories; }), 'has no "memories" list'],
    ['kind.json', edited((f) => { f.memories[1].kind = 'secret'; }), '"secret" is not a kind of memory'],
    ['twice.json', edited((f) => { f.memories[1].id = f.memories[0].id; }), 'is used twice'],
    ['emptyid.json', edited((f) => { f.memories[0].id = ''; }), 'memories[0].id: is empty'],
    ['bell.json', edited((f) => { f.memories[0].id = 'm\u0007'; }), 'memories[0].id: contains a control character'],
    ['notext.json', edited((f) => { delete f.memories[0].text; }), 'memories[0].text: is missing'],
    ['number.json', edited((f) => { f.memories[0].text = 42; }), 'memories[0].text: should be text, not 42'],
    ['when.json', edited((f) => { f.memories[0].created_at = -5; }), 'memories[0].created_at: should be 0 or more'],
    ['half.json', edited((f) => { f.memories[0].updated_at = 17.5; }), 'memories[0].updated_at: should be a whole number'],
    ['stranger.json', edited((f) => { f.revisions[0].before.id = 'nobody'; }), 'revisions[0].before.id: refers to memory "nobody", which is not in the file'],
    ['orphan.json', edited((f) => { f.vectors.items[0].memory_id = 'nobody'; }), 'vectors.items[0].memory_id: refers to memory "nobody"'],
    ['short.json', edited((f) => { f.vectors.items[0].vector = f.vectors.items[0].vector.slice(1); }), 'has 383 numbers, but "dimension" says 384'],
    ['long.json', edited((f) => { f.vectors.items[0].vector = f.vectors.items[0].vector.map((x) => x * 2); }), 'vectors must be normalised to length 1'],
  ];
  assert.equal(badFiles.length, 25);
  for (const [name, text, message] of badFiles) {
    await page.getByTestId('import-file').setInputFiles({
      name, mimeType: 'application/json', buffer: Buffer.isBuffer(text) ? text : Buffer.from(text),
    });
    const error = page.getByTestId('import-error');
    await error.getByText(message).waitFor();
    assert.match(await error.textContent(), /^This file cannot be imported: /, name);
    await page.getByTestId('import-step').getByText('Nothing was changed.').waitFor();
    assert.equal(await page.getByTestId('confirm-import').count(), 0, `${name} offers no import`);
  }
  assert.deepEqual(await dumpStore(page), before, 'the bad files changed nothing');

  // Wipe the browser's memory: a fresh database, as on another machine.
  await page.goto(server.url + '/test/worker.html');
  await page.evaluate(() => new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase('casebook');
    request.onsuccess = resolve;
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('the database is still open'));
  }));
  await openMemoryPage(page, server.url);
  await page.getByTestId('list-empty').getByText('No memories yet.').waitFor();

  // Import it: a dry-run summary first, then everything at once.
  await page.getByRole('tab', { name: 'Import and export' }).click();
  await page.getByTestId('import-file').setInputFiles(exportPath);
  await page.getByTestId('import-summary').waitFor();
  await page.getByTestId('confirm-import').click();
  await page.getByTestId('import-result').waitFor();
  await page.getByRole('tab', { name: 'Trash (1)' }).waitFor();

  const after = await dumpStore(page);
  for (const store of ['memories', 'revisions', 'vectors']) {
    assert.deepEqual(after[store], before[store], `the ${store} came back the same`);
  }
  assert.ok(after.pools.some((pool) => pool.id === 'home' && pool.name === 'Home'));

  await page.getByRole('tab', { name: 'Memories (3)' }).click();
  assert.deepEqual(await search(), found, 'the same search finds the same memories in the same order');
});
