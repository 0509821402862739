// Settings → Assistants and memory pools, end to end with the scripted LLM server: a
// pool and an assistant made in Settings are offered in the chat; the assistant writes into
// its own pool, reads a shared one, answers with its system prompt; a pool in use cannot
// be deleted, and says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appSession, openWithScriptedProvider } from './support/session.mjs';
import { ask, chatRequests, command, promptText, readRecords } from './support/chat.mjs';

const session = appSession();

const status = () => session.page.getByTestId('roster-status');

test('an assistant made in Settings writes into its own pool, reads a shared one, and keeps its pool from deletion', async () => {
  const { page, llm } = session;
  await openWithScriptedProvider(session);
  // A memory of the general pool, from the default assistant.
  await page.getByRole('link', { name: 'Chat' }).click();
  await command(page, 'Remember that my name is Camille', 'Remembered');

  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByLabel('New pool').fill('Work');
  await page.getByRole('button', { name: 'Add pool' }).click();
  await status().getByText('Added the pool Work.').waitFor();
  // An empty name is refused in plain words.
  await page.getByRole('button', { name: 'Add pool' }).click();
  await status().getByText('Give it a name.').waitFor();

  await page.getByRole('button', { name: 'New assistant' }).click();
  const editor = page.getByTestId('assistant-editor');
  await editor.getByLabel('Name').fill('Work helper');
  await editor.getByLabel('System prompt').fill('You help with work questions, briefly.');
  await editor.getByLabel('Writes into the pool').selectOption('work');
  await editor.getByLabel('General').check();
  await editor.getByRole('button', { name: 'Save assistant' }).click();
  await status().getByText('Saved the assistant Work helper.').waitFor();
  await page.getByTestId('assistant-list')
    .getByText('writes to Work, also reads General, answers with the default provider').waitFor();
  assert.deepEqual(
    (await readRecords(page, 'assistants')).find((assistant) => assistant.name === 'Work helper'),
    {
      id: 'work-helper', name: 'Work helper', system_prompt: 'You help with work questions, briefly.',
      pool: 'work', shared_pools: ['default'],
    },
  );

  // The pool an assistant writes into cannot be deleted.
  await page.getByRole('button', { name: 'Delete the pool Work' }).click();
  await status().getByText('Work was not deleted: Work helper writes its memories into this pool; give it another pool first.')
    .waitFor();

  // In the chat, the Work helper keeps what it learns in Work and reads General too.
  await page.getByRole('link', { name: 'Chat' }).click();
  await page.getByRole('button', { name: 'New conversation' }).click();
  await page.locator('#assistant-choice').selectOption({ label: 'Work helper' });
  await command(page, 'Remember that the VPN at work is WireGuard on wg0', 'Remembered');
  const memories = await readRecords(page, 'memories');
  assert.equal(memories.find((memory) => memory.text.includes('WireGuard')).pool, 'work');
  assert.equal(memories.find((memory) => memory.text.includes('Camille')).pool, 'default');

  llm.script({ text: 'Use WireGuard, Camille.' });
  await ask(page, 'Camille here: how do I connect to the work VPN?');
  const prompt = promptText(chatRequests(llm).at(-1));
  assert.match(prompt, /You help with work questions, briefly\./);
  assert.match(prompt, /WireGuard on wg0/);
  assert.match(prompt, /my name is Camille/i);

  // Deleting the assistant keeps its pool and memories.
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('button', { name: 'Delete Work helper' }).click();
  await status().getByText('Deleted the assistant Work helper (its pool and memories are kept).').waitFor();
  assert.equal((await readRecords(page, 'assistants')).some((assistant) => assistant.id === 'work-helper'), false);
  assert.equal((await readRecords(page, 'memories')).length, 2);
});
