// The hooks most end-to-end files share: serve the built app (and the scripted LLM
// server), give every test a fresh browser and page, and fail a test whose page logged
// errors other than those it allowed.
import { before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serveDist } from './static_server.mjs';
import { launchBrowser } from './browser.mjs';
import { startLlmServer } from './llm_server.mjs';
import { addProvider, setLearning, waitForApp } from './chat.mjs';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIST = process.env.CASEBOOK_DIST ?? `${ROOT}dist`;

/// Registers the hooks; returns the session, whose `server`, `llm`, `browser` and `page`
/// are set while a test runs. `allowConsoleErrors(...patterns)` lets the current test's
/// page log errors matching them (requests it fails or stops on purpose).
export function appSession({ testPages = false } = {}) {
  const session = {
    server: undefined,
    llm: undefined,
    browser: undefined,
    page: undefined,
    allowed: [],
    allowConsoleErrors(...patterns) {
      session.allowed.push(...patterns);
    },
  };
  before(async () => {
    session.server = await serveDist(DIST, testPages ? { mounts: { '/test/': `${ROOT}tests/e2e/pages` } } : {});
    session.llm = await startLlmServer();
  });
  after(async () => {
    await session.llm?.close();
    await session.server?.close();
  });
  beforeEach(async () => {
    session.llm.reset();
    session.allowed = [];
    session.browser = await launchBrowser();
    session.page = await session.browser.newPage();
  });
  afterEach(async () => {
    const errors = session.browser.consoleErrors
      .splice(0)
      .filter((error) => !session.allowed.some((allowed) => allowed.test(error)));
    await session.browser.close();
    assert.deepEqual(errors, [], 'the page logged errors');
  });
  return session;
}

/// Opens the app, waits until it is ready, sets Settings → Learning (extraction off unless
/// `learning` says otherwise) and adds the scripted server as the provider; the page is
/// left on Settings.
export async function openWithScriptedProvider(session, learning = {}) {
  const { page, server, llm } = session;
  await page.goto(server.url + '/');
  await waitForApp(page);
  await setLearning(page, learning);
  await addProvider(page, server.url, { name: 'Scripted', baseUrl: llm.url + '/v1' });
}
