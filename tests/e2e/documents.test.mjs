// Documents in the memory page: a large Markdown file is added with a progress bar and
// its parts are found by meaning; Cancel leaves nothing behind; a binary file is refused
// in plain words; removing a document moves all its parts to the trash.
//
// The large file is 1 MB, the size the documents feature is built for: embedding its
// ~2,300 parts takes 2–5 minutes on two cores. CASEBOOK_E2E_DOCUMENT_BYTES=250000 makes
// it smaller for a quick run.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serveDist } from './support/static_server.mjs';
import { launchBrowser } from './support/browser.mjs';
import { readRecords } from './support/chat.mjs';
import { openMemoryPage, rowTexts } from './support/memory_page.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.CASEBOOK_DIST ?? `${ROOT}dist`;
const DOCUMENT_BYTES = Number(process.env.CASEBOOK_E2E_DOCUMENT_BYTES ?? 1_000_000);

let server;
let browser;

before(async () => {
  server = await serveDist(DIST);
});

after(async () => {
  await server?.close();
});

afterEach(async () => {
  const errors = browser.consoleErrors.splice(0);
  await browser.close();
  assert.deepEqual(errors, [], 'the page logged errors');
});

const TOPICS = ['tides', 'granite', 'orchards', 'railways', 'glaciers', 'typesetting', 'beekeeping', 'ferries'];
const VERBS = ['measured', 'compared', 'mapped', 'sampled', 'recorded', 'checked', 'counted', 'photographed'];

/// A Markdown handbook of about `bytes` bytes: chapters of sections of one paragraph each
/// (about one part each), and `needle` in a section of its own two thirds of the way in.
function handbook(bytes, needle) {
  const parts = [];
  let size = 0;
  let placed = false;
  for (let chapter = 1; size < bytes; chapter += 1) {
    const topic = TOPICS[chapter % TOPICS.length];
    parts.push(`# Chapter ${chapter}: ${topic}\n`);
    for (let section = 1; section <= 6; section += 1) {
      const sentences = [];
      for (let n = 1; n <= 7; n += 1) {
        const verb = VERBS[(chapter + section + n) % VERBS.length];
        sentences.push(`In district ${chapter * 7 + section} the team ${verb} ${n * 13 + section} samples of ${topic} `
          + `during week ${(chapter + n) % 52 + 1}, and noted how the ${topic} changed after rain.`);
      }
      parts.push(`## ${topic} survey ${chapter}.${section}\n\n${sentences.join(' ')}\n`);
    }
    size += parts.slice(-7).reduce((total, part) => total + part.length + 1, 0);
    if (!placed && size > bytes * 0.66) {
      parts.push(`## Skerry Island\n\n${needle}\n`);
      placed = true;
    }
  }
  return Buffer.from(parts.join('\n'));
}

async function openDocuments(page) {
  await openMemoryPage(page, server.url);
  await page.getByRole('tab', { name: 'Documents' }).click();
  await page.getByText('No documents added yet.').waitFor();
}

test(`a ${DOCUMENT_BYTES / 1000} kB document is added with progress, found by meaning, and removed with all its parts`, {
  timeout: 900_000,
}, async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await openDocuments(page);

  const needle = 'The lighthouse keeper on Skerry Island feeds a grey cat named Biscuit every morning at six.';
  const file = handbook(DOCUMENT_BYTES, needle);
  assert.ok(file.length >= DOCUMENT_BYTES);
  await page.getByTestId('document-file').setInputFiles({ name: 'handbook.md', mimeType: 'text/markdown', buffer: file });
  const started = Date.now();
  const progress = page.getByTestId('document-progress');
  await progress.getByText(/Reading and saving the parts of handbook\.md: \d+ of \d+/).waitFor();
  const message = page.getByTestId('document-message');
  await progress.waitFor({ state: 'detached', timeout: 880_000 });
  assert.match(await message.innerText(), /^Added handbook\.md: \d+ memories the chat can now find\.$/);
  const parts = Number(/(\d+) memories/.exec(await message.innerText())[1]);
  const seconds = (Date.now() - started) / 1000;
  console.log(`${DOCUMENT_BYTES / 1000} kB document: ${parts} parts in ${seconds.toFixed(1)} s (${(1000 * seconds / parts).toFixed(0)} ms a part)`);
  assert.ok(parts > DOCUMENT_BYTES / 2000, `${parts} parts`);
  await page.getByTestId('document-list').getByText('handbook.md').waitFor();

  const memories = (await readRecords(page, 'memories')).filter((memory) => memory.kind === 'document_chunk');
  assert.equal(memories.length, parts);
  assert.ok(memories.every((memory) => memory.source.type === 'document'));
  assert.ok(memories.some((memory) => memory.text.includes('Biscuit')), 'the needle is in a part');

  // Found by meaning, with words the document does not use.
  await page.getByRole('tab', { name: /^Memories/ }).click();
  await page.getByLabel('Search', { exact: true }).fill("what is the lighthouse keeper's cat called?");
  await page.getByTestId('list-count').getByText(/found by meaning/).waitFor();
  assert.match((await rowTexts(page))[0], /Biscuit/);

  // Removed: every part goes to the trash.
  await page.getByRole('tab', { name: 'Documents' }).click();
  await page.getByRole('button', { name: 'Remove handbook.md' }).click();
  await page.getByTestId('document-message').getByText(`Removed handbook.md: its ${parts} memories are in the trash`, { exact: false }).waitFor({ timeout: 60_000 });
  await page.getByText('No documents added yet.').waitFor();
  const after = await readRecords(page, 'memories');
  assert.ok(after.every((memory) => memory.trashed_at), 'every part is in the trash');
  assert.equal((await readRecords(page, 'documents')).length, 0);
});

test('Cancel leaves nothing of a document behind; a binary file is refused in plain words', async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await openDocuments(page);

  await page.getByTestId('document-file').setInputFiles({
    name: 'photo.txt', mimeType: 'text/plain', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  });
  await page.getByTestId('document-message').getByText(/^photo\.txt: this looks like a binary file/).waitFor();

  await page.getByTestId('document-file').setInputFiles({
    name: 'long.md', mimeType: 'text/markdown', buffer: handbook(400_000, 'Nothing to find here.'),
  });
  await page.getByTestId('document-progress').getByText(/Reading and saving the parts of long\.md: [1-9]\d* of/).waitFor({ timeout: 60_000 });
  await page.getByTestId('document-progress').getByRole('button', { name: 'Cancel' }).click();
  await page.getByTestId('document-message').getByText('Stopped: nothing of long.md was added.').waitFor({ timeout: 60_000 });
  assert.deepEqual(await readRecords(page, 'memories'), []);
  assert.deepEqual(await readRecords(page, 'documents'), []);
  await page.getByText('No documents added yet.').waitFor();
});
