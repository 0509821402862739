// Scheduled backups (Settings → Backups), end to end: a due backup reminds the user,
// "Back up now" downloads everything (never a key), "Later" puts the reminder off across
// reloads; with a file chosen for backups, a due backup is written into it by itself.
// Headless Chromium cannot show the save dialog, so the file is one of the origin's private
// files (a real FileSystemFileHandle, as the dialog returns), stored where the app keeps
// the chosen one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { appSession } from './support/session.mjs';
import { addProvider, command, setLearning, waitForApp } from './support/chat.mjs';

const session = appSession();
const DAY = 86_400_000;

/// The app with a provider whose key must never be in a backup, and one memory.
async function openWithAMemory() {
  const { page, server, llm } = session;
  await page.goto(server.url + '/');
  await waitForApp(page);
  await setLearning(page, {});
  await addProvider(page, server.url, { name: 'Scripted', baseUrl: llm.url + '/v1', key: 'sk-never-in-backups' });
  await page.getByRole('link', { name: 'Chat' }).click();
  await command(page, 'Remember that the spare key is under the blue pot', 'Remembered');
}

/// Writes `value` as the settings record `key`, as the app stores it.
async function putSetting(page, key, value) {
  await page.evaluate(async ({ key, value }) => {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open('casebook');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    if (key === 'backup_file') {
      const root = await navigator.storage.getDirectory();
      value = await root.getFileHandle(value, { create: true });
    }
    await new Promise((resolve, reject) => {
      const transaction = db.transaction('settings', 'readwrite');
      transaction.objectStore('settings').put({ key, value });
      transaction.oncomplete = resolve;
      transaction.onerror = () => reject(transaction.error);
    });
    db.close();
  }, { key, value });
}

const reminder = () => session.page.getByTestId('backup-reminder');

function assertIsBackup(text) {
  const backup = JSON.parse(text);
  assert.match(JSON.stringify(backup.memories), /spare key is under the blue pot/);
  assert.doesNotMatch(text, /sk-never-in-backups/, 'no key in a backup');
  return backup;
}

test('a due backup reminds, downloads everything on one click, and Later puts the reminder off', async () => {
  const { page } = session;
  await openWithAMemory();
  await page.getByRole('link', { name: 'Settings' }).click();
  const card = page.getByTestId('backup-settings');
  await card.getByTestId('backup-last').getByText('No backup yet.').waitFor();
  assert.equal(await reminder().count(), 0, 'no reminder without a schedule');

  // A schedule with no backup yet is due at once.
  await page.getByLabel('Back up', { exact: true }).selectOption({ label: 'Every day' });
  await reminder().getByText('A backup of your memory is due (last one: never).').waitFor();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    reminder().getByRole('button', { name: 'Back up now' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^casebook-\d{4}-\d{2}-\d{2}\.json$/);
  assertIsBackup(await readFile(await download.path(), 'utf8'));
  await reminder().waitFor({ state: 'detached' });
  await card.getByTestId('backup-outcome').getByText(`Backed up 1 memory to ${download.suggestedFilename()}.`).waitFor();
  assert.match(await card.getByTestId('backup-last').innerText(), new RegExp(`^Last backup: today \\(.+\\), to ${download.suggestedFilename()}\\.$`));

  // Two days later (the last backup moved back), the reminder is back; Later puts it off,
  // also after a reload.
  await putSetting(page, 'backup', {
    interval: 'daily', last_backup_at: Date.now() - 2 * DAY, last_backup_to: download.suggestedFilename(),
  });
  await page.reload();
  await reminder().getByText('A backup of your memory is due (last one: 2 days ago).').waitFor();
  await reminder().getByRole('button', { name: 'Later' }).click();
  await reminder().waitFor({ state: 'detached' });
  await page.reload();
  await page.getByTestId('status-storage').getByText('Storage: ready').waitFor();
  await card.getByTestId('backup-last').getByText(/^Last backup: 2 days ago/).waitFor();
  assert.equal(await reminder().count(), 0, 'the reminder stays off after Later');

  // Never is never.
  await page.getByLabel('Back up', { exact: true }).selectOption({ label: 'Never (only when I export)' });
  await page.reload();
  await card.getByTestId('backup-last').getByText(/^Last backup: 2 days ago/).waitFor();
  assert.equal(await reminder().count(), 0);
});

test('with a file chosen for backups, a due backup is written into it without asking', async () => {
  const { page, server } = session;
  await openWithAMemory();
  await putSetting(page, 'backup_file', 'chosen-backup.json');
  await putSetting(page, 'backup', { interval: 'weekly', last_backup_at: Date.now() - 8 * DAY });
  await page.goto(server.url + '/settings');
  const card = page.getByTestId('backup-settings');
  await card.getByTestId('backup-last').getByText(/^Last backup: today \(.+\), to chosen-backup\.json\.$/).waitFor();
  assert.equal(await reminder().count(), 0, 'nothing to remind: it was written');
  assert.equal(await card.getByTestId('backup-file').innerText(), 'chosen-backup.json');
  const written = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    return (await (await root.getFileHandle('chosen-backup.json')).getFile()).text();
  });
  assertIsBackup(written);

  // "Download instead" forgets the file: the next backup is a download.
  await card.getByRole('button', { name: 'Download instead' }).click();
  await card.getByTestId('backup-outcome').getByText('Backups are downloaded from now on.').waitFor();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    card.getByRole('button', { name: 'Back up now' }).click(),
  ]);
  assertIsBackup(await readFile(await download.path(), 'utf8'));
});
