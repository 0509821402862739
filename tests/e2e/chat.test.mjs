// The chat against the scripted LLM server: memories reach the prompt and are shown under
// the answer, answers stream and stop, every failure is explained and can be retried, keys
// go only to their own provider, conversations persist, and feedback, corrections,
// "Remember …" and "Forget …" change what later prompts contain.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serveDist } from './support/static_server.mjs';
import { launchBrowser } from './support/browser.mjs';
import { startLlmServer } from './support/llm_server.mjs';
import {
  addProvider, ask, chatRequests, command, lastAnswer, promptText, readRecords, setLearning, type,
  waitForAnswers, waitForApp,
} from './support/chat.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.CASEBOOK_DIST ?? `${ROOT}dist`;

let server;
let llm;
let browser;
let page;
/// Failed requests that a test provokes on purpose make the browser log errors.
let allowedConsoleErrors = [];

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
  allowedConsoleErrors = [];
  browser = await launchBrowser();
  page = await browser.newPage();
});

afterEach(async () => {
  const errors = browser.consoleErrors
    .splice(0)
    .filter((error) => !allowedConsoleErrors.some((allowed) => allowed.test(error)));
  await browser.close();
  assert.deepEqual(errors, [], 'the page logged errors');
});

/// The browser's own reports of failed requests (not the app's).
const NETWORK_ERRORS = [/Failed to load resource/, /blocked by CORS policy/, /net::ERR_/];

/// Opens the app with one provider (the scripted server) and extraction off, on the chat.
async function openChat({ key, learning = {} } = {}) {
  await page.goto(server.url + '/');
  await waitForApp(page);
  await setLearning(page, learning);
  await addProvider(page, server.url, { name: 'Scripted', baseUrl: llm.url + '/v1', key });
  await page.getByRole('link', { name: 'Chat' }).click();
  await page.waitForURL(server.url + '/');
}

const lastPrompt = () => promptText(chatRequests(llm).at(-1));

/// The tag a memory got in a prompt, e.g. 2 for "[M2] Fact:\n> My cat …".
function tagOf(prompt, text) {
  const match = new RegExp(`\\[M(\\d+)\\][^\\n]*\\n> ${text}`).exec(prompt);
  return match ? Number(match[1]) : undefined;
}

async function newConversation() {
  await page.getByRole('button', { name: 'New conversation' }).click();
  await page.getByText('Ask anything').waitFor();
}

test('a stored memory reaches the prompt and is shown under the answer with its scores; an excluded one does not', async () => {
  await openChat();
  await command(page, 'Remember that my cat is called Miso', 'Remembered: “My cat is called Miso”');
  await command(page, 'Remember that I work as a nurse in Lyon', 'Remembered');
  llm.script((request) => {
    const tag = tagOf(promptText(request), 'My cat is called Miso');
    return { text: `Your cat is called **Miso** [M${tag}].` };
  });
  const answer = await ask(page, 'What is my cat called?');
  const prompt = lastPrompt();
  const tag = tagOf(prompt, 'My cat is called Miso');
  assert.ok(tag, prompt);
  assert.equal(await answer.getByTestId('answer-text').innerText(), `Your cat is called Miso [M${tag}].`);

  const panel = answer.getByTestId('used-memories');
  await panel.locator('summary').click();
  assert.match(await panel.locator('summary').innerText(), /^2 memories given to the model · 1 cited$/);
  const miso = panel.getByTestId('used-memory').filter({ hasText: 'My cat is called Miso' });
  await miso.getByTestId('cited').waitFor();
  assert.match(
    await miso.getByTestId('scores').innerText(),
    /^vector 0\.\d\d · keyword (\d+\.\d\d|–) · learned [+-]\d\.\d\d · final \d\.\d\d$/,
  );
  assert.equal(await panel.getByTestId('used-memory').filter({ hasText: 'nurse' }).getByTestId('cited').count(), 0);
  const memories = await readRecords(page, 'memories');
  const stored = memories.find((memory) => memory.text === 'My cat is called Miso');
  assert.equal(stored.use_count, 1, 'a memory put into a prompt counts a use');
  assert.equal(await miso.getByRole('link', { name: /^Open M\d$/ }).getAttribute('href'), `/memory?id=${stored.id}`);

  await miso.getByRole('button', { name: /^Exclude M\d$/ }).click();
  llm.script({ text: 'I do not know your cat.' });
  const sent = chatRequests(llm).length;
  await miso.getByRole('button', { name: 'Regenerate without it' }).click();
  while (chatRequests(llm).length === sent) await page.waitForTimeout(50);
  await waitForAnswers(page, 1);
  assert.doesNotMatch(lastPrompt(), /Miso/);
  assert.match(lastPrompt(), /nurse in Lyon/, 'the other memory is still there');
  assert.equal(await lastAnswer(page).getByTestId('answer-text').innerText(), 'I do not know your cat.');

  // The exclusion belongs to the conversation and survives a reload.
  await page.reload();
  await waitForApp(page);
  llm.script({ text: 'Still no cat.' });
  await ask(page, 'And what is my cat called now?');
  assert.doesNotMatch(lastPrompt(), /Miso/);
});

