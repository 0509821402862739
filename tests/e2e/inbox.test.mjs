// The review inbox against the scripted LLM server: a chat exchange's extraction fills it,
// the answer's badge and the navigation lead to it, and accepting (as suggested or edited)
// or rejecting a suggestion changes the memories exactly as the user decided.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serveDist } from './support/static_server.mjs';
import { launchBrowser } from './support/browser.mjs';
import { startLlmServer } from './support/llm_server.mjs';
import { addProvider, ask, lastAnswer, readRecords, setLearning, waitForApp } from './support/chat.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.CASEBOOK_DIST ?? `${ROOT}dist`;

let server;
let llm;
let browser;
let page;

before(async () => {
  server = await serveDist(DIST);
  llm = await startLlmServer();
});

after(async () => {
  await llm?.close();
  await server?.close();
});

beforeEach(async () => {
  llm.reset();
  browser = await launchBrowser();
  page = await browser.newPage();
});

afterEach(async () => {
  const errors = browser.consoleErrors.splice(0);
  await browser.close();
  assert.deepEqual(errors, [], 'the page logged errors');
});

const DOG = 'The user has a dog named Rex.';
const TEA = 'The user prefers tea over coffee.';
const CITY = 'The user lives in Lyon.';
const EDITED_CITY = 'The user lives in Lyon, France, since 2024.';

/// The inbox row that proposes `text`.
const row = (text) => page.getByTestId('inbox-item').filter({ hasText: text });

async function inboxTexts() {
  return page.getByTestId('inbox-item').getByTestId('inbox-text').allInnerTexts();
}

/// Opens the app with the scripted provider and extraction on (reviewed, not applied).
async function openChat() {
  await page.goto(server.url + '/');
  await waitForApp(page);
  await setLearning(page, { extraction: true, auto_apply: false });
  await addProvider(page, server.url, { name: 'Scripted', baseUrl: llm.url + '/v1' });
  await page.getByRole('link', { name: 'Chat' }).click();
  await page.getByLabel('Message', { exact: true }).waitFor();
}

test('suggestions from a chat exchange are accepted, edited then accepted, or rejected in the inbox', async () => {
  await openChat();
  const operations = [
    { op: 'add', text: DOG, kind: 'fact' },
    { op: 'add', text: TEA, kind: 'preference' },
    { op: 'add', text: CITY, kind: 'fact' },
  ];
  llm.script({ text: 'Walk Rex twice a day.' }, { text: JSON.stringify({ operations }) });
  await ask(page, 'My dog Rex is restless, any tips? I live in Lyon and drink tea, not coffee.');
  const badge = lastAnswer(page).getByTestId('suggestions');
  await badge.waitFor();
  assert.equal(await badge.innerText(), '3 memory suggestions');
  await page.getByTestId('inbox-count').getByText('3').waitFor();

  // The badge leads to the inbox, which lists what each suggestion would add and where it came from.
  await badge.click();
  await page.waitForURL(/\/inbox$/);
  await page.getByRole('heading', { name: 'Inbox' }).waitFor();
  await row(DOG).waitFor();
  assert.deepEqual((await inboxTexts()).sort(), [CITY, DOG, TEA].sort());
  assert.match(await row(TEA).innerText(), /Remember a new preference/);
  const from = row(DOG).getByRole('link');
  const conversations = await readRecords(page, 'conversations');
  assert.equal(conversations.length, 1);
  assert.equal(await from.getAttribute('href'), `/?c=${conversations[0].id}`);
  assert.equal(await from.innerText(), conversations[0].title);

  // Accept one: the memory exists, and search by meaning finds it.
  await row(DOG).getByRole('button', { name: 'Accept', exact: true }).click();
  await row(DOG).waitFor({ state: 'detached' });
  await page.getByTestId('inbox-count').getByText('2').waitFor();
  let memories = await readRecords(page, 'memories');
  assert.deepEqual(memories.map((m) => [m.text, m.kind, m.source.type]), [[DOG, 'fact', 'extraction']]);

  // Reject one: it leaves the list for good, and no memory says it.
  await row(TEA).getByRole('button', { name: 'Reject' }).click();
  await row(TEA).waitFor({ state: 'detached' });
  await page.reload();
  await row(CITY).waitFor();
  assert.deepEqual(await inboxTexts(), [CITY]);
  const decided = Object.fromEntries((await readRecords(page, 'inbox')).map((item) => [item.proposal.text, item.status]));
  assert.deepEqual(decided, { [DOG]: 'accepted', [TEA]: 'rejected', [CITY]: 'pending' });

  // Edit, then accept: the edited text is what is stored. The keyboard suffices.
  await row(CITY).getByRole('button', { name: 'Edit…' }).click();
  const field = page.getByLabel('Text to remember');
  await field.waitFor();
  assert.equal(await field.evaluate((element) => element === document.activeElement), true, 'the text field has focus');
  assert.equal(await field.inputValue(), CITY);
  await field.fill(EDITED_CITY);
  await field.press('Enter');
  await page.getByTestId('inbox-empty').waitFor();
  await page.getByTestId('inbox-count').waitFor({ state: 'detached' });
  memories = await readRecords(page, 'memories');
  assert.deepEqual(memories.map((m) => m.text).sort(), [DOG, EDITED_CITY].sort());
  assert.equal(memories.some((m) => m.text === TEA || m.text === CITY), false);

  // The memory page's search by meaning finds the accepted memories.
  await page.getByRole('link', { name: 'Memory', exact: true }).click();
  await page.getByLabel('Search', { exact: true }).fill('What pet does the user have?');
  await page.getByTestId('list-count').getByText('found by meaning').waitFor();
  const first = await page.locator('[data-testid=memory-row] .row-text').first().innerText();
  assert.equal(first, DOG);
});

test('a suggestion about a memory that no longer exists says so and can only be rejected', async () => {
  await page.goto(server.url + '/');
  await waitForApp(page);
  await page.evaluate(async () => {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open('casebook');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    await new Promise((resolve, reject) => {
      const transaction = db.transaction('inbox', 'readwrite');
      transaction.objectStore('inbox').put({
        id: 'i-stale', conversation_id: 'c-gone', created_at: Date.now(), status: 'pending',
        proposal: { op: 'update', id: 'm-gone', text: 'The user lives in Paris.' },
        pool: 'default', seen_revision: 1,
      });
      transaction.oncomplete = resolve;
      transaction.onerror = () => reject(transaction.error);
    });
    db.close();
  });
  await page.getByRole('link', { name: /Inbox/ }).click();
  const stale = page.getByTestId('inbox-item');
  await stale.getByTestId('inbox-stale').getByText('The memory this suggestion is about no longer exists.').waitFor();
  assert.match(await stale.innerText(), /a conversation since deleted/);
  assert.equal(await stale.getByRole('button', { name: 'Accept', exact: true }).count(), 0);
  assert.equal(await stale.getByRole('button', { name: 'Edit…' }).count(), 0);
  await page.getByRole('button', { name: 'Reject all' }).click();
  await page.getByTestId('inbox-notice').getByText('Rejected 1 suggestion.').waitFor();
  await page.getByTestId('inbox-empty').waitFor();
  assert.deepEqual((await readRecords(page, 'inbox')).map((item) => item.status), ['rejected']);
  assert.equal((await readRecords(page, 'memories')).length, 0);
});
