// End-to-end: the built app (dist/) served on 127.0.0.1, driven in headless Chromium.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serveDist } from './support/static_server.mjs';
import { launchBrowser } from './support/browser.mjs';

const DIST = process.env.CASEBOOK_DIST ?? fileURLToPath(new URL('../../dist', import.meta.url));
let server;
let browser;
let page;

before(async () => {
  server = await serveDist(DIST);
  browser = await launchBrowser();
  page = await browser.newPage();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

afterEach(() => {
  // splice: each test answers for its own errors only.
  assert.deepEqual(browser.consoleErrors.splice(0), [], 'the page logged errors');
});

const heading = () => page.locator('main h1');

test('the pages render and the navigation moves between them', async () => {
  await page.goto(server.url + '/');
  assert.equal(await heading().textContent(), 'Chat');
  assert.equal(await page.title(), 'Casebook');

  await page.getByRole('link', { name: 'Memory' }).click();
  await page.waitForURL('**/memory');
  assert.equal(await heading().textContent(), 'Memory');
  await page.getByText('No memories yet.').waitFor();

  await page.getByRole('link', { name: 'Settings' }).click();
  await page.waitForURL('**/settings');
  assert.equal(await heading().textContent(), 'Settings');
  assert.equal(
    await page.getByRole('link', { name: 'Settings' }).getAttribute('aria-current'),
    'page',
  );

  await page.getByRole('link', { name: 'Chat' }).click();
  await page.waitForURL(server.url + '/');
  assert.equal(await heading().textContent(), 'Chat');
});

test('leaving pages while they are still loading breaks nothing, and an unsent question waits in the chat', async () => {
  // Each page starts reading the store as it opens; the user may be gone before
  // the store answers. Rounds start on each page and move on at a growing pace.
  const links = ['Chat', 'Memory', 'Settings', 'Inbox'];
  const headings = { Chat: 'Chat', Memory: 'Memory', Settings: 'Settings', Inbox: 'Inbox' };
  const starts = ['/', '/memory', '/settings', '/inbox'];
  // A slow machine widens the window between a page's start and the store's answer.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 6 });
  for (let round = 0; round < 6; round += 1) {
    await page.goto(server.url + starts[round % starts.length]);
    let last;
    for (let step = 0; step < links.length + 1; step += 1) {
      last = links[(round + step + 1) % links.length];
      await page.getByRole('link', { name: last, exact: false }).first().click();
      await page.waitForTimeout(round * 20);
    }
    await page.getByTestId('status-storage').getByText('Storage: ready').waitFor();
    await page.waitForFunction(
      (want) => document.querySelector('main h1')?.textContent === want,
      headings[last],
    );
  }
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
  await cdp.detach();
  // The chat still works after all that, and what was typed but not sent is
  // still there after a visit to another page.
  await page.getByRole('link', { name: 'Chat' }).click();
  await page.locator('#composer-input').fill('still here');
  await page.getByRole('link', { name: 'Memory' }).click();
  await page.getByText('No memories yet.').waitFor();
  await page.getByRole('link', { name: 'Chat' }).click();
  assert.equal(await page.locator('#composer-input').inputValue(), 'still here');
});

test('a deep link loads its page directly and an unknown address says so', async () => {
  await page.goto(server.url + '/settings');
  assert.equal(await heading().textContent(), 'Settings');
  await page.goto(server.url + '/no/such/page');
  assert.equal(await heading().textContent(), 'Page not found');
});

test('the worker answers: status bar and an echoed message', async () => {
  await page.goto(server.url + '/settings');
  const status = page.getByTestId('status-worker');
  await status.getByText(/Worker: ready \(\d+\.\d ms round trip\)/).waitFor();
  await page.getByTestId('status-storage').getByText('Storage: ready (schema v3)').waitFor();

  await page.getByLabel('Message to the worker').fill('are you there?');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByTestId('ping-result').getByText(/The worker answered “are you there\?” in \d/).waitFor();
  assert.match(await page.getByTestId('worker-info').textContent(), /^version \d+\.\d+\.\d+, SIMD on$/);
});

test('a setting chosen on one page survives a reload', async () => {
  await page.goto(server.url + '/settings');
  await page.getByTestId('status-storage').getByText('Storage: ready').waitFor();
  const theme = page.getByLabel('Theme');
  await theme.selectOption('dark');
  await page.getByText('Saved', { exact: true }).waitFor();
  assert.equal(await page.locator('html').getAttribute('data-theme'), 'dark');

  await page.reload();
  await page.getByTestId('status-storage').getByText('Storage: ready').waitFor();
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
  assert.equal(await page.getByLabel('Theme').inputValue(), 'dark');

  // And back, so the choice is really written each time, not only once.
  await page.getByLabel('Theme').selectOption('light');
  await page.getByText('Saved', { exact: true }).waitFor();
  await page.reload();
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
});

test('settings show how much storage is used and whether it is protected', async () => {
  await page.goto(server.url + '/settings');
  await page.getByTestId('storage-use').getByText(/^\d+(\.\d)? (B|kB|MB|GB) of \d+(\.\d)? (kB|MB|GB|TB) \(\d+%\)$/).waitFor();
  assert.match(
    await page.getByTestId('storage-persistent').textContent(),
    /^(yes: the browser will not delete|not yet: the browser may clear it)/,
  );
  assert.equal(await page.getByTestId('status-storage-warning').count(), 0, 'an empty store is not nearly full');
});