test('an answer streams in, Stop keeps the partial text marked as stopped, and a reload keeps it', async () => {
  await openChat();
  const words = Array.from({ length: 40 }, (_, n) => `word${n}`);
  llm.script({ text: words.join(' '), chunkDelayMs: 150 });
  await type(page, 'Tell me a long story');
  const text = lastAnswer(page).getByTestId('answer-text');
  await text.getByText(/word3\b/).waitFor();
  assert.doesNotMatch(await text.innerText(), /word39/, 'the answer shows while it streams');
  await page.getByRole('button', { name: 'Stop' }).click();
  await lastAnswer(page).getByTestId('answer-stopped').waitFor();
  const kept = await text.innerText();
  assert.match(kept, /^word0 word1 word2 word3/);
  assert.doesNotMatch(kept, /word39/);
  await page.getByRole('button', { name: 'Send' }).waitFor();

  await page.reload();
  await lastAnswer(page).getByTestId('answer-stopped').waitFor();
  assert.equal(await lastAnswer(page).getByTestId('answer-text').innerText(), kept);
  assert.equal(await page.getByTestId('question').locator('.message-text').innerText(), 'Tell me a long story');
});

test('every failure is explained in plain words, keeps the question, and can be retried', async () => {
  allowedConsoleErrors = NETWORK_ERRORS;
  await openChat();
  const question = () => page.getByTestId('question').last().locator('.message-text').innerText();
  const error = () => lastAnswer(page).getByTestId('answer-error');

  // A connection cut after part of the answer was shown: that part stays. The cut comes
  // once the text is on screen, because Chromium drops body bytes it had received but not
  // yet handed to the page when the connection then breaks.
  llm.script({ text: 'one two three four five six', stallAfter: 2 });
  await type(page, 'Question before the cut');
  const shown = lastAnswer(page).getByTestId('answer-text');
  await shown.getByText('one two').waitFor();
  assert.equal(chatRequests(llm).length, 1);
  llm.reset(); // destroys the stalled connection (and forgets the requests so far)
  await error().waitFor();
  assert.match(await error().innerText(), /The connection was cut mid-answer; the text that arrived is kept\./);
  assert.equal(await shown.innerText(), 'one two');
  assert.equal(await question(), 'Question before the cut');
  assert.equal(chatRequests(llm).length, 0, 'a cut answer is not retried');

  const failures = [
    { name: '401', reply: { status: 401 }, message: /^Scripted refused the API key \(HTTP 401\)/ },
    { name: '404', reply: { status: 404 }, message: /^Not found \(HTTP 404\): either the model “casebook-test-model” does not exist/ },
    { name: 'quota', reply: { status: 429, body: { error: { message: 'You exceeded your current quota.', type: 'insufficient_quota', code: 'insufficient_quota' } } }, message: /quota or credit is used up/ },
    // Cut inside an event: how much of the text gets through is up to the browser (above).
    { name: 'stream cut', reply: { text: 'one two three four five six', cutAfter: 2 }, message: /The connection was cut mid-answer; the text that arrived is kept\./ },
    { name: 'malformed', reply: { text: 'one two three', malformed: true }, message: /The provider's answer could not be read/ },
  ];
  for (const [index, failure] of failures.entries()) {
    llm.script(failure.reply);
    const asked = `Question ${index} (${failure.name})`;
    const before = chatRequests(llm).length;
    await ask(page, asked);
    assert.match(await error().innerText(), failure.message, failure.name);
    assert.equal(await question(), asked, `${failure.name}: the question stays`);
    assert.equal(chatRequests(llm).length, before + 1, `${failure.name}: not retried`);
  }
  // Retry answers the same question.
  llm.script({ text: 'Recovered.' });
  await lastAnswer(page).getByRole('button', { name: 'Retry' }).click();
  await lastAnswer(page).getByTestId('answer-text').getByText('Recovered.').waitFor();
  assert.equal(await error().count(), 0);
  assert.match(lastPrompt(), /user: Question 4 \(malformed\)$/);

  // Failures that may pass are retried after a countdown.
  for (const [name, status, message] of [
    ['429', 429, /Scripted is limiting how fast requests may be made \(HTTP 429\)/],
    ['500', 500, /Scripted is overloaded or having trouble \(HTTP 500\)/],
    ['529', 529, /Scripted is overloaded or having trouble \(HTTP 529\)/],
  ]) {
    llm.script({ status }, { text: `Answer after ${name}.` });
    const before = chatRequests(llm).length;
    await type(page, `Question after ${name}`);
    const waiting = lastAnswer(page).getByTestId('answer-waiting');
    await waiting.waitFor();
    assert.match(await waiting.innerText(), message, name);
    assert.match(await waiting.innerText(), /Trying again in \d s…/, name);
    await lastAnswer(page).getByTestId('answer-text').getByText(`Answer after ${name}.`).waitFor();
    assert.equal(chatRequests(llm).length, before + 2, `${name}: retried once`);
  }

  // A server that never answers: the user stops it.
  llm.script({ stall: true });
  const sentBefore = chatRequests(llm).length;
  await type(page, 'Question to a silent server');
  await lastAnswer(page).getByTestId('answer-phase').waitFor();
  // Stopped while the memories are still searched, the stall would stay queued for the
  // next question: stop once the request is waiting at the server.
  while (chatRequests(llm).length === sentBefore) await page.waitForTimeout(50);
  await page.getByRole('button', { name: 'Stop' }).click();
  await lastAnswer(page).getByTestId('answer-stopped').waitFor();
  assert.equal(await question(), 'Question to a silent server');

  // An error inside a stream that had started.
  llm.script({ text: 'alpha beta gamma', errorAfter200: {} });
  await ask(page, 'Question with a failing stream');
  assert.match(await error().innerText(), /Scripted is overloaded or having trouble \(during the answer\)/);

  // CORS refused: the browser says nothing more than "failed", so the hint explains.
  llm.configure({ cors: 'refuse' });
  await ask(page, 'Question blocked by CORS');
  assert.match(
    await error().innerText(),
    /^Could not reach http:\/\/127\.0\.0\.1:\d+\/v1\. Is the server running\? It must also allow calls from this page \(http:\/\/127\.0\.0\.1:\d+\)/,
  );
  llm.configure({ cors: 'allow' });
  // Edit: the question goes back to the composer, the failed exchange away.
  await lastAnswer(page).getByRole('button', { name: 'Edit question' }).click();
  assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), 'Question blocked by CORS');
  llm.script({ text: 'Reached.' });
  await page.getByLabel('Message', { exact: true }).press('Enter');
  await lastAnswer(page).getByTestId('answer-text').getByText('Reached.').waitFor();
  assert.equal(await page.getByTestId('question').filter({ hasText: 'Question blocked by CORS' }).count(), 1);
});

