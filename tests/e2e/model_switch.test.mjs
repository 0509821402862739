// Switching the embedding model (Settings → Embedding model): every memory is
// re-embedded in the background with progress while search keeps answering with the
// old vectors; the new vectors replace the old ones only when all are made; a reload
// resumes a switch; Cancel keeps the old model and its vectors; a bad folder changes
// nothing. The "other" model is a copy of the built app's model under another id.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { serveDist } from './support/static_server.mjs';
import { launchBrowser } from './support/browser.mjs';
import { memory, save } from './support/bank.mjs';
import { readRecords, waitForApp } from './support/chat.mjs';
import { seed } from './support/memory_page.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = resolve(process.env.CASEBOOK_DIST ?? `${ROOT}dist`);
const DEFAULT_ID = 'all-minilm-l6-v2-int8-v1';
const COPY_FOLDER = 'models/test-copy-minilm/';
const COPY_ID = 'test-copy-minilm-v1';
const COPY_NAME = 'Test copy of MiniLM';
// Enough memories that re-embedding them takes several seconds here.
const FILLER = Number(process.env.CASEBOOK_SWITCH_MEMORIES ?? 600);

const PEANUTS = 'm0000000000a0000000000000001';
const DISTINCT = [
  [PEANUTS, 'My daughter is allergic to peanuts'],
  ['m0000000000a0000000000000002', 'The office wifi password is hunter2-blue'],
  ['m0000000000a0000000000000003', 'Our API gateway listens on port 8443'],
];
const TRASHED = 'm0000000000a0000000000000004';
const SUBJECTS = ['The garden shed', 'Our quarterly report', 'The blue bicycle', 'The violin lesson', 'The team offsite',
  'The kitchen tap', 'A tax form', 'The school play', 'The car insurance', 'An old photo album', 'The dentist visit'];
const PREDICATES = ['needs repainting before winter', 'is due on the last Friday', 'has a flat rear tyre',
  'moved to Thursday evenings', 'will be held in Lisbon', 'drips when fully closed', 'asks for last year\'s income',
  'needs three more costumes', 'renews in March', 'is in the attic', 'was rescheduled twice'];

/// The seeded memories: three distinctive ones, one in the trash, and filler (whose words
/// stay clear of the questions', so that keywords do not outrank meaning).
function changes() {
  const all = DISTINCT.map(([id, text]) => save(memory(id, text)));
  all.push(save(memory(TRASHED, 'I used to live in Lyon')));
  for (let i = 0; i < FILLER; i++) {
    const id = `m0000000001b${String(i).padStart(16, '0')}`;
    const text = `${SUBJECTS[i % SUBJECTS.length]} ${PREDICATES[(i * 7) % PREDICATES.length]} (note ${i}).`;
    all.push(save(memory(id, text)));
  }
  all.push({ type: 'trash', id: TRASHED, base_revision: 1, changed_by: 'user' });
  return all;
}
const TOTAL = DISTINCT.length + 1 + FILLER;

let server;
let browser;
let page;
let allowed = [];

before(async () => {
  // Another model: the same files under another id and name.
  await cp(`${DIST}/models/all-minilm-l6-v2/`, `${DIST}/${COPY_FOLDER}`, { recursive: true });
  const manifest = JSON.parse(await readFile(`${DIST}/${COPY_FOLDER}model.json`, 'utf8'));
  await writeFile(
    `${DIST}/${COPY_FOLDER}model.json`,
    JSON.stringify({ ...manifest, id: COPY_ID, name: COPY_NAME }, null, 2),
  );
  server = await serveDist(DIST, { mounts: { '/test/': `${ROOT}tests/e2e/pages` } });
});

after(async () => {
  await server?.close();
  await rm(`${DIST}/${COPY_FOLDER}`, { recursive: true, force: true });
});

beforeEach(async () => {
  allowed = [];
  browser = await launchBrowser();
  page = await browser.newPage();
});

afterEach(async () => {
  const errors = browser.consoleErrors.splice(0).filter((error) => !allowed.some((pattern) => pattern.test(error)));
  await browser.close();
  server.reset();
  assert.deepEqual(errors, [], 'the page logged errors');
});

const card = () => page.getByTestId('model-switch');
const switchStatus = () => page.getByTestId('status-switch');

/// Types a folder into the card and presses Enter.
async function switchTo(folder) {
  const input = card().getByLabel('Model folder address');
  await input.fill(folder);
  await input.press('Enter');
}

/// The memories done according to the status bar's "Re-embedding for …: N / M".
async function switchDone() {
  const text = await switchStatus().textContent();
  const match = text.match(/Re-embedding for (\S+): (\d+) \/ (\d+)/);
  assert.ok(match, text);
  return { model: match[1], done: Number(match[2]), total: Number(match[3]) };
}

