// The fault suite's bad input, end to end: empty and 1 MB messages, binary and
// non-UTF-8 documents, non-UTF-8 and UTF-16 import files, and an import of 100,000
// memories (CASEBOOK_BULK_IMPORT changes the number). Each is answered in plain words,
// nothing typed is lost, nothing is half-written. A table of trials and failures is
// printed at the end.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { appSession, openWithScriptedProvider } from './support/session.mjs';
import { chatRequests, lastAnswer, readRecords, type, waitForAnswers } from './support/chat.mjs';
import { openMemoryPage, seed } from './support/memory_page.mjs';
import { memory, save } from './support/bank.mjs';

const session = appSession({ testPages: true });
const BULK_IMPORT = Number(process.env.CASEBOOK_BULK_IMPORT ?? 100_000);
const trials = [];

after(() => {
  console.log([
    'Bad input',
    '| input | trials | failures |',
    '|---|--:|--:|',
    ...trials.map(({ input, failed }) => `| ${input} | 1 | ${failed ? 1 : 0} |`),
    `| total | ${trials.length} | ${trials.filter((t) => t.failed).length} |`,
  ].join('\n'));
});

/// Runs one bad input's check, counting it in the table.
async function trial(input, check) {
  try {
    await check();
    trials.push({ input, failed: false });
  } catch (error) {
    trials.push({ input, failed: true });
    throw error;
  }
}

test('empty and 1 MB messages are answered in plain words and nothing typed is lost', async () => {
  const { page, llm } = session;
  await openWithScriptedProvider(session);
  await page.getByRole('link', { name: 'Chat' }).click();
  const composer = page.getByLabel('Message', { exact: true });

  for (const [input, text] of [['empty message', ''], ['message of spaces and newlines', '  \n\t \n ']]) {
    await trial(input, async () => {
      await composer.fill(text);
      await composer.press('Enter');
      await page.waitForTimeout(300);
      assert.equal(await page.getByTestId('question').count(), 0, 'nothing was sent');
      assert.equal(chatRequests(llm).length, 0);
    });
  }

  await trial('message of 1 MB', async () => {
    const huge = 'The quarterly numbers, line by line. '.repeat(Math.ceil(1_000_000 / 37)).slice(0, 1_000_000);
    await type(page, huge);
    await waitForAnswers(page, 1);
    const error = lastAnswer(page).getByTestId('answer-error');
    assert.match(await error.innerText(), /^The question and the assistant's instructions need about \d+ tokens, more than the prompt budget of \d+ tokens\./);
    assert.equal(chatRequests(llm).length, 0, 'nothing too long went to the provider');
    // The message is kept: saved with the conversation, and Edit puts all of it back.
    const savedQuestionLength = async () => {
      const [conversation] = await readRecords(page, 'conversations');
      return conversation?.messages.find((message) => message.role === 'user')?.text.length;
    };
    for (let wait = 0; wait < 50 && (await savedQuestionLength()) !== 1_000_000; wait++) await page.waitForTimeout(100);
    assert.equal(await savedQuestionLength(), 1_000_000);
    await lastAnswer(page).getByRole('button', { name: 'Edit question' }).click();
    assert.equal((await composer.inputValue()).length, 1_000_000);
  });
});

test('binary and non-UTF-8 documents: one is refused with its reason, the other read in its encoding', async () => {
  const { page, server } = session;
  await page.goto(server.url + '/');
  await openMemoryPage(page, server.url);
  await page.getByRole('tab', { name: 'Documents' }).click();
  const message = page.getByTestId('document-message');

  await trial('binary file as a document', async () => {
    await page.getByTestId('document-file').setInputFiles({
      name: 'archive.txt', mimeType: 'text/plain', buffer: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0]),
    });
    await message.getByText(/^archive\.txt: this looks like a binary file/).waitFor();
    assert.deepEqual(await readRecords(page, 'memories'), []);
  });

  await trial('non-UTF-8 document (Windows-1252)', async () => {
    // "Café crème at 5 €" in Windows-1252: é = E9, è = E8, € = 80.
    const latin = Buffer.concat([
      Buffer.from('Caf'), Buffer.from([0xe9]), Buffer.from(' cr'), Buffer.from([0xe8]),
      Buffer.from('me at 5 '), Buffer.from([0x80]), Buffer.from(' in the staff kitchen.'),
    ]);
    await page.getByTestId('document-file').setInputFiles({ name: 'menu.txt', mimeType: 'text/plain', buffer: latin });
    await message.getByText('Added menu.txt: 1 memory the chat can now find.').waitFor({ timeout: 60_000 });
    const [part] = await readRecords(page, 'memories');
    assert.match(part.text, /Café crème at 5 € in the staff kitchen\./);
  });
});

test(`import files in the wrong encoding are refused, and ${BULK_IMPORT.toLocaleString('en')} memories import in one go`, {
  timeout: 900_000,
}, async () => {
  const { page, server } = session;
  // One real memory, exported by the app, is the model for the big file.
  await seed(page, server.url, [save(memory('m0000000000000000000000000001', 'The boiler was serviced in March'))]);
  await openMemoryPage(page, server.url);
  await page.getByRole('tab', { name: 'Import and export' }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export').click()]);
  const exported = JSON.parse(await readFile(await download.path(), 'utf8'));
  const refused = async (name, buffer, reason) => {
    await page.getByTestId('import-file').setInputFiles({ name, mimeType: 'application/json', buffer });
    await page.getByTestId('import-error').getByText(reason).waitFor();
    await page.getByTestId('import-step').getByText('Nothing was changed.').waitFor();
    assert.equal((await readRecords(page, 'memories')).length, 1);
  };

  await trial('non-UTF-8 import file', async () => {
    const text = JSON.stringify(exported).replace('serviced', 'servic\u0000');
    const bytes = Buffer.from(text);
    bytes[bytes.indexOf(0)] = 0xe9; // a Latin-1 é where UTF-8 needs two bytes
    await refused('latin1.json', bytes, /the file is not UTF-8 text \(the first byte that is not is at line 1, column \d+\)/);
  });
  await trial('UTF-16 import file', async () => {
    await refused('utf16.json', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(exported), 'utf16le')]),
      'the file is UTF-16 text; save it as UTF-8 and import it again');
  });

  await trial(`import of ${BULK_IMPORT.toLocaleString('en')} memories`, async () => {
    const [model] = exported.memories;
    const memories = Array.from({ length: BULK_IMPORT }, (_, n) => ({
      ...model,
      id: `m${(n + 2).toString(16).padStart(27, '0')}`,
      text: `Inventory line ${n}: crate K${n} holds spare parts for bench ${n % 211}`,
    }));
    const file = Buffer.from(JSON.stringify({ ...exported, memories }));
    await page.getByTestId('import-file').setInputFiles({ name: 'inventory.json', mimeType: 'application/json', buffer: file });
    await page.getByTestId('import-summary').waitFor({ timeout: 300_000 });
    await page.getByTestId('confirm-import').click();
    await page.getByTestId('import-result').waitFor({ timeout: 600_000 });
    await page.getByRole('tab', { name: `Memories (${BULK_IMPORT + 1})` }).click();
    // Found by its keyword while the background pass embeds the rest.
    await page.getByLabel('Search', { exact: true }).fill(`K${BULK_IMPORT - 7}`);
    await page.getByText(`Inventory line ${BULK_IMPORT - 7}: crate K${BULK_IMPORT - 7} holds spare parts`).first().waitFor({ timeout: 120_000 });
  });
});