test('keys go only to their own base URL, stay out of the profiles, and the model list fills the picker', async () => {
  const second = await startLlmServer({ apiKey: 'sk-second-5678', models: ['second-model-a', 'second-model-b'] });
  try {
    llm.configure({ apiKey: 'sk-first-1234' });
    const seen = [];
    await page.route('**/*', async (route) => {
      const request = route.request();
      seen.push({ url: request.url(), headers: await request.allHeaders(), body: request.postData() ?? '' });
      await route.continue();
    });
    await page.goto(server.url + '/');
    await waitForApp(page);
    await setLearning(page, {});
    await addProvider(page, server.url, { name: 'First', baseUrl: llm.url + '/v1', key: 'sk-first-1234' });
    await addProvider(page, server.url, {
      name: 'Second', baseUrl: second.url + '/v1/chat/completions', key: 'sk-second-5678', sessionOnly: true, loadModels: true,
    });
    const editorless = page.getByTestId('provider-profile').filter({ hasText: 'Second' });
    assert.match(await editorless.innerText(), /\/v1 · second-model-a/, 'the pasted endpoint is trimmed; the first listed model is chosen');
    assert.match(await page.getByTestId('provider-profile').filter({ hasText: 'First' }).innerText(), /default/);

    await page.getByRole('link', { name: 'Chat' }).click();
    llm.script({ text: 'From the first.' });
    await ask(page, 'Who answers?');
    assert.match(await lastAnswer(page).innerText(), /From the first\./);

    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByTestId('provider-profile').filter({ hasText: 'Second' }).getByRole('button', { name: 'Make default' }).click();
    await page.getByTestId('provider-status').getByText('Default provider changed').waitFor();
    await page.getByRole('link', { name: 'Chat' }).click();
    second.script({ text: 'From the second.' });
    await ask(page, 'And now?');
    assert.match(await lastAnswer(page).innerText(), /From the second\./);
    assert.equal(second.requests.at(-1).body.model, 'second-model-a');

    const carrying = (key) => seen.filter((request) =>
      Object.values(request.headers).some((value) => value.includes(key)) || request.body.includes(key));
    const firstKey = carrying('sk-first-1234');
    const secondKey = carrying('sk-second-5678');
    assert.ok(firstKey.length >= 1 && secondKey.length >= 2, 'both keys were used');
    assert.ok(firstKey.every((request) => request.url.startsWith(llm.url + '/v1/')), firstKey.map((r) => r.url).join(', '));
    assert.ok(secondKey.every((request) => request.url.startsWith(second.url + '/v1/')), secondKey.map((r) => r.url).join(', '));
    assert.equal(second.requests.filter((r) => JSON.stringify(r.headers).includes('sk-first')).length, 0);

    const settings = await readRecords(page, 'settings');
    const profiles = settings.find((record) => record.key === 'providers');
    assert.equal(profiles.value.profiles.length, 2);
    assert.doesNotMatch(JSON.stringify(profiles), /sk-/, 'no key inside the profiles');
    const keys = settings.find((record) => record.key === 'provider_keys');
    assert.deepEqual(Object.values(keys.value), ['sk-first-1234'], 'the session-only key is not saved');
    assert.equal(
      await page.evaluate(() => Object.keys(sessionStorage).filter((name) => sessionStorage.getItem(name) === 'sk-second-5678').length),
      1,
    );
  } finally {
    await second.close();
  }
});

