// Launches Debian's Chromium through playwright-core with the flags this machine
// needs (no sandbox as root; no background networking, which the closed network
// refuses) and collects console errors so that every test can assert there are none.
import { chromium } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/// A fresh browser profile (its own IndexedDB) that is deleted on close.
export async function launchBrowser() {
  const profile = await mkdtemp(join(tmpdir(), 'casebook-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: CHROMIUM_FLAGS,
    headless: true,
  });
  const consoleErrors = [];
  const watch = (page) => {
    page.on('console', (message) => {
      if (message.type() === 'error') {
        const { url } = message.location();
        consoleErrors.push(url ? `${message.text()} (${url})` : message.text());
      }
    });
    page.on('pageerror', (error) => consoleErrors.push(String(error)));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return {
    context,
    consoleErrors,
    async newPage() {
      return context.pages()[0] ?? context.newPage();
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
