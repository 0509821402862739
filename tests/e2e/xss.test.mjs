// Hostile text (tests/data/xss_corpus.txt: script tags, event handlers, javascript: URLs,
// SVG, markdown links and images) in memories, in a question and in the model's answer is
// shown as text or sanitised markdown: nothing runs, nothing loads from elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { appSession, openWithScriptedProvider } from './support/session.mjs';
import { ask } from './support/chat.mjs';
import { applyChanges, memory, openHarness, save } from './support/bank.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/// The corpus' payloads, read as src/core/markdown.rs's native test reads them.
const PAYLOADS = readFileSync(`${ROOT}tests/data/xss_corpus.txt`, 'utf8')
  .split('\n%%%%\n')
  .map((record) => record.split('\n').filter((line) => !line.startsWith('%% ')).join('\n'))
  .filter((payload) => payload.trim() !== '');

const session = appSession({ testPages: true });

/// Whatever the page holds that could run or load: elements that run script, event
/// handler attributes, and links or sources with a script or remote address.
function liveContent() {
  return session.page.evaluate(() => {
    const found = [];
    for (const element of document.body.querySelectorAll('*')) {
      const tag = element.tagName.toLowerCase();
      // The app draws none of these on the pages visited (its forms are its own).
      if (['script', 'iframe', 'frame', 'object', 'embed', 'img', 'svg', 'math', 'base', 'meta', 'link',
        'style', 'video', 'audio'].includes(tag)) {
        found.push(element.outerHTML.slice(0, 120));
      }
      for (const attribute of element.attributes) {
        const value = attribute.value.trim().toLowerCase();
        if (attribute.name.startsWith('on')
          || (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(attribute.name)
            && (value.startsWith('javascript:') || value.startsWith('data:') || value.includes('evil.example')))) {
          found.push(`${tag} ${attribute.name}="${attribute.value.slice(0, 80)}"`);
        }
      }
    }
    return found;
  });
}

test('hostile text in memories, questions and answers runs nothing and loads nothing', async () => {
  const { page, llm, server } = session;
  assert.ok(PAYLOADS.length >= 30, `the corpus has ${PAYLOADS.length} payloads`);
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  const elsewhere = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(server.url) && !url.startsWith(llm.url)) elsewhere.push(url);
  });

  // Every payload is a memory.
  await openHarness(page, server.url);
  const outcomes = await applyChanges(page, PAYLOADS.map((text, index) => save(memory(`mxss${index}`, text, 'fact'))));
  assert.equal(outcomes.outcomes.length, PAYLOADS.length);

  await openWithScriptedProvider(session);

  // The memory list, scrolled from top to bottom so that every row is drawn once.
  await page.goto(server.url + '/memory');
  const list = page.getByTestId('memory-list');
  await page.getByTestId('memory-row').first().waitFor();
  for (let step = 0; step < 40; step += 1) {
    const atEnd = await list.evaluate((element) => {
      element.scrollTop += element.clientHeight;
      return element.scrollTop + element.clientHeight >= element.scrollHeight - 1;
    });
    await page.waitForTimeout(50);
    if (atEnd) break;
  }
  // One memory opened in the editor.
  await page.getByTestId('memory-row').last().click();
  await page.getByTestId('memory-editor').waitFor();
  assert.deepEqual(await liveContent(), [], 'the memory page');

  // A hostile question, hostile memories in the prompt, and an answer made of every payload.
  await page.getByRole('link', { name: 'Chat' }).click();
  llm.script({ text: PAYLOADS.join('\n\n') });
  const answer = await ask(page, '<img src=x onerror=alert(1)> What does [this](javascript:alert(1)) do?');
  await answer.getByTestId('used-memories').locator('summary').click();
  assert.ok(await answer.getByTestId('used-memory').count() > 0, 'hostile memories were in the prompt');
  await answer.getByText(/alert\(1\)/).first().waitFor();
  assert.deepEqual(await liveContent(), [], 'the chat');

  // Reloaded from storage, the conversation is drawn again from what was saved.
  await page.reload();
  await page.getByTestId('answer').first().waitFor();
  assert.deepEqual(await liveContent(), [], 'the reloaded chat');

  assert.deepEqual(dialogs, [], 'no payload ran');
  assert.deepEqual(elsewhere, [], 'nothing was requested from another origin');
});