test('an Anthropic profile streams through the Messages API with its browser headers', async () => {
  llm.configure({ apiKey: 'sk-ant-test-1' });
  await page.goto(server.url + '/');
  await waitForApp(page);
  await setLearning(page, {});
  await addProvider(page, server.url, {
    preset: 'Anthropic', name: 'Claude', baseUrl: llm.url, key: 'sk-ant-test-1', model: 'claude-test',
  });
  await page.getByRole('link', { name: 'Chat' }).click();
  await command(page, 'Remember that the printer is on floor 3', 'Remembered');
  llm.script({ text: 'It is on floor 3 [M1], grüße ☕.' });
  const answer = await ask(page, 'Where is the printer?');
  assert.equal(await answer.getByTestId('answer-text').innerText(), 'It is on floor 3 [M1], grüße ☕.');
  const request = chatRequests(llm).at(-1);
  assert.equal(request.path, '/v1/messages');
  assert.equal(request.headers['x-api-key'], 'sk-ant-test-1');
  assert.equal(request.headers['anthropic-dangerous-direct-browser-access'], 'true');
  assert.match(request.body.system, /\[M1\] Fact:\n> The printer is on floor 3/);
  assert.equal(await answer.getByTestId('cited').count(), 1);
});

test('conversations are listed newest first, survive a reload, are renamed, and deleted with undo', async () => {
  await openChat();
  await ask(page, 'First question');
  const firstUrl = page.url();
  assert.match(firstUrl, /\?c=c[0-9a-f]+$/);
  await newConversation();
  await ask(page, 'Second question');
  const titles = () => page.getByTestId('conversation-item').locator('a').allInnerTexts();
  assert.deepEqual(await titles(), ['Second question', 'First question']);

  await page.reload();
  await page.getByTestId('conversation-item').first().waitFor();
  assert.deepEqual(await titles(), ['Second question', 'First question']);
  assert.equal(await page.getByTestId('conversation-title').innerText(), 'Second question');
  await page.getByTestId('conversation-item').locator('a', { hasText: 'First question' }).click();
  await page.getByTestId('conversation-title').getByText('First question').waitFor();
  assert.equal(page.url(), firstUrl);
  assert.equal(await page.getByTestId('answer').count(), 1);

  await page.getByRole('button', { name: 'Rename “First question”' }).click();
  const rename = page.getByLabel('New title');
  await rename.fill('Renamed chat');
  await rename.press('Enter');
  await page.getByTestId('conversation-item').locator('a', { hasText: 'Renamed chat' }).waitFor();
  await page.reload();
  await page.getByTestId('conversation-item').locator('a', { hasText: 'Renamed chat' }).waitFor();

  await page.getByRole('button', { name: 'Delete “Second question”' }).click();
  const notice = page.getByTestId('chat-notice');
  await notice.getByText('Deleted “Second question”.').waitFor();
  assert.deepEqual(await titles(), ['Renamed chat']);
  await notice.getByRole('button', { name: 'Undo' }).click();
  await page.getByTestId('conversation-item').locator('a', { hasText: 'Second question' }).waitFor();
  await page.reload();
  await page.getByTestId('conversation-item').nth(1).waitFor();
  assert.deepEqual((await titles()).sort(), ['Renamed chat', 'Second question']);

  await page.getByRole('button', { name: 'Delete “Renamed chat”' }).click();
  await page.getByTestId('chat-notice').getByText('Deleted “Renamed chat”.').waitFor();
  await page.reload();
  await page.getByTestId('conversation-item').first().waitFor();
  assert.deepEqual(await titles(), ['Second question']);
  assert.equal((await readRecords(page, 'conversations')).length, 1);
});

