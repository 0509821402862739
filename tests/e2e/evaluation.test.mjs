// The evaluation page against the scripted LLM server: a set is checked line by line,
// runs with memory off and on, is scored, saved and kept across a reload; the run leaves
// the memory as it was; and every correction is checked as a retrieval test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appSession, openWithScriptedProvider } from './support/session.mjs';
import { ask, chatRequests, command, promptText, readRecords } from './support/chat.mjs';

const session = appSession();

/// The cells of the summary table's row for `mode`, after its first column.
async function summaryRow(mode) {
  const row = session.page.getByTestId('eval-summary').locator('tbody tr').filter({ hasText: mode });
  return row.locator('td').allInnerTexts();
}

test('an evaluation set runs with memory off and on, is scored, saved and kept, and corrections are checked', async () => {
  const { page, llm } = session;
  await openWithScriptedProvider(session);
  await page.getByRole('link', { name: 'Chat' }).click();
  await command(page, 'Remember that our API listens on port 8443', 'Remembered');
  const [fact] = await readRecords(page, 'memories');

  // A correction given in the chat.
  llm.script({ text: 'Unplug the router.' });
  const answer = await ask(page, 'How do I reset the office printer?');
  await answer.getByRole('button', { name: 'Correct this' }).click();
  await answer.getByLabel('What should the answer have been?').fill('Hold its power button for ten seconds.');
  await answer.getByRole('button', { name: 'Save correction' }).click();
  await answer.getByTestId('feedback-status').getByText(/Correction saved/).waitFor();

  await page.getByRole('link', { name: 'Evaluation' }).click();
  await page.getByTestId('eval-corrections')
    .getByText('Recall@5: 100% — 1 of 1 correction found for their question.').waitFor();

  // A bad line is named, and nothing can run.
  const lines = page.getByLabel('or paste the lines');
  await lines.fill('{"question": "Which port does our API use?", "expected_answer": "8443"}\nport?');
  await page.getByTestId('eval-set-status').getByText(/^Line 2 is not a JSON object/).waitFor();
  assert.ok(await page.getByTestId('eval-run').isDisabled());

  await lines.fill([
    JSON.stringify({ question: 'Which port does our API use?', expected_answer: '8443', expected_memory_ids: [fact.id] }),
    JSON.stringify({ question: 'What colour is the sky on Mars at noon?', expected_answer: 'butterscotch' }),
  ].join('\n'));
  await page.getByTestId('eval-set-status')
    .getByText('pasted set: 2 questions (2 with an expected answer, 1 with expected memories).').waitFor();

  // The scripted model knows the port only when the memory is in its prompt.
  llm.configure({
    defaultReply: (request) => ({
      text: promptText(request).includes('8443') ? 'It listens on port 8443.' : 'I am not sure.',
    }),
  });
  const callsBefore = chatRequests(llm).length;
  const memoriesBefore = await readRecords(page, 'memories');
  await page.getByTestId('eval-mode-LearnedScorer').uncheck();
  await page.getByTestId('eval-run').click();
  await page.getByTestId('eval-saved').getByText(/^pasted set · .* · 2 questions · Scripted · casebook-test-model$/)
    .waitFor();

  // Question by question, memory off then memory on.
  const prompts = chatRequests(llm).slice(callsBefore).map(promptText);
  assert.equal(prompts.length, 4, 'two questions, two modes');
  assert.deepEqual(prompts.map((prompt) => prompt.includes('8443')), [false, true, false, true],
    'only memory on put the memory into the prompts');
  // Ran, errors, answer has expected, F1, recall@5, median time.
  const off = await summaryRow('Memory off');
  assert.deepEqual(off.slice(0, 5), ['2', '0', '0%', '0.00', '–']);
  const on = await summaryRow('Memory on');
  assert.deepEqual(on.slice(0, 5), ['2', '0', '50%', '0.17', '100%']);
  await page.getByText('Every question and answer').click();
  await page.getByText('It listens on port 8443.').first().waitFor();

  // The evaluation neither wrote cases nor counted the memories as used.
  assert.deepEqual(await readRecords(page, 'memories'), memoriesBefore);

  // Saved: after a reload the run is shown again; deleting it can be undone.
  await page.reload();
  await page.getByTestId('eval-saved').getByText(/^pasted set/).waitFor();
  assert.deepEqual((await summaryRow('Memory on')).slice(0, 5), ['2', '0', '50%', '0.17', '100%']);
  await page.getByTestId('eval-saved').getByRole('button', { name: 'Delete' }).click();
  await page.getByText('No runs saved yet.').waitFor();
  assert.equal((await readRecords(page, 'evaluations')).length, 0);
  await page.getByRole('button', { name: 'Undo' }).click();
  await page.getByTestId('eval-saved').getByText(/^pasted set/).waitFor();
  assert.equal((await readRecords(page, 'evaluations')).length, 1);
});

test('a stopped run keeps what it measured and says it was stopped', async () => {
  const { page, llm } = session;
  session.allowConsoleErrors(/Failed to load resource/, /net::ERR_/);
  await openWithScriptedProvider(session);
  await page.getByRole('link', { name: 'Evaluation' }).click();
  await page.getByLabel('or paste the lines').fill([
    '{"question": "first?", "expected_answer": "one"}',
    '{"question": "second?", "expected_answer": "two"}',
  ].join('\n'));
  // The first answer comes, the second never does.
  llm.script({ text: 'one' }, { stall: true });
  await page.getByTestId('eval-mode-MemoryOn').uncheck();
  await page.getByTestId('eval-mode-LearnedScorer').uncheck();
  const callsBefore = chatRequests(llm).length;
  await page.getByTestId('eval-run').click();
  await page.getByRole('status').getByText(/Question 2 of 2 · Memory off \(1 of 2 done\)/).waitFor();
  // Stop once the second question waits at the server.
  while (chatRequests(llm).length < callsBefore + 2) await page.waitForTimeout(50);
  await page.getByRole('button', { name: 'Stop' }).click();
  await page.getByText('This run was stopped before every question had run.').waitFor();
  assert.deepEqual((await summaryRow('Memory off')).slice(0, 3), ['1', '0', '100%']);
  const [saved] = await readRecords(page, 'evaluations');
  assert.equal(saved.stopped, true);
  assert.equal(saved.results.length, 1);
});
