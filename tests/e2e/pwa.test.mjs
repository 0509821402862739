// The app as an installable, offline-capable PWA (release build, service worker).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serveDist } from './support/static_server.mjs';
import { launchBrowser } from './support/browser.mjs';

const DIST = process.env.CASEBOOK_DIST ?? fileURLToPath(new URL('../../dist', import.meta.url));
let server;
let browser;

before(async () => {
  server = await serveDist(DIST);
});

after(async () => {
  await server?.close();
});

// Each test starts from a fresh profile: no service worker, no caches.
afterEach(async () => {
  const errors = browser.consoleErrors.splice(0);
  await browser.close();
  server.reset();
  assert.deepEqual(errors, [], 'the page logged errors');
});

async function visitOnce(path = '/') {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(server.url + path);
  // The first visit installs the service worker, which then takes control, and
  // caches the model.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
  await page.getByTestId('status-storage').getByText('Storage: ready').waitFor();
  await page.getByTestId('status-model').getByText(/ready in/).waitFor({ timeout: 60_000 });
  return page;
}

function askServiceWorkerVersion(page) {
  return page.evaluate(
    () =>
      new Promise((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = (event) => resolve(event.data);
        navigator.serviceWorker.controller.postMessage({ type: 'version' }, [channel.port2]);
      }),
  );
}

test('Chromium finds the app installable', async () => {
  const page = await visitOnce();
  const cdp = await page.context().newCDPSession(page);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, []);
  const manifest = await page.evaluate(async () => (await fetch('manifest.webmanifest')).json());
  assert.equal(manifest.display, 'standalone');
  assert.ok(manifest.icons.some((icon) => icon.purpose === 'maskable' && icon.sizes === '512x512'));
});

test('after one online visit the app starts, navigates and stores offline', async () => {
  const page = await visitOnce();
  await browser.context.setOffline(true);

  await page.reload();
  assert.equal(await page.locator('main h1').textContent(), 'Chat');
  await page.getByTestId('status-worker').getByText('Worker: ready').waitFor();
  await page.getByTestId('status-storage').getByText('Storage: ready').waitFor();
  await page.getByTestId('status-model').getByText(/ready in [\d.]+ s \(from cache\)$/).waitFor({ timeout: 60_000 });

  // A deep link, loaded (not routed) while offline.
  await page.goto(server.url + '/settings');
  assert.equal(await page.locator('main h1').textContent(), 'Settings');
  // Chosen before the store opens, the theme is not saved ("Not saved: …").
  await page.getByTestId('status-storage').getByText('Storage: ready').waitFor();
  await page.getByLabel('Theme').selectOption('dark');
  await page.getByText('Saved', { exact: true }).waitFor();
  await page.reload();
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
  assert.equal(await page.getByLabel('Theme').inputValue(), 'dark');
});

test('a new version waits for the user, then replaces the old one', async () => {
  const page = await visitOnce();
  const oldVersion = await askServiceWorkerVersion(page);
  assert.match(oldVersion, /^[0-9a-f]{16}$/);

  // Publish a "new build": same files, new service worker version.
  server.setTransform((path, body) =>
    path === 'sw.js' ? Buffer.from(body.toString().replaceAll(oldVersion, `${oldVersion}-next`)) : body,
  );
  await page.evaluate(() => {
    window.__notReloaded = true;
  });
  await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());

  const banner = page.getByTestId('update-banner');
  await banner.getByText('A new version of Casebook is ready.').waitFor();
  // Still the same page: nothing reloaded by itself.
  assert.equal(await page.evaluate(() => window.__notReloaded), true);
  assert.equal(await askServiceWorkerVersion(page), oldVersion);

  await Promise.all([page.waitForEvent('load'), banner.getByRole('button', { name: 'Reload' }).click()]);
  assert.equal(await page.evaluate(() => window.__notReloaded), undefined, 'the page reloaded');
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  assert.equal(await askServiceWorkerVersion(page), `${oldVersion}-next`);
  const shells = await page.evaluate(async () =>
    (await caches.keys()).filter((name) => name.startsWith('casebook-shell-')),
  );
  assert.deepEqual(shells, [`casebook-shell-${oldVersion}-next`], 'the old version is removed');
  assert.equal(await page.getByTestId('update-banner').count(), 0);
});

test('the release build has a Content Security Policy that blocks inline scripts', async () => {
  const page = await visitOnce();
  const policy = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.doesNotMatch(policy, /'unsafe-(inline|eval)'/);
  // The policy is enforced: an injected inline script does not run.
  const ran = await page.evaluate(() => {
    window.__inlineRan = false;
    const script = document.createElement('script');
    script.textContent = 'window.__inlineRan = true';
    document.body.append(script);
    return window.__inlineRan;
  });
  assert.equal(ran, false);
  browser.consoleErrors.splice(0); // the blocked script is reported, as it should be
});