test('Enter sends, Shift+Enter starts a new line, and a code block copies exactly', async () => {
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await openChat();
  const input = page.getByLabel('Message', { exact: true });
  await input.fill('line one');
  await input.press('Shift+Enter');
  await input.pressSequentially('line two');
  assert.equal(await input.inputValue(), 'line one\nline two');
  assert.equal(chatRequests(llm).length, 0, 'Shift+Enter sends nothing');
  llm.script({ text: 'Run this:\n\n```sh\nvpnctl restart --force\necho done\n```\n\nThen <b>sign in</b>.' });
  await input.press('Enter');
  const answer = await waitForAnswers(page, 1);
  assert.equal(await input.inputValue(), '', 'the composer is emptied once the question is in the thread');
  assert.equal(await page.getByTestId('question').locator('.message-text').innerText(), 'line one\nline two');
  assert.equal((await answer.locator('pre code').innerText()).trimEnd(), 'vpnctl restart --force\necho done');
  assert.equal(await answer.locator('b').count(), 0, 'model text is never raw HTML');
  await answer.getByRole('button', { name: 'Copy' }).click();
  await answer.getByRole('button', { name: 'Copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'vpnctl restart --force\necho done\n');
});

test('a correction given once is used, marked as a correction, for a paraphrase later, also after a reload; forget removes it for good', async () => {
  await openChat();
  llm.script({ text: 'Run `vpn restart` in a terminal.' });
  let answer = await ask(page, 'How do I restart the office VPN?');
  await answer.getByRole('button', { name: 'Correct this' }).click();
  await answer.getByLabel('What should the answer have been?').fill('Use vpnctl restart --force, then sign in again.');
  await answer.getByRole('button', { name: 'Save correction' }).click();
  await answer.getByTestId('feedback-status').getByText(/Correction saved/).waitFor();
  let cases = (await readRecords(page, 'memories')).filter((memory) => memory.kind === 'case');
  assert.equal(cases.length, 1);
  assert.equal(cases[0].case.outcome, 'did_not_work');
  assert.equal(cases[0].case.correction, 'Use vpnctl restart --force, then sign in again.');
  assert.equal(cases[0].case.answer, 'Run `vpn restart` in a terminal.');

  const corrected = /Case that did not work \(a pattern to avoid\):\nQuestion:\n> How do I restart the office VPN\?\nThis answer did not work:\n> Run `vpn restart` in a terminal\.\nThe user said instead:\n> Use vpnctl restart --force, then sign in again\./;
  await newConversation();
  await ask(page, 'What is the way to reboot the VPN at the office?');
  assert.match(lastPrompt(), corrected);

  await page.reload();
  await waitForApp(page);
  await newConversation();
  await ask(page, 'How can I restart our office VPN connection?');
  assert.match(lastPrompt(), corrected);

  let notice = await command(page, 'Forget how to restart the office VPN', 'Forgot');
  assert.match(await notice.innerText(), /Forgot: “How do I restart the office VPN\?/);
  await notice.getByRole('button', { name: 'Undo' }).click();
  await page.getByTestId('chat-notice').getByText('Undone.').waitFor();
  await newConversation();
  await ask(page, 'How do I restart the office VPN?');
  assert.match(lastPrompt(), corrected, 'undo brought it back');

  notice = await command(page, 'Forget how to restart the office VPN', 'Forgot');
  await newConversation();
  await ask(page, 'How do I restart the office VPN?');
  assert.doesNotMatch(lastPrompt(), /vpnctl/);
  await page.reload();
  await waitForApp(page);
  await newConversation();
  await ask(page, 'Restart the office VPN: how?');
  assert.doesNotMatch(lastPrompt(), /vpnctl/);
  cases = (await readRecords(page, 'memories')).filter((memory) => memory.kind === 'case');
  assert.ok(cases[0].trashed_at > 0, 'the case is in the trash, not retrieved');
});

test('a verdict saves the exchange as a case, and changing it updates the same case', async () => {
  await openChat();
  llm.script({ text: 'Press the red button.' });
  const answer = await ask(page, 'How do I stop the machine?');
  await answer.getByRole('button', { name: 'Worked' }).click();
  await answer.getByTestId('feedback-status').getByText('Thanks: saved as a case.').waitFor();
  let cases = (await readRecords(page, 'memories')).filter((memory) => memory.kind === 'case');
  assert.equal(cases.length, 1);
  assert.equal(cases[0].case.outcome, 'worked');
  assert.equal(cases[0].case.question, 'How do I stop the machine?');

  await page.reload();
  await waitForApp(page);
  const again = lastAnswer(page);
  assert.equal(await again.getByRole('button', { name: 'Worked' }).getAttribute('aria-pressed'), 'true');
  await again.getByRole('button', { name: 'Did not work' }).click();
  await again.getByTestId('feedback-status').getByText('Thanks: saved as a case.').waitFor();
  cases = (await readRecords(page, 'memories')).filter((memory) => memory.kind === 'case');
  assert.equal(cases.length, 1, 'the same case changed');
  assert.equal(cases[0].case.outcome, 'did_not_work');
  assert.equal(cases[0].revision, 2);

  // A later question sees it as a failed case: kept, to be avoided.
  await newConversation();
  await ask(page, 'How can I stop the machine?');
  assert.match(lastPrompt(), /Case that did not work \(a pattern to avoid\):\nQuestion:\n> How do I stop the machine\?\nThis answer did not work:\n> Press the red button\./);
});

test('Remember finds duplicates, Undo takes a memory back, and "Remember this" keeps a message', async () => {
  await openChat();
  let notice = await command(page, 'Remember that my desk is in room 4.12', 'Remembered');
  notice = await command(page, 'remember: My desk is in room 4.12.', 'Already remembered');
  assert.match(await notice.innerText(), /Already remembered: “My desk is in room 4\.12”/);
  assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), '');
  let memories = await readRecords(page, 'memories');
  assert.equal(memories.length, 1);

  notice = await command(page, 'Remember that my locker code is 1234', 'Remembered');
  await notice.getByRole('button', { name: 'Undo' }).click();
  await page.getByTestId('chat-notice').getByText('Undone.').waitFor();
  memories = await readRecords(page, 'memories');
  assert.ok(memories.find((memory) => memory.text === 'My locker code is 1234').trashed_at > 0);

  llm.script({ text: 'Noted: the badge office opens at 9.' });
  const answer = await ask(page, 'When does the badge office open?');
  await answer.getByRole('button', { name: 'Remember this' }).click();
  await page.getByTestId('chat-notice').getByText('Remembered: “Noted: the badge office opens at 9.”').waitFor();
  const saved = (await readRecords(page, 'memories')).find((memory) => memory.text === 'Noted: the badge office opens at 9.');
  assert.equal(saved.kind, 'note');
  assert.equal(saved.source.type, 'conversation');

  const unknown = await command(page, 'Forget my favourite pizza topping', /No memory matches|Forgot/);
  assert.match(await unknown.innerText(), /No memory matches “my favourite pizza topping”/);
  assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), 'Forget my favourite pizza topping', 'a failed command stays in the composer');
});