/// Searches by meaning on the Memory page (reached without reloading) and waits until the
/// first row matches `expected`.
async function expectFoundFirst(question, expected) {
  const search = page.getByLabel('Search', { exact: true });
  await search.fill('');
  await page.getByTestId('list-count').getByText('found by meaning').waitFor({ state: 'detached' });
  await search.fill(question);
  await page.getByTestId('list-count').getByText('found by meaning').waitFor();
  const first = page.getByTestId('memory-row').first().locator('.row-text');
  try {
    await first.filter({ hasText: expected }).waitFor({ timeout: 10_000 });
  } catch {
    assert.fail(`"${question}" found first: ${await first.textContent()}`);
  }
}

async function storedChoice() {
  const settings = await readRecords(page, 'settings');
  return settings.find((record) => record.key === 'embedding_model')?.value ?? {};
}

async function vectorModels(store = 'vectors') {
  const vectors = await readRecords(page, store);
  const models = {};
  for (const vector of vectors) models[vector.model_id] = (models[vector.model_id] ?? 0) + 1;
  return models;
}

async function openSettings() {
  await page.goto(server.url + '/settings');
  await waitForApp(page);
}

test('switching re-embeds every memory in the background while search answers, then the new model stays', async () => {
  await seed(page, server.url, changes());
  await openSettings();
  await card().getByTestId('model-in-use').getByText(`id ${DEFAULT_ID}`).waitFor();

  const started = Date.now();
  await switchTo('models/test-copy-minilm'); // no trailing slash: it is a folder all the same
  await switchStatus().getByText(new RegExp(`Re-embedding for ${COPY_ID}: \\d+ / ${TOTAL}`)).waitFor({ timeout: 120_000 });
  await card().getByTestId('switch-progress').getByText(`Re-embedding your memories for ${COPY_ID}`).waitFor();
  assert.equal(await card().locator('progress').count(), 1);

  // Search keeps answering, with the old model, while the switch runs.
  await page.getByRole('link', { name: 'Memory', exact: true }).click();
  const before = await switchDone();
  await expectFoundFirst('Which foods must my child avoid?', /peanuts/);
  const during = await switchDone();
  assert.ok(during.done < TOTAL, `the search was answered while the switch ran (${during.done} / ${TOTAL})`);
  console.log(`search answered during the switch, at ${before.done}–${during.done} of ${TOTAL}`);
  // Nothing replaced the vectors in use yet.
  assert.deepEqual(Object.keys(await vectorModels()), [DEFAULT_ID]);

  // A memory edited (the pass did it first: its id sorts first) and one added during the
  // switch get a vector of each model.
  const editor = page.getByTestId('memory-editor');
  await page.getByTestId('memory-row').filter({ hasText: 'peanuts' }).click();
  await editor.getByLabel('Text', { exact: true }).fill('My daughter is allergic to peanuts and to shellfish');
  await editor.getByTestId('save-memory').click();
  await editor.getByTestId('editor-status').getByText('Saved the memory').waitFor();
  await page.getByRole('button', { name: 'Add a memory' }).click();
  await editor.getByLabel('Text', { exact: true }).fill('The boiler is serviced every October');
  await editor.getByTestId('save-memory').click();
  await page.getByTestId('undo-toast').getByText('Added a memory').waitFor();

  await page.getByTestId('status-model').getByText(`Model: ${COPY_NAME} ready`).waitFor({ timeout: 400_000 });
  console.log(`${TOTAL} memories re-embedded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await switchStatus().waitFor({ state: 'detached' });
  await page.getByTestId('status-bank').getByText(`Memory: ${TOTAL} memories`).waitFor();

  // Every memory, the trashed one too, has a vector of the new model for its current text;
  // the target store is empty.
  assert.deepEqual(await vectorModels(), { [COPY_ID]: TOTAL + 1 });
  const revisions = new Map((await readRecords(page, 'memories')).map((m) => [m.id, m.revision]));
  const stale = (await readRecords(page, 'vectors')).filter((v) => v.version !== revisions.get(v.memory_id));
  assert.deepEqual(stale, []);
  assert.equal(revisions.get(PEANUTS), 2);
  assert.deepEqual(await readRecords(page, 'target_vectors'), []);
  const choice = await storedChoice();
  assert.equal(choice.active, `${server.url}/${COPY_FOLDER}`);
  assert.equal(choice.switching_to ?? null, null);
  // Found by meaning with the new vectors.
  await expectFoundFirst('Which port does the gateway use?', /8443/);
  await expectFoundFirst('Which foods must my child avoid?', /shellfish/);
  await expectFoundFirst('Annual heating maintenance', /boiler/);

  // After a reload the new model is still the one in use, and nothing is re-embedded.
  await openSettings();
  await page.getByTestId('status-model').getByText(`Model: ${COPY_NAME} ready`).waitFor();
  await card().getByTestId('model-in-use').getByText(`id ${COPY_ID}`).waitFor();
  assert.equal(await card().getByTestId('model-source').textContent(), `${server.url}/${COPY_FOLDER}`);
  await page.getByTestId('status-bank').getByText(`Memory: ${TOTAL} memories`).waitFor();
  assert.doesNotMatch(await page.getByTestId('status-bank').textContent(), /embedded|keyword/);
  assert.equal(await card().getByRole('button', { name: 'Use the default model' }).isEnabled(), true);

  // If the model in use can no longer be loaded, the status bar says so and the default one is used.
  server.setTransform((path, body) => (path === `${COPY_FOLDER}model.json` ? Buffer.from('not a manifest') : body));
  await page.reload();
  await page.getByTestId('status-model-notice')
    .getByText(`The model chosen in Settings (${server.url}/${COPY_FOLDER}) could not be loaded, so the default model is used`)
    .waitFor({ timeout: 60_000 });
  await page.getByTestId('status-model').getByText(/Model: all-MiniLM-L6-v2 .*ready/).waitFor();
  await card().getByTestId('model-in-use').getByText(`id ${DEFAULT_ID}`).waitFor();
  // …and is recorded as the one chosen, so that the other model coming back later does not
  // re-embed everything without a switch.
  for (let tries = 0; (await storedChoice()).active !== null; tries++) {
    assert.ok(tries < 100, 'the default model was not recorded as the one chosen');
    await sleep(100);
  }
});

test('a reload resumes a switch with the vectors already made, and Cancel keeps the old model and its vectors', async () => {
  await seed(page, server.url, changes());
  await openSettings();
  await switchTo(COPY_FOLDER);
  await page.waitForFunction(
    () => /: [1-9]\d* \//.test(document.querySelector('[data-testid=status-switch]')?.textContent ?? ''),
    null,
    { timeout: 120_000 },
  );
  const beforeReload = await switchDone();

  // The reload resumes the switch; the vectors made before it are kept.
  await openSettings();
  await switchStatus().waitFor({ timeout: 120_000 });
  const resumed = await switchDone();
  assert.ok(resumed.done >= beforeReload.done, `resumed at ${resumed.done}, had ${beforeReload.done}`);
  assert.ok(resumed.done < TOTAL);
  console.log(`resumed at ${resumed.done} of ${TOTAL} (had ${beforeReload.done} before the reload)`);

  await card().getByRole('button', { name: 'Cancel' }).click();
  await card().getByTestId('switch-outcome').getByText('The switch was cancelled').waitFor();
  assert.equal(await switchStatus().count(), 0);
  await card().getByTestId('model-in-use').getByText(`id ${DEFAULT_ID}`).waitFor();
  assert.deepEqual(await vectorModels(), { [DEFAULT_ID]: TOTAL });
  assert.deepEqual(await readRecords(page, 'target_vectors'), []);
  assert.equal((await storedChoice()).switching_to ?? null, null);
  await page.getByRole('link', { name: 'Memory', exact: true }).click();
  await expectFoundFirst('Which foods must my child avoid?', /peanuts/);

  // A reload after the cancel starts no switch.
  await openSettings();
  await page.getByTestId('status-model').getByText(/Model: all-MiniLM-L6-v2 .*ready/).waitFor();
  assert.equal(await switchStatus().count(), 0);
  assert.equal(await card().getByTestId('switch-unfinished').count(), 0);
});

test('a missing folder, an invalid model.json or a damaged file is named and changes nothing', async () => {
  await seed(page, server.url, DISTINCT.map(([id, text]) => save(memory(id, text))));
  await openSettings();
  const unchanged = async () => {
    await card().getByTestId('model-in-use').getByText(`id ${DEFAULT_ID}`).waitFor();
    assert.deepEqual(await vectorModels(), { [DEFAULT_ID]: DISTINCT.length });
    assert.deepEqual(await readRecords(page, 'target_vectors'), []);
    assert.equal((await storedChoice()).switching_to ?? null, null);
    assert.equal(await switchStatus().count(), 0);
    assert.equal(await card().getByRole('button', { name: 'Switch' }).isEnabled(), true);
  };
  const outcome = card().getByTestId('switch-outcome');

  allowed.push(/404/);
  await switchTo('models/no-such-model/');
  await outcome.getByText(/The model file model\.json could not be downloaded from http:\/\/127\.0\.0\.1:\d+\/models\/no-such-model\/model\.json: HTTP 404/).waitFor();
  await unchanged();

  server.setTransform((path, body) => (path === `${COPY_FOLDER}model.json` ? Buffer.from('{"id": "half a manifest"') : body));
  await switchTo(COPY_FOLDER);
  await outcome.getByText(/model\.json cannot be used/).waitFor();
  await unchanged();

  server.setTransform((path, body) => {
    if (path !== `${COPY_FOLDER}model.onnx`) return body;
    const damaged = Buffer.from(body);
    damaged[1000] ^= 0xff;
    return damaged;
  });
  await switchTo(COPY_FOLDER);
  await outcome.getByText(/The model file model\.onnx cannot be used: its sha256 is [0-9a-f]{64}, expected 521a1a35/).waitFor();
  await unchanged();

  // The folder of the model in use has nothing to re-embed.
  server.reset();
  await switchTo('models/all-minilm-l6-v2/');
  await outcome.getByText(`This folder holds ${DEFAULT_ID}, the model already in use`).waitFor();
  await unchanged();
  assert.equal(await card().getByRole('button', { name: 'Use the default model' }).isEnabled(), false);
});
