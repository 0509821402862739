// Helpers for the chat's end-to-end tests: set up a provider through Settings, talk in the
// chat, and read what reached the scripted LLM server.

/// Waits until the app's database, worker, model and memory are ready.
export async function waitForApp(page) {
  await page.getByTestId('status-storage').getByText('Storage: ready').waitFor();
  await page.getByTestId('status-model').getByText(/Model: .* ready/).waitFor({ timeout: 120_000 });
  await page.getByTestId('status-bank').getByText(/Memory: \d+ memor/).waitFor({ timeout: 60_000 });
}

/// Adds a provider profile through Settings → Providers and saves it (the first one
/// becomes the default). `preset` is the preset's label; `baseUrl` e.g. llm.url + '/v1'.
export async function addProvider(page, serverUrl, {
  preset = 'llama.cpp server', name, baseUrl, key = '', model = 'casebook-test-model', sessionOnly = false,
  loadModels = false,
} = {}) {
  await page.goto(serverUrl + '/settings');
  await page.getByTestId('status-storage').getByText('Storage: ready').waitFor();
  await page.getByLabel('Add a provider').selectOption({ label: preset });
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  const editor = page.getByTestId('provider-editor');
  if (name) await editor.getByLabel('Name').fill(name);
  await editor.getByLabel('Base URL').fill(baseUrl);
  if (key) await editor.getByLabel('API key').fill(key);
  if (sessionOnly) await editor.getByLabel(/Keep this key for this session only/).check();
  if (loadModels) {
    await editor.getByLabel('Model', { exact: true }).fill('');
    await editor.getByRole('button', { name: 'Load models' }).click();
    await editor.getByTestId('models-status').getByText(/models? available/).waitFor();
  } else {
    await editor.getByLabel('Model', { exact: true }).fill(model);
  }
  await editor.getByRole('button', { name: 'Save provider' }).click();
  await page.getByTestId('provider-status').getByText(/^Saved /).waitFor();
}

/// Settings → Learning is another page's; tests that do not test extraction switch it off
/// so that the scripted server answers only the questions asked.
export async function setLearning(page, learning) {
  await page.evaluate(async (value) => {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open('casebook');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    await new Promise((resolve, reject) => {
      const transaction = db.transaction('settings', 'readwrite');
      transaction.objectStore('settings').put({ key: 'learning', value });
      transaction.oncomplete = resolve;
      transaction.onerror = () => reject(transaction.error);
    });
    db.close();
  }, { learned_reranker: true, extraction: false, auto_apply: false, ...learning });
}

/// Every record of one IndexedDB store of the app.
export async function readRecords(page, store) {
  return page.evaluate(async (store) => {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open('casebook');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const records = await new Promise((resolve, reject) => {
      const request = db.transaction(store).objectStore(store).getAll();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    db.close();
    return records;
  }, store);
}

/// Types `text` into the composer and presses Enter.
export async function type(page, text) {
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(text);
  await input.press('Enter');
}

/// The last answer in the thread.
export const lastAnswer = (page) => page.getByTestId('answer').last();

/// Waits until the thread has `count` answers and the last one is no longer being written.
export async function waitForAnswers(page, count) {
  await page.waitForFunction((count) => {
    const answers = document.querySelectorAll('[data-testid="answer"]');
    return answers.length >= count && answers[answers.length - 1].getAttribute('aria-busy') === 'false';
  }, count, { timeout: 60_000 });
  return lastAnswer(page);
}

/// Asks a question and waits for its answer to end; returns the answer's locator.
export async function ask(page, text) {
  const before = await page.getByTestId('answer').count();
  await type(page, text);
  return waitForAnswers(page, before + 1);
}

/// Types a "Remember …" / "Forget …" command and waits for the notice that says `expected`.
export async function command(page, text, expected) {
  await type(page, text);
  const notice = page.getByTestId('chat-notice').filter({ hasText: expected });
  await notice.waitFor();
  return notice;
}

/// The chat requests the scripted server received (not preflights or model lists).
export const chatRequests = (llm) => llm.requests.filter((request) => request.method === 'POST');

/// All text of a recorded chat request's prompt (system and messages).
export function promptText(request) {
  const { body } = request;
  const parts = [body.system ?? '', ...body.messages.map((message) => `${message.role}: ${message.content}`)];
  return parts.join('\n');
}