test('a temporary chat reads no memory, writes none, and is not saved', async () => {
  await openChat();
  await command(page, 'Remember that my cat is called Miso', 'Remembered');
  await page.getByLabel(/Temporary chat/).check();
  await page.getByText('Temporary chat', { exact: true }).waitFor();
  llm.script({ text: 'I have no memory here.' });
  const answer = await ask(page, 'What is my cat called?');
  assert.doesNotMatch(lastPrompt(), /Miso|# Memories/);
  assert.equal(await answer.getByRole('button', { name: 'Worked' }).count(), 0);
  assert.equal(await answer.getByTestId('used-memories').count(), 0);
  assert.equal(await page.getByTestId('conversation-item').count(), 0);
  assert.equal(page.url(), server.url + '/');
  assert.equal((await readRecords(page, 'conversations')).length, 0);
  await page.reload();
  await page.getByText('Ask anything').waitFor();
  assert.equal(await page.getByTestId('conversation-item').count(), 0);
});

test('the prompt preview shows exactly what is sent; a removed memory and an edited question are respected', async () => {
  await openChat();
  await command(page, 'Remember that my cat is called Miso', 'Remembered');
  await command(page, 'Remember that my cat is afraid of thunder', 'Remembered');
  await page.getByLabel('Message', { exact: true }).fill('Tell me about my cat');
  await page.getByRole('button', { name: 'Preview prompt' }).click();
  const preview = page.getByTestId('prompt-preview');
  await preview.getByTestId('preview-summary').waitFor();
  assert.match(await preview.getByTestId('preview-summary').innerText(), /2 memories in, 0 left out/);
  const thunderTag = await preview.getByTestId('preview-section').filter({ hasText: 'Memory M' })
    .evaluateAll((sections) => sections.map((s) => [s.querySelector('label').textContent, s.querySelector('textarea').value])
      .find(([, text]) => text.includes('thunder'))[0]);
  await preview.getByRole('button', { name: `Remove ${thunderTag}` }).click();
  await preview.getByText(/1 memory in, 1 left out/).waitFor();
  await preview.getByLabel('Your question').fill('Tell me about my cat, briefly');
  llm.script({ text: 'Miso [M1].' });
  await preview.getByRole('button', { name: 'Send this prompt' }).click();
  const answer = await waitForAnswers(page, 1);
  const prompt = lastPrompt();
  assert.match(prompt, /My cat is called Miso/);
  assert.doesNotMatch(prompt, /thunder/);
  assert.match(prompt, /user: Tell me about my cat, briefly$/);
  assert.equal(await page.getByTestId('question').locator('.message-text').innerText(), 'Tell me about my cat, briefly');
  await answer.getByTestId('used-memories').locator('summary').click();
  assert.equal(await answer.getByTestId('used-memory').count(), 1);
});

test('after an exchange, extraction sends suggestions to the inbox, or applies them when asked to', async () => {
  await openChat({ learning: { extraction: true } });
  const proposal = '{"operations":[{"op":"add","text":"The user has a dog named Rex.","kind":"fact"}]}';
  llm.script({ text: 'Walk Rex twice a day.' }, { text: `Here you go:\n\`\`\`json\n${proposal}\n\`\`\`` });
  await ask(page, 'My dog Rex is restless, any tips?');
  const badge = lastAnswer(page).getByTestId('suggestions');
  await badge.waitFor();
  assert.equal(await badge.innerText(), '1 memory suggestion');
  assert.equal(await badge.getAttribute('href'), '/inbox');
  const extractionPrompt = promptText(chatRequests(llm).at(-1));
  assert.match(extractionPrompt, /Reply with JSON only/);
  assert.match(extractionPrompt, /User: My dog Rex is restless, any tips\?\n\nAssistant: Walk Rex twice a day\./);
  const inbox = await readRecords(page, 'inbox');
  assert.equal(inbox.length, 1);
  const conversationId = new URL(page.url()).searchParams.get('c');
  assert.deepEqual(
    { ...inbox[0], id: undefined, created_at: undefined },
    {
      id: undefined, created_at: undefined, conversation_id: conversationId, status: 'pending',
      proposal: { op: 'add', text: 'The user has a dog named Rex.', kind: 'fact' },
      pool: 'default', seen_revision: null,
    },
  );
  assert.equal((await readRecords(page, 'memories')).length, 0, 'nothing applied without review');

  await setLearning(page, { extraction: true, auto_apply: true });
  llm.script({ text: 'Rex can have a chew toy.' }, { text: '{"operations":[{"op":"add","text":"Rex likes chew toys.","kind":"preference"}]}' });
  await ask(page, 'What toys are good for Rex?');
  await lastAnswer(page).getByTestId('suggestions').waitFor();
  const memories = await readRecords(page, 'memories');
  assert.deepEqual(memories.map((memory) => [memory.text, memory.kind, memory.source.type]), [['Rex likes chew toys.', 'preference', 'extraction']]);
});
