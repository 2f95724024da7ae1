// The admin page in a real browser: Debian's Chromium driven by playwright-core, against the
// admin function served by `cargo lambda watch` on the real local services.
//
// Run by local/browser-test.sh, which sets:
//   KEYGATE_ADMIN_URL      the page, with its trailing slash (http://127.0.0.1:9002/lambda-url/admin/)
//   KEYGATE_PROTECTED_URL  test-protected, to prove that keys work and that revoked keys stop
//   ADMIN_TOKEN            the admin token the function was started with
//   CHROMIUM_PATH          optional, default /usr/bin/chromium
// Screenshots go to tests/browser/out/ (not in git).
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(here, 'out');
const adminUrl = required('KEYGATE_ADMIN_URL');
const protectedUrl = required('KEYGATE_PROTECTED_URL');
const adminToken = required('ADMIN_TOKEN');
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const run = Math.random().toString(36).slice(2, 8);
const keyName = `browser test ${run}`;
const hostileName = '<img src=x onerror=alert(1)>';
const KEY_PATTERN = /^kg_[0-9a-f]{72}$/;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run local/browser-test.sh)`);
  return value;
}

// Issues keys straight through the JSON API, to give the list some depth.
async function issueViaApi(name) {
  const response = await fetch(new URL('api/keys', adminUrl), {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  return JSON.parse(text);
}

async function protectedStatus(key) {
  const response = await fetch(protectedUrl, { headers: { 'X-API-KEY': key } });
  return response.status;
}

describe('the admin page', () => {
  let context;
  let page;
  let userDataDir;
  let issuedKey;
  const nativeDialogs = [];
  const pageErrors = [];
  const consoleErrors = [];
  const failedResponses = [];

  before(async () => {
    await mkdir(outDir, { recursive: true });
    // A fresh profile every run: nothing remembered between runs.
    userDataDir = await mkdtemp(path.join(tmpdir(), 'keygate-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport: { width: 1280, height: 900 },
      locale: 'en-GB',
      timezoneId: 'Europe/Paris',
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: new URL(adminUrl).origin,
    });
    page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(15_000);
    // alert(), confirm() and prompt() must never fire: confirmation uses <dialog>, and an
    // alert would mean a key's name ran as HTML.
    page.on('dialog', async (dialog) => {
      nativeDialogs.push(`${dialog.type()}: ${dialog.message()}`);
      await dialog.dismiss();
    });
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('response', (response) => {
      if (response.status() >= 400) failedResponses.push(`${response.status()} ${response.url()}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    // Older keys first, so that the test's own keys are the newest.
    for (const name of ['billing service', 'ci deploy', 'partner: Acme Corp']) {
      await issueViaApi(name);
    }
  });

  after(async () => {
    if (context) await context.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  it('refuses a wrong token with a clear message', async () => {
    await page.goto(adminUrl);
    await page.getByLabel('Admin token').fill('not-the-admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.locator('#sign-in-error');
    await alert.waitFor();
    assert.match(await alert.textContent(), /not accepted/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.getByLabel('Admin token').getAttribute('aria-invalid'), 'true');
  });

  it('signs in with the admin token, kept in sessionStorage only', async () => {
    await page.getByLabel('Admin token').fill(adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Issue a key' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('keygate.adminToken')), adminToken);
    assert.deepEqual(await context.cookies(), []);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    // The keys issued before are listed, newest first.
    const names = await page.locator('#keys-body tr th').allTextContents();
    assert.deepEqual(names.slice(0, 3), ['partner: Acme Corp', 'ci deploy', 'billing service']);
  });

  it('issues a key and shows it once, with a copy button and a warning', async () => {
    await page.getByLabel('Name').fill(keyName);
    await page.getByRole('button', { name: 'Issue key' }).click();
    const region = page.getByRole('region', { name: /New key/ });
    await region.waitFor();
    assert.match(await region.textContent(), /will not be shown again/);
    issuedKey = await page.getByLabel('The new API key').inputValue();
    assert.match(issuedKey, KEY_PATTERN);

    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText(/Copied|Selected/).waitFor();
    const clipboard = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
    if (clipboard !== null) assert.equal(clipboard, issuedKey);

    assert.equal(await protectedStatus(issuedKey), 200, 'the new key works');

    await page.getByRole('button', { name: 'Done, hide the key' }).click();
    await region.waitFor({ state: 'hidden' });
    assert.ok(!(await page.content()).includes(issuedKey), 'the key is gone from the page');
    // Reloading keeps the session but never brings the key back.
    await page.reload();
    await page.getByRole('heading', { name: 'Issue a key' }).waitFor();
    await page.locator('#keys-body tr').first().waitFor();
    assert.ok(!(await page.content()).includes(issuedKey));
  });

  it('finds the key by name and by prefix', async () => {
    const search = page.getByLabel('Search');
    await search.fill(keyName.toUpperCase());
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('#keys-body tr').length === 1);
    assert.equal(await page.locator('#keys-body tr th').textContent(), keyName);

    await search.fill(issuedKey.slice(0, 9));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForFunction(
      (name) => [...document.querySelectorAll('#keys-body tr th')].some((th) => th.textContent === name),
      keyName,
    );

    await search.fill('no key is called this');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText('No keys match.').waitFor();
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#keys-body tr').length >= 4);
  });

  it('shows one key in detail', async () => {
    await page.getByRole('button', { name: `Details of ${keyName}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Key details' });
    await dialog.waitFor();
    const text = await dialog.textContent();
    assert.ok(text.includes(keyName));
    assert.ok(text.includes(issuedKey.slice(0, 11)), 'the display prefix is shown');
    assert.ok(!text.includes(issuedKey), 'never the key itself');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });

  it('revokes the key after a confirmation, without reloading the page', async () => {
    await page.evaluate(() => {
      window.keygateMarker = 'same page';
    });
    const row = page.locator('#keys-body tr', { hasText: keyName });
    await row.getByRole('button', { name: `Revoke ${keyName}` }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke this key?' });
    await confirm.waitFor();
    assert.ok((await confirm.textContent()).includes(keyName));
    // Cancel changes nothing.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    assert.equal(await row.locator('.badge').textContent(), 'active');
    assert.equal(await protectedStatus(issuedKey), 200);

    await row.getByRole('button', { name: `Revoke ${keyName}` }).click();
    await confirm.getByRole('button', { name: 'Revoke key' }).click();
    await confirm.waitFor({ state: 'hidden' });
    await page.waitForFunction(
      (name) =>
        [...document.querySelectorAll('#keys-body tr')].some(
          (tr) => tr.querySelector('th').textContent === name && tr.querySelector('.badge').textContent === 'revoked',
        ),
      keyName,
    );
    assert.equal(await row.getByRole('button', { name: `Revoke ${keyName}` }).count(), 0);
    assert.notEqual((await row.locator('td[data-label="Revoked at"]').textContent()).trim(), '—');
    assert.equal(await page.evaluate(() => window.keygateMarker), 'same page');
    assert.equal(await protectedStatus(issuedKey), 403, 'the revoked key is refused at once');
  });

  it('filters by status', async () => {
    await page.getByLabel('Status').selectOption('revoked');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForFunction(() => {
      const badges = [...document.querySelectorAll('#keys-body .badge')].map((b) => b.textContent);
      return badges.length === 1 && badges[0] === 'revoked';
    });
    await page.getByLabel('Status').selectOption('active');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForFunction(
      () =>
        document.querySelectorAll('#keys-body tr').length === 3 &&
        [...document.querySelectorAll('#keys-body .badge')].every((b) => b.textContent === 'active'),
    );
    await page.getByRole('button', { name: 'Clear' }).click();
  });

  it('renders a hostile key name as text', async () => {
    await page.getByLabel('Name').fill(hostileName);
    await page.getByRole('button', { name: 'Issue key' }).click();
    await page.getByRole('region', { name: /New key/ }).waitFor();
    assert.equal(await page.locator('#new-key-name').textContent(), hostileName);
    await page.getByRole('button', { name: 'Done, hide the key' }).click();
    await page.waitForFunction(
      (name) => document.querySelector('#keys-body tr th')?.textContent === name,
      hostileName,
    );
    await page.getByRole('button', { name: `Details of ${hostileName}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Key details' });
    await dialog.waitFor();
    assert.ok((await dialog.textContent()).includes(hostileName));
    await dialog.getByRole('button', { name: 'Close' }).click();
    assert.equal(await page.locator('img').count(), 0, 'no <img> element was created');
    assert.deepEqual(nativeDialogs, [], 'no alert fired');
  });

  it('pages through the keys with Load more', async () => {
    // 25 per page: these push the list past one page.
    for (let i = 0; i < 24; i += 1) {
      await issueViaApi(`bulk ${run} ${String(i).padStart(2, '0')}`);
    }
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('#keys-body tr').length === 25);
    const loadMore = page.getByRole('button', { name: 'Load more' });
    await loadMore.waitFor();
    await loadMore.click();
    await page.waitForFunction(() => document.querySelectorAll('#keys-body tr').length === 29);
    await loadMore.waitFor({ state: 'hidden' });
    const ids = await page.locator('#keys-body tr').evaluateAll((rows) => rows.map((r) => r.dataset.id));
    assert.equal(new Set(ids).size, ids.length, 'no key twice');
    assert.equal(
      (await page.locator('#keys-body tr th').last().textContent()),
      'billing service',
      'the oldest key comes last',
    );
  });

  it('is usable with the keyboard, with visible focus', async () => {
    await page.getByLabel('Name').focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    const focus = await page.evaluate(() => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      return { id: el.id, outline: style.outlineStyle, width: style.outlineWidth };
    });
    assert.equal(focus.id, 'issue-name');
    assert.notEqual(focus.outline, 'none');
    assert.notEqual(focus.width, '0px');
    // Every form control has a label.
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select')]
        .filter((el) => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
        .map((el) => el.id || el.name),
    );
    assert.deepEqual(unlabelled, []);
  });

  it('looks right at 1280 and 390 pixels wide', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(outDir, 'admin-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(100);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 390px`);
    await page.screenshot({ path: path.join(outDir, 'admin-390.png'), fullPage: false });
    await page.locator('#keys-body tr').nth(23).scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(outDir, 'admin-390-list.png'), fullPage: false });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('signs out and forgets the token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.locator('#keys-body tr').count(), 0);
    await page.reload();
    await page.getByLabel('Admin token').waitFor();
    await page.screenshot({ path: path.join(outDir, 'sign-in-1280.png') });
  });

  it('raised no script errors, no failed loads and no Content-Security-Policy violations', () => {
    assert.deepEqual(pageErrors, []);
    // The wrong-token attempt gets its 401, which is expected; nothing else may fail.
    assert.deepEqual(failedResponses, [`401 ${new URL('api/keys?limit=25', adminUrl)}`]);
    const unexpected = consoleErrors.filter((text) => !/status of 401/.test(text));
    assert.deepEqual(unexpected, []);
  });
});
