// The admin page in a real browser: Debian's Chromium driven by playwright-core, against the
// admin function served by `cargo lambda watch` on the real local services.
//
// Run by local/browser-test.sh, which sets:
//   KEYGATE_ADMIN_URL      the page, with its trailing slash (http://127.0.0.1:9002/lambda-url/admin/)
//   KEYGATE_PROTECTED_URL  test-protected, to prove that keys work and that revoked keys stop
//   KEYGATE_FOLD_URL       the usage-fold function's invoke URL on the emulator's Lambda API
//   ADMIN_TOKEN            the bootstrap admin token the function was started with (role admin)
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
const foldUrl = required('KEYGATE_FOLD_URL');
const adminToken = required('ADMIN_TOKEN');
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const run = Math.random().toString(36).slice(2, 8);
const keyName = `browser test ${run}`;
const owner = `team-${run}`;
const rotateName = `rotate me ${run}`;
const limitName = `limited ${run}`;
const plainName = `plain ${run}`;
const selfName = `rotates itself ${run}`;
const rotateMeta = { plan: 'pro', note: '<img src=x onerror=alert(2)>', limits: { rps: 10 } };
const hostileName = '<img src=x onerror=alert(1)>';
const KEY_PATTERN = /^kg_[0-9a-f]{72}$/;
const ADMIN_PATTERN = /^kga_[0-9a-f]{72}$/;
const ADMIN_ID_PATTERN = /^adm_[0-9a-f]{24}$/;
const readerName = `reader ${run}`;
const verifierName = `verifier ${run}`;
const bossName = `boss ${run}`;
const opsName = `ops ${run}`;
const externalId = `acme-${run}`;
const identityKeyName = `identity key ${run}`;
const IDENTITY_ID_PATTERN = /^idt_[0-9a-f]{24}$/;
const usageKeyName = `usage key ${run}`;
const usageExternalId = `usage-${run}`;
const topKeyName = `top key ${run}`;
const topReaderName = `top reader ${run}`;
const OUTCOMES = ['valid', 'rate_limited', 'quota_exhausted', 'missing_scope', 'revoked', 'expired'];

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run local/browser-test.sh)`);
  return value;
}

// Issues keys straight through the JSON API, to give the list some depth.
async function issueViaApi(name, extra = {}) {
  const response = await fetch(new URL('api/keys', adminUrl), {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, ...extra }),
  });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  return JSON.parse(text);
}

// A key as the JSON API shows it.
async function viewViaApi(id) {
  const response = await fetch(new URL(`api/keys/${id}`, adminUrl), {
    headers: { Authorization: `Bearer ${adminToken}` },
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text);
}

// An admin credential, made straight through the JSON API with the bootstrap token.
async function createAdminViaApi(name, role) {
  const response = await fetch(new URL('api/admins', adminUrl), {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, role }),
  });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  const created = JSON.parse(text);
  assert.match(created.key, ADMIN_PATTERN);
  assert.match(created.id, ADMIN_ID_PATTERN);
  assert.equal(created.role, role);
  return created;
}

// Who the API takes an admin credential for: { status, body } of GET api/me.
async function whoIs(token) {
  const response = await fetch(new URL('api/me', adminUrl), { headers: { Authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
}

// The status test-protected answers a request with `key`, requiring `scope` if given.
async function protectedStatus(key, scope) {
  const url = new URL(protectedUrl);
  if (scope) url.searchParams.set('scope', scope);
  const response = await fetch(url, { headers: { 'X-API-KEY': key } });
  return response.status;
}

// An identity, made straight through the JSON API.
async function createIdentityViaApi(externalId) {
  const response = await fetch(new URL('api/identities', adminUrl), {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ external_id: externalId }),
  });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  return JSON.parse(text);
}

// GET api/usage with these parameters, as the API answers it.
async function usageViaApi(params) {
  const url = new URL('api/usage', adminUrl);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const response = await fetch(url, { headers: { Authorization: `Bearer ${adminToken}` } });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text);
}

// GET api/usage/top with these parameters (a URLSearchParams or an object), as the API
// answers it.
async function usageTopViaApi(params) {
  const url = new URL('api/usage/top', adminUrl);
  for (const [name, value] of new URLSearchParams(params)) url.searchParams.set(name, value);
  const response = await fetch(url, { headers: { Authorization: `Bearer ${adminToken}` } });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text);
}

// Folds the usage counts from Redis into the table, as the usage-fold function does every
// minute in AWS: the function itself, invoked through the emulator's Lambda API.
async function foldUsage() {
  const response = await fetch(foldUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const report = JSON.parse(text);
  assert.equal(report.failed, 0, `the fold answered ${text}`);
  return report;
}

// What a ranking of the Usage view shows: what usage.js says it was given (data-days,
// data-from, data-keys), and its rows as text.
async function rankingShown(list) {
  return {
    days: Number(await list.getAttribute('data-days')),
    from: await list.getAttribute('data-from'),
    keys: JSON.parse(await list.getAttribute('data-keys')),
    rows: await list.locator('tbody tr').evaluateAll((rows) =>
      rows.map((row) => [...row.cells].map((cell) => cell.textContent)),
    ),
    empty: await list.locator('.usage-top-empty').isVisible(),
    table: await list.locator('table').isVisible(),
  };
}

// Checks that the ranking `list` shows what the API answers for the parameters the page
// asked with (`asked`, the URL of its request), read again by the test. Returns the answer.
async function assertRankingMatchesApi(list, asked) {
  const answer = await usageTopViaApi(new URL(asked).searchParams);
  const shown = await rankingShown(list);
  assert.equal(shown.days, answer.days);
  assert.equal(shown.from, answer.from);
  assert.deepEqual(shown.keys, answer.keys, 'the page was given the API\'s ranking');
  assert.deepEqual(
    shown.rows,
    answer.keys.map((key, i) => [String(i + 1), key.key_id, key.count.toLocaleString('en-GB')]),
  );
  assert.equal(shown.table, answer.keys.length > 0);
  assert.equal(shown.empty, answer.keys.length === 0);
  return answer;
}

// What a usage chart was drawn from (usage.js sets these attributes on it), and what its
// totals table says, read from the page.
async function chartShown(panel) {
  const chart = panel.locator('.usage-chart');
  return {
    granularity: await chart.getAttribute('data-granularity'),
    from: await chart.getAttribute('data-from'),
    to: await chart.getAttribute('data-to'),
    counts: JSON.parse(await chart.getAttribute('data-counts')),
    totals: JSON.parse(await chart.getAttribute('data-totals')),
    table: Object.fromEntries(
      await panel
        .locator('.usage-totals tbody tr')
        .evaluateAll((rows) => rows.map((row) => [row.dataset.outcome, row.querySelector('td').textContent])),
    ),
    all: await panel.locator('.usage-totals tfoot td').textContent(),
  };
}

// The same data as the chart's attributes, made from an answer of the API.
function countsOf(report) {
  const counts = { start: report.buckets.map((b) => b.start) };
  for (const name of OUTCOMES) counts[name] = report.buckets.map((b) => b[name]);
  return counts;
}

// Checks that what `panel` shows is what the API answers for `params` over the same
// buckets (read back from the chart, so that an hour that turns in between changes nothing),
// and that a uPlot chart is drawn. Returns the API's answer.
async function assertChartMatchesApi(panel, params, granularity) {
  const chart = panel.locator(`.usage-chart[data-granularity="${granularity}"][data-totals]`);
  await chart.locator('canvas').first().waitFor();
  const shown = await chartShown(panel);
  const report = await usageViaApi({ ...params, granularity, from: shown.from, to: shown.to });
  assert.equal(report.granularity, granularity);
  assert.equal(report.buckets.length, granularity === 'hour' ? 24 : 30);
  assert.deepEqual(shown.counts, countsOf(report), 'the chart was given the API\'s buckets');
  assert.deepEqual(shown.totals, report.totals);
  assert.deepEqual(shown.table, Object.fromEntries(OUTCOMES.map((name) => [name, report.totals[name].toLocaleString('en-GB')])));
  const all = OUTCOMES.reduce((sum, name) => sum + report.totals[name], 0);
  assert.equal(shown.all, all.toLocaleString('en-GB'));
  const size = await chart.locator('canvas').first().evaluate((canvas) => [canvas.width, canvas.height]);
  assert.ok(size[0] > 100 && size[1] > 100, `the chart's canvas is ${size.join('×')}`);
  return report;
}

// Whether the chart's canvas has pixels of the colour of `outcome` (its CSS variable).
async function chartHasColour(panel, outcome) {
  return panel.evaluate((root, name) => {
    const hex = getComputedStyle(root).getPropertyValue(`--usage-${name}`).trim();
    const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const canvas = root.querySelector('.usage-chart canvas');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < pixels.length; i += 4) {
      if (pixels[i] === rgb[0] && pixels[i + 1] === rgb[1] && pixels[i + 2] === rgb[2]) return true;
    }
    return false;
  }, outcome);
}

describe('the admin page', () => {
  let context;
  let page;
  let userDataDir;
  let issuedKey;
  // The key rotated by the test, and its replacement.
  let oldKey;
  let oldId;
  let newKey;
  let newId;
  // The key issued with a rate limit and a quota.
  let limitId;
  // The identity the identities test creates.
  let identityId;
  // The issue form's name field (the edit dialog has a "Name" field too, hidden until opened).
  const nameField = () => page.getByRole('textbox', { name: 'Name', exact: true });
  const rowNames = () => page.locator('#keys-body tr th .name').allTextContents();
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
    await page.getByLabel('Admin credential', { exact: true }).fill('not-the-admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.locator('#sign-in-error');
    await alert.waitFor();
    assert.match(await alert.textContent(), /not accepted/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.getByLabel('Admin credential', { exact: true }).getAttribute('aria-invalid'), 'true');
  });

  it('signs in with the admin token, kept in sessionStorage only', async () => {
    await page.getByLabel('Admin credential', { exact: true }).fill(adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Issue a key' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('keygate.adminToken')), adminToken);
    // The bootstrap token is shown as such, with its role, and may manage admin credentials.
    assert.equal(await page.locator('#whoami .whoami-name').textContent(), 'bootstrap token');
    assert.equal(await page.locator('#whoami .role').textContent(), 'admin');
    assert.equal(await page.getByRole('button', { name: 'Admins' }).isVisible(), true);
    assert.deepEqual(await context.cookies(), []);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    // The keys issued before are listed, newest first.
    const names = await rowNames();
    assert.deepEqual(names.slice(0, 3), ['partner: Acme Corp', 'ci deploy', 'billing service']);
  });

  it('issues a key with an owner and scopes and shows it once, with a copy button and a warning', async () => {
    await nameField().fill(keyName);
    await page.getByLabel('Owner (optional)').fill(owner);
    await page.getByLabel('Scopes (optional)').fill('orders:read, orders:write');
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

    const row = page.locator('#keys-body tr', { hasText: keyName });
    assert.equal(await row.locator('.owner').textContent(), owner);
    // The list shows the first scope and how many more; the cell's tooltip lists them all.
    assert.deepEqual(await row.locator('.chip').allTextContents(), ['orders:read']);
    assert.equal(await row.locator('.chips').getAttribute('title'), 'orders:read orders:write');
    assert.equal(await row.locator('.more-count').textContent(), '+1');
    assert.equal((await row.locator('td[data-label="Last used"]').textContent()).trim(), 'never');
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
    assert.deepEqual(await rowNames(), [keyName]);

    // The search also matches owners.
    await search.fill(owner.toUpperCase());
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForFunction(
      (o) => [...document.querySelectorAll('#keys-body tr')].length === 1 && document.querySelector('#keys-body .owner')?.textContent === o,
      owner,
    );

    await search.fill(issuedKey.slice(0, 9));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForFunction(
      (name) => [...document.querySelectorAll('#keys-body tr th .name')].some((n) => n.textContent === name),
      keyName,
    );

    await search.fill('no key is called this');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText('No keys match.').waitFor();
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#keys-body tr').length >= 4);
  });

  it('shows one key in detail, with its owner, scopes, last use and history', async () => {
    await page.getByRole('button', { name: `Details of ${keyName}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Key details' });
    await dialog.waitFor();
    const text = await dialog.textContent();
    assert.ok(text.includes(keyName));
    assert.ok(text.includes(owner));
    assert.ok(text.includes(issuedKey.slice(0, 11)), 'the display prefix is shown');
    assert.ok(!text.includes(issuedKey), 'never the key itself');
    assert.deepEqual(await dialog.locator('dd .chip').allTextContents(), ['orders:read', 'orders:write']);
    // The key was used once, above.
    assert.ok(await dialog.locator('dt:text-is("Last used") + dd time').count(), 'last use is shown');
    await dialog.locator('#key-audit-list li').first().waitFor();
    assert.deepEqual(await dialog.locator('#key-audit-list .action').allTextContents(), ['issue']);
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
          (tr) => tr.querySelector('th .name').textContent === name && tr.querySelector('.badge').textContent === 'revoked',
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
    await nameField().fill(hostileName);
    await page.getByRole('button', { name: 'Issue key' }).click();
    await page.getByRole('region', { name: /New key/ }).waitFor();
    assert.equal(await page.locator('#new-key-name').textContent(), hostileName);
    await page.getByRole('button', { name: 'Done, hide the key' }).click();
    await page.waitForFunction(
      (name) => document.querySelector('#keys-body tr th .name')?.textContent === name,
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

  it('issues a key with a rate limit and a quota, then edits and removes its limits', async () => {
    const form = page.locator('#issue-form');
    await nameField().fill(limitName);
    await form.getByLabel('Requests').fill('100');
    await form.getByLabel('Per (seconds)').fill('60');
    await form.getByLabel('Calls left').fill('950');
    // The refill amount waits for a refill, and a refill needs its amount.
    assert.equal(await form.getByLabel('Refill amount').isDisabled(), true);
    await form.getByLabel('Refills').selectOption('month');
    await page.getByRole('button', { name: 'Issue key' }).click();
    await page.getByText('Quota: enter the refill amount').waitFor();
    assert.equal(await form.getByLabel('Refill amount').getAttribute('aria-invalid'), 'true');
    await form.getByLabel('Refill amount').fill('1000');
    const [issued] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/keys') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Issue key' }).click(),
    ]);
    assert.equal(issued.status(), 201);
    assert.deepEqual(issued.request().postDataJSON(), {
      name: limitName,
      rate_limit: { limit: 100, window_seconds: 60 },
      quota: { remaining: 950, refill: { every: 'month', amount: 1000 } },
      self_rotation: false,
    });
    limitId = (await issued.json()).id;
    await page.getByRole('region', { name: /New key/ }).waitFor();
    const limitKey = await page.getByLabel('The new API key').inputValue();
    await page.getByRole('button', { name: 'Done, hide the key' }).click();
    // The form is empty again, the refill amount off with its refill.
    assert.equal(await form.getByLabel('Requests').inputValue(), '');
    assert.equal(await form.getByLabel('Refill amount').isDisabled(), true);

    // The list: the rate, then the quota; a dash for keys without limits.
    const row = page.locator(`#keys-body tr[data-id="${limitId}"]`);
    const limits = row.locator('td[data-label="Limits"]');
    await row.waitFor();
    assert.equal(await limits.locator('.rate').textContent(), '100 / 60 s');
    assert.equal(await limits.locator('.quota').textContent(), 'quota 950 left, refills 1,000 monthly');
    const plain = page.locator('#keys-body tr', { hasText: 'billing service' });
    assert.equal(await plain.locator('td[data-label="Limits"]').textContent(), '—');

    // A request spends one call; the details show the live count, and so does the row then.
    assert.equal(await protectedStatus(limitKey), 200, 'the limited key works');
    await row.getByRole('button', { name: `Details of ${limitName}` }).click();
    const details = page.getByRole('dialog', { name: 'Key details' });
    await details.waitFor();
    const rateShown = details.locator('dt:text-is("Rate limit") + dd');
    const quotaShown = details.locator('dt:text-is("Quota") + dd');
    assert.equal(await rateShown.textContent(), '100 requests per 60 seconds (1 minute)');
    assert.equal(await quotaShown.textContent(), '949 calls left, refills to 1,000 on the 1st of each month, 00:00 UTC');
    assert.equal(await limits.locator('.quota').textContent(), 'quota 949 left, refills 1,000 monthly');

    // Edit the rate limit. The dialog starts from the key's limits.
    await details.getByRole('button', { name: 'Edit…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit key' });
    await dialog.waitFor();
    assert.equal(await dialog.getByLabel('Requests').inputValue(), '100');
    assert.equal(await dialog.getByLabel('Per (seconds)').inputValue(), '60');
    assert.equal(await dialog.getByLabel('Calls left').inputValue(), '949');
    assert.equal(await dialog.getByLabel('Refills').inputValue(), 'month');
    assert.equal(await dialog.getByLabel('Refill amount').inputValue(), '1000');
    // Out of range: the server's reason, next to the form, on the field it names.
    await dialog.getByLabel('Requests').fill('0');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.getByText('`rate_limit.limit` must be an integer from 1 to 1000000.').waitFor();
    assert.equal(await dialog.getByLabel('Requests').getAttribute('aria-invalid'), 'true');
    await dialog.getByLabel('Requests').fill('500');
    await dialog.getByLabel('Per (seconds)').fill('3600');
    await page.screenshot({ path: path.join(outDir, 'edit-limits-1280.png') });
    const patch = () =>
      page.waitForResponse((r) => r.url().endsWith(`/api/keys/${limitId}`) && r.request().method() === 'PATCH');
    const [changed] = await Promise.all([patch(), dialog.getByRole('button', { name: 'Save changes' }).click()]);
    assert.equal(changed.status(), 200);
    // Only what changed: an unchanged quota is not sent, so it does not start over.
    assert.deepEqual(changed.request().postDataJSON(), { rate_limit: { limit: 500, window_seconds: 3600 } });
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await rateShown.textContent(), '500 requests per 3600 seconds (1 hour)');
    assert.match(await quotaShown.textContent(), /^949 calls left/);
    assert.equal(await limits.locator('.rate').textContent(), '500 / 3600 s');

    // Remove the rate limit: both fields emptied.
    await details.getByRole('button', { name: 'Edit…' }).click();
    await dialog.waitFor();
    await dialog.getByLabel('Requests').fill('');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.getByText('Rate limit: enter the number of requests too').waitFor();
    await dialog.getByLabel('Per (seconds)').fill('');
    const [removed] = await Promise.all([patch(), dialog.getByRole('button', { name: 'Save changes' }).click()]);
    assert.equal(removed.status(), 200);
    assert.deepEqual(removed.request().postDataJSON(), { rate_limit: null });
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await rateShown.textContent(), 'none');
    assert.equal(await limits.locator('.rate').count(), 0);
    assert.equal(await limits.locator('.quota').textContent(), 'quota 949 left, refills 1,000 monthly');

    // And the quota: no limits left, a dash in the list.
    await details.getByRole('button', { name: 'Edit…' }).click();
    await dialog.waitFor();
    await dialog.getByLabel('Calls left').fill('');
    await dialog.getByLabel('Refills').selectOption('');
    const [cleared] = await Promise.all([patch(), dialog.getByRole('button', { name: 'Save changes' }).click()]);
    assert.equal(cleared.status(), 200);
    assert.deepEqual(cleared.request().postDataJSON(), { quota: null });
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await quotaShown.textContent(), 'none');
    assert.equal(await limits.textContent(), '—');
    assert.equal(await protectedStatus(limitKey), 200, 'the key works without limits');
    // The history names the fields each update changed.
    await details.locator('#key-audit-list li').nth(3).waitFor();
    assert.deepEqual(await details.locator('#key-audit-list .action').allTextContents(), ['update', 'update', 'update', 'issue']);
    assert.deepEqual(
      await details.locator('#key-audit-list .event-head').evaluateAll((heads) => heads.map((h) => h.lastElementChild.textContent)),
      ['quota', 'rate_limit', 'rate_limit', '—'],
    );
    await details.getByRole('button', { name: 'Close' }).click();
    await details.waitFor({ state: 'hidden' });
  });

  it('shows a key\'s named limits beside its rate limit, and an edit of the rate limit keeps them', async () => {
    const name = `named limits ${run}`;
    const issued = await issueViaApi(name, {
      limits: [
        { name: 'per_second', limit: 10, window_seconds: 1 },
        { name: 'default', limit: 100, window_seconds: 60 },
      ],
    });
    await page.reload();
    const row = page.locator(`#keys-body tr[data-id="${issued.id}"]`);
    await row.waitFor();
    await row.getByRole('button', { name: `Details of ${name}` }).click();
    const details = page.getByRole('dialog', { name: 'Key details' });
    await details.waitFor();
    assert.equal(await details.locator('dt:text-is("Rate limit") + dd').textContent(), '100 requests per 60 seconds (1 minute)');
    assert.deepEqual(await details.locator('dt:text-is("Other limits") + dd li').allTextContents(), ['per_second: 10 requests per 1 second']);
    await details.getByRole('button', { name: 'Edit…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit key' });
    await dialog.waitFor();
    await dialog.getByLabel('Requests').fill('50');
    const [saved] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/keys/${issued.id}`) && r.request().method() === 'PATCH'),
      dialog.getByRole('button', { name: 'Save changes' }).click(),
    ]);
    assert.equal(saved.status(), 200);
    assert.deepEqual(saved.request().postDataJSON(), { rate_limit: { limit: 50, window_seconds: 60 } });
    await dialog.waitFor({ state: 'hidden' });
    assert.deepEqual((await viewViaApi(issued.id)).limits, [
      { name: 'per_second', limit: 10, window_seconds: 1 },
      { name: 'default', limit: 50, window_seconds: 60 },
    ]);
    await details.getByRole('button', { name: 'Close' }).click();
    await details.waitFor({ state: 'hidden' });
  });

  it('lets a key rotate itself only when the box is checked, and edits that', async () => {
    const form = page.locator('#issue-form');
    const box = form.getByLabel('May rotate itself');
    const issue = () =>
      Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/keys') && r.request().method() === 'POST'),
        page.getByRole('button', { name: 'Issue key' }).click(),
      ]).then(([response]) => response);
    // Off by default, and the hint says why.
    assert.equal(await box.isChecked(), false);
    assert.match(await page.locator('#issue-self-rotation-hint').textContent(), /Off by default/);
    assert.equal(await box.getAttribute('aria-describedby'), 'issue-self-rotation-hint');

    // Left alone, the box says no.
    await nameField().fill(plainName);
    const plain = await issue();
    assert.equal(plain.status(), 201);
    assert.deepEqual(plain.request().postDataJSON(), { name: plainName, self_rotation: false });
    const plainId = (await plain.json()).id;
    assert.equal((await viewViaApi(plainId)).self_rotation, false);
    await page.getByRole('button', { name: 'Done, hide the key' }).click();

    // Checked, with the keyboard: the key may rotate itself.
    await nameField().fill(selfName);
    await box.focus();
    await page.keyboard.press('Space');
    assert.equal(await box.isChecked(), true);
    const allowed = await issue();
    assert.equal(allowed.status(), 201);
    assert.deepEqual(allowed.request().postDataJSON(), { name: selfName, self_rotation: true });
    const selfId = (await allowed.json()).id;
    assert.equal((await viewViaApi(selfId)).self_rotation, true);
    await page.getByRole('button', { name: 'Done, hide the key' }).click();
    assert.equal(await box.isChecked(), false, 'the form is reset, the box with it');

    // The details say so.
    const details = page.getByRole('dialog', { name: 'Key details' });
    const shown = details.locator('dt:text-is("Self-rotation") + dd');
    await page.locator(`#keys-body tr[data-id="${plainId}"]`).getByRole('button', { name: `Details of ${plainName}` }).click();
    await details.waitFor();
    assert.equal(await shown.textContent(), 'not allowed');
    await details.getByRole('button', { name: 'Close' }).click();
    await details.waitFor({ state: 'hidden' });
    await page.locator(`#keys-body tr[data-id="${selfId}"]`).getByRole('button', { name: `Details of ${selfName}` }).click();
    await details.waitFor();
    assert.equal(await shown.textContent(), 'allowed');

    // The edit dialog starts from the key; unchecking sends only that.
    await details.getByRole('button', { name: 'Edit…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit key' });
    await dialog.waitFor();
    const editBox = dialog.getByLabel('May rotate itself');
    assert.equal(await editBox.isChecked(), true);
    await editBox.focus();
    await page.keyboard.press('Space');
    assert.equal(await editBox.isChecked(), false);
    await page.screenshot({ path: path.join(outDir, 'edit-self-rotation-1280.png') });
    const [patched] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/keys/${selfId}`) && r.request().method() === 'PATCH'),
      dialog.getByRole('button', { name: 'Save changes' }).click(),
    ]);
    assert.equal(patched.status(), 200);
    assert.deepEqual(patched.request().postDataJSON(), { self_rotation: false });
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await shown.textContent(), 'not allowed');
    assert.equal((await viewViaApi(selfId)).self_rotation, false);
    await details.locator('#key-audit-list li').nth(1).waitFor();
    assert.deepEqual(await details.locator('#key-audit-list .action').allTextContents(), ['update', 'issue']);
    assert.deepEqual(await details.locator('#key-audit-list li').first().locator('.chip').allTextContents(), ['self_rotation']);

    // Opened again, the box is off, and leaving it so changes nothing.
    await details.getByRole('button', { name: 'Edit…' }).click();
    await dialog.waitFor();
    assert.equal(await editBox.isChecked(), false);
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.getByText('Nothing has changed.').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await details.getByRole('button', { name: 'Close' }).click();
    await details.waitFor({ state: 'hidden' });
  });

  it('checks metadata before issuing, and shows the server\'s reason for a bad scope', async () => {
    const meta = page.getByLabel('Metadata (optional JSON object)');
    const error = page.locator('#issue-error');
    await nameField().fill(rotateName);
    await page.getByLabel('Owner (optional)').fill('team-rotate');
    await meta.fill('{"plan": pro}');
    await page.getByRole('button', { name: 'Issue key' }).click();
    await error.waitFor();
    assert.match(await error.textContent(), /Metadata is not valid JSON/);
    assert.equal(await meta.getAttribute('aria-invalid'), 'true');
    await meta.fill('["pro"]');
    await page.getByRole('button', { name: 'Issue key' }).click();
    await page.getByText('Metadata must be a JSON object').waitFor();

    // Scopes are checked by the server: its 400 detail is shown as it is.
    await meta.fill(JSON.stringify(rotateMeta));
    await page.getByLabel('Scopes (optional)').fill('orders:read Orders:Write');
    await page.getByRole('button', { name: 'Issue key' }).click();
    await page.waitForFunction(() => /`scopes` entry "Orders:Write"/.test(document.querySelector('#issue-error').textContent));
    assert.equal(await page.locator('#new-key').isVisible(), false);

    await page.getByLabel('Scopes (optional)').fill('orders:read orders:write,billing');
    await page.getByRole('button', { name: 'Issue key' }).click();
    await page.getByRole('region', { name: /New key/ }).waitFor();
    oldKey = await page.getByLabel('The new API key').inputValue();
    await page.getByRole('button', { name: 'Done, hide the key' }).click();
    const row = page.locator('#keys-body tr', { hasText: rotateName });
    await row.waitFor();
    oldId = await row.getAttribute('data-id');
    await row.getByRole('button', { name: `Details of ${rotateName}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Key details' });
    await dialog.waitFor();
    // Metadata is shown as formatted JSON text: the <img> in it stays characters.
    assert.equal(await dialog.locator('pre.meta').textContent(), JSON.stringify(rotateMeta, null, 2));
    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(await dialog.locator('dd .chip').allTextContents(), ['orders:read', 'orders:write', 'billing']);
    assert.equal((await dialog.locator('dt:text-is("Last used") + dd').textContent()).trim(), 'never');
  });

  it('rotates a key with a grace period and shows the new key once', async () => {
    const details = page.getByRole('dialog', { name: 'Key details' });
    await details.getByRole('button', { name: 'Rotate…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate this key?' });
    await dialog.waitFor();
    assert.ok((await dialog.textContent()).includes(rotateName));
    assert.equal(await dialog.getByLabel('1 day').isChecked(), true, 'one day is the default');
    // Cancel changes nothing.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await details.isVisible(), true, 'back to the details');

    await details.getByRole('button', { name: 'Rotate…' }).click();
    await dialog.getByLabel('Custom', { exact: true }).check();
    const seconds = dialog.getByLabel(/Custom grace period/);
    await seconds.fill('700000');
    await dialog.getByRole('button', { name: 'Rotate key' }).click();
    await dialog.locator('#rotate-error').waitFor();
    assert.match(await dialog.locator('#rotate-error').textContent(), /0 to 604800/);
    await dialog.getByLabel('1 hour').check();
    assert.match(await dialog.locator('#rotate-end').textContent(), /keeps working for 1 hour/);
    assert.equal(await seconds.isDisabled(), true);
    await page.screenshot({ path: path.join(outDir, 'rotate-dialog-1280.png') });

    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/keys/${oldId}/rotate`)),
      dialog.getByRole('button', { name: 'Rotate key' }).click(),
    ]);
    assert.equal(response.status(), 201);
    assert.deepEqual(response.request().postDataJSON(), { grace_seconds: 3600 });
    const rotated = await response.json();
    await dialog.waitFor({ state: 'hidden' });
    await details.waitFor({ state: 'hidden' });

    const region = page.getByRole('region', { name: /New key/ });
    await region.waitFor();
    const regionText = await region.textContent();
    assert.match(regionText, /will not be shown again/);
    assert.ok(regionText.includes(`It replaces ${oldId}, which keeps working until`));
    newKey = await page.getByLabel('The new API key').inputValue();
    newId = rotated.id;
    assert.match(newKey, KEY_PATTERN);
    assert.notEqual(newKey, oldKey);
    assert.equal(newKey, rotated.key);
    // The old key ends an hour after the rotation, by the server's clock.
    assert.equal(Date.parse(rotated.old_key.expires_at) - Date.parse(rotated.created_at), 3600_000);
    assert.equal(await protectedStatus(newKey), 200, 'the new key works');
    assert.equal(await protectedStatus(oldKey), 200, 'the old key works during its grace period');

    // The list shows both: the old key with its new end, the new one with the same owner.
    const oldRow = page.locator(`#keys-body tr[data-id="${oldId}"]`);
    assert.equal(await oldRow.locator('td[data-label="Expires"] time').getAttribute('datetime'), rotated.old_key.expires_at);
    assert.equal(await oldRow.locator('.status-cell .hint').textContent(), 'rotated');
    const newRow = page.locator(`#keys-body tr[data-id="${newId}"]`);
    await newRow.waitFor();
    assert.equal(await newRow.locator('.owner').textContent(), 'team-rotate');
    assert.equal(await newRow.locator('td[data-label="Expires"]').textContent(), 'never');

    await page.getByRole('button', { name: 'Done, hide the key' }).click();
    await region.waitFor({ state: 'hidden' });
    assert.ok(!(await page.content()).includes(newKey), 'the new key is gone from the page');
  });

  it('links the old and new keys and shows the rotation in the key\'s history', async () => {
    await page.locator(`#keys-body tr[data-id="${oldId}"]`).getByRole('button', { name: `Details of ${rotateName}` }).click();
    const details = page.getByRole('dialog', { name: 'Key details' });
    await details.waitFor();
    assert.equal(await details.getByRole('button', { name: 'Rotate…' }).isVisible(), false, 'a rotated key cannot be rotated again');
    await details.locator('#key-audit-list li').nth(1).waitFor();
    assert.deepEqual(await details.locator('#key-audit-list .action').allTextContents(), ['rotate', 'issue']);
    const rotateEvent = details.locator('#key-audit-list li').first();
    assert.ok((await rotateEvent.textContent()).includes(newId), 'the rotate event names the new key');
    assert.match(await rotateEvent.textContent(), /bootstrap token/);
    await page.screenshot({ path: path.join(outDir, 'details-rotated-1280.png') });

    // Follow the link to the replacement, and back.
    await details.getByRole('button', { name: `Details of its replacement, ${newId}` }).click();
    await page.waitForFunction((id) => document.querySelector('#details-dialog').dataset.id === id, newId);
    assert.equal(await details.getByRole('button', { name: 'Rotate…' }).isVisible(), true);
    assert.equal(await details.locator('pre.meta').textContent(), JSON.stringify(rotateMeta, null, 2), 'metadata is inherited');
    await details.getByRole('button', { name: `Details of the key it replaces, ${oldId}` }).waitFor();
  });

  it('edits a key: owner, scopes and an earlier end', async () => {
    const details = page.getByRole('dialog', { name: 'Key details' });
    await details.getByRole('button', { name: 'Edit…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit key' });
    await dialog.waitFor();
    assert.equal(await dialog.getByLabel('Owner').inputValue(), 'team-rotate');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.getByText('Nothing has changed.').waitFor();
    await dialog.getByLabel('Owner').fill('team-edited');
    await dialog.getByLabel('Scopes').fill('orders:read');
    await dialog.getByLabel('Metadata (JSON object)').fill('{"plan": ');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.getByText(/Metadata is not valid JSON/).waitFor();
    await dialog.getByLabel('Metadata (JSON object)').fill('{"plan": "enterprise"}');
    await dialog.getByLabel('End earlier (optional)').fill('2099-01-01T12:00');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/keys/${newId}`) && r.request().method() === 'PATCH'),
      dialog.getByRole('button', { name: 'Save changes' }).click(),
    ]);
    assert.equal(response.status(), 200);
    assert.deepEqual(Object.keys(response.request().postDataJSON()).sort(), ['expires_at', 'meta', 'owner', 'scopes']);
    await dialog.waitFor({ state: 'hidden' });
    await details.getByText('team-edited').waitFor();
    assert.deepEqual(await details.locator('dd .chip').allTextContents(), ['orders:read']);
    assert.equal(await details.locator('pre.meta').textContent(), JSON.stringify({ plan: 'enterprise' }, null, 2));
    await details.locator('#key-audit-list li').nth(1).waitFor();
    // The replacement's history: this update, and the rotation that made it.
    assert.deepEqual(await details.locator('#key-audit-list .action').allTextContents(), ['update', 'rotate']);
    assert.deepEqual(
      (await details.locator('#key-audit-list li').first().locator('.chip').allTextContents()).sort(),
      ['expires_at', 'meta', 'owner', 'scopes'],
    );
    assert.equal(await protectedStatus(newKey), 200, 'an earlier end in the future keeps the key working');
    await details.getByRole('button', { name: 'Close' }).click();
    await details.waitFor({ state: 'hidden' });
  });

  it('pages through the keys with Load more', async () => {
    // 25 per page: these push the list past one page. Some carry the largest limits there
    // are, for the layout checks below.
    const largest = {
      rate_limit: { limit: 1_000_000, window_seconds: 86_400 },
      quota: { remaining: 1e12, refill: { every: 'month', amount: 1e12 } },
    };
    for (let i = 0; i < 24; i += 1) {
      await issueViaApi(`bulk ${run} ${String(i).padStart(2, '0')}`, i % 8 === 0 ? largest : {});
    }
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('#keys-body tr').length === 25);
    const loadMore = page.getByRole('button', { name: 'Load more' });
    await loadMore.waitFor();
    await loadMore.click();
    await page.waitForFunction(() => document.querySelectorAll('#keys-body tr').length === 35);
    await loadMore.waitFor({ state: 'hidden' });
    const ids = await page.locator('#keys-body tr').evaluateAll((rows) => rows.map((r) => r.dataset.id));
    assert.equal(new Set(ids).size, ids.length, 'no key twice');
    assert.equal(
      (await page.locator('#keys-body tr th .name').last().textContent()),
      'billing service',
      'the oldest key comes last',
    );
  });

  it('lists every change in the Audit view, newest first, with Load more and an action filter', async () => {
    await page.getByRole('button', { name: 'Audit log' }).click();
    const view = page.locator('#audit-view');
    await view.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#audit-body tr').length === 25);
    // The newest events are the bulk issues, newest first.
    const first = page.locator('#audit-body tr').first();
    assert.equal(await first.locator('.action').textContent(), 'issue');
    assert.equal(await first.locator('td[data-label="Actor"]').textContent(), 'bootstrap token');
    assert.match(await first.locator('td[data-label="User agent"]').textContent(), /Chrome|node/i);
    const times = await page.locator('#audit-body time').evaluateAll((ts) => ts.map((t) => t.dateTime));
    assert.deepEqual([...times].sort().reverse(), times, 'newest first');

    await view.getByRole('button', { name: 'Load more' }).click();
    // 34 keys issued (3 seeded, 6 through the page, 1 with named limits through the API, 24
    // in bulk), one revoke, one rotate and six updates; the replacement key has no issue
    // event of its own.
    await page.waitForFunction(() => document.querySelectorAll('#audit-body tr').length === 42);
    await view.getByRole('button', { name: 'Load more' }).waitFor({ state: 'hidden' });
    const ids = await page.locator('#audit-body tr').evaluateAll((rows) => rows.map((r) => r.dataset.event));
    assert.equal(new Set(ids).size, ids.length, 'no event twice');

    // The action filter applies to the events DynamoDB read for one page (the newest 26):
    // the rotation must be among them, or the first page comes back empty with a cursor. So
    // only the bulk issues and the edit above may come after it.
    await view.getByLabel('Action').selectOption('rotate');
    await view.getByRole('button', { name: 'Show' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#audit-body tr').length === 1);
    const rotation = page.locator('#audit-body tr').first();
    assert.equal(await rotation.locator('td[data-label="Key"]').textContent(), oldId);
    assert.match(await rotation.locator('td[data-label="Changes"]').textContent(), new RegExp(`new key ${newId}`));
    await page.screenshot({ path: path.join(outDir, 'audit-rotate-1280.png') });

    // By key id: the replacement's own events (its rotation is under the old key's id,
    // found by the new one's too).
    await view.getByLabel('Action').selectOption('');
    await view.getByLabel('Key id').fill(newId);
    await view.getByRole('button', { name: 'Show' }).click();
    await page.waitForFunction(
      () => [...document.querySelectorAll('#audit-body .action')].map((b) => b.textContent).join() === 'update,rotate',
    );
    // A bad key id gets the server's reason.
    await view.getByLabel('Key id').fill('key_nope');
    await view.getByRole('button', { name: 'Show' }).click();
    await page.getByText('`key_id` must be key_').waitFor();

    await view.getByRole('button', { name: 'Clear' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#audit-body tr').length === 25);
    // A key id opens that key's details.
    await page.locator('#audit-body tr').first().locator('td[data-label="Key"] button').click();
    const details = page.getByRole('dialog', { name: 'Key details' });
    await details.waitFor();
    await details.getByRole('button', { name: 'Close' }).click();
    await page.evaluate(() => window.scrollTo(0, 0));
    const auditOverflow = await page.evaluate(() => {
      const wrap = document.querySelector('#audit-table').parentElement;
      return wrap.scrollWidth - wrap.clientWidth;
    });
    assert.ok(auditOverflow <= 0, `the audit table is ${auditOverflow}px wider than its card at 1280px`);
    await page.screenshot({ path: path.join(outDir, 'audit-1280.png'), fullPage: true });
  });

  it('is usable with the keyboard, with visible focus', async () => {
    await page.getByRole('button', { name: 'Keys', exact: true }).click();
    await nameField().focus();
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
      [...document.querySelectorAll('input, select, textarea')]
        .filter((el) => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
        .map((el) => el.id || el.name),
    );
    assert.deepEqual(unlabelled, []);
  });

  it('looks right at 1280 and 390 pixels wide', async () => {
    // At 1280 the key table fits its card: no column, the actions least of all, hides
    // behind a scroll bar.
    const tableOverflow = await page.evaluate(() => {
      const wrap = document.querySelector('#keys-table').parentElement;
      return wrap.scrollWidth - wrap.clientWidth;
    });
    assert.ok(tableOverflow <= 0, `the key table is ${tableOverflow}px wider than its card at 1280px`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(outDir, 'admin-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(100);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 390px`);
    await page.screenshot({ path: path.join(outDir, 'admin-390.png'), fullPage: false });
    await page.locator('#keys-body tr').nth(23).scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(outDir, 'admin-390-list.png'), fullPage: false });

    await page.getByRole('button', { name: 'Audit log' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#audit-body tr').length === 25);
    const auditOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(auditOverflow <= 0, `the audit view scrolls sideways by ${auditOverflow}px at 390px`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(outDir, 'audit-390.png'), fullPage: false });

    await page.getByRole('button', { name: 'Keys', exact: true }).click();
    await page.locator(`#keys-body tr[data-id="${newId}"]`).getByRole('button', { name: `Details of ${rotateName}` }).click();
    const details = page.getByRole('dialog', { name: 'Key details' });
    await details.getByRole('button', { name: 'Rotate…' }).click();
    const rotate = page.getByRole('dialog', { name: 'Rotate this key?' });
    await rotate.waitFor();
    const dialogOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(dialogOverflow <= 0, `the rotate dialog scrolls sideways by ${dialogOverflow}px at 390px`);
    await page.screenshot({ path: path.join(outDir, 'rotate-dialog-390.png') });
    await rotate.getByRole('button', { name: 'Cancel' }).click();
    await page.screenshot({ path: path.join(outDir, 'details-390.png') });
    await details.getByRole('button', { name: 'Close' }).click();
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('signs out and forgets the token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin credential', { exact: true }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.locator('#keys-body tr').count(), 0);
    assert.equal(await page.locator('#whoami').isVisible(), false);
    await page.reload();
    await page.getByLabel('Admin credential', { exact: true }).waitFor();
    await page.screenshot({ path: path.join(outDir, 'sign-in-1280.png') });
  });

  // A helper for the role tests below: signs in with a credential from the sign-in form.
  async function signInWith(token) {
    await page.getByLabel('Admin credential', { exact: true }).fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#whoami .role').waitFor();
  }

  async function signOut() {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin credential', { exact: true }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.locator('#whoami').isVisible(), false);
  }

  it('signs in with a read credential: keys and audit log, nothing it may not do, and a forced change refused with 403', async () => {
    const reader = await createAdminViaApi(readerName, 'read');
    await signInWith(reader.key);
    await page.locator('#keys-body tr').first().waitFor();
    // Who is signed in, and the role.
    assert.equal(await page.locator('#whoami .whoami-name').textContent(), readerName);
    assert.equal(await page.locator('#whoami .whoami-id').textContent(), reader.id);
    assert.equal(await page.locator('#whoami .role').textContent(), 'read');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('keygate.adminToken')), reader.key);
    // No issue form, no revoke button, no Admins tab: the keys are listed, with their details.
    assert.equal(await page.getByRole('heading', { name: 'Issue a key' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Issue key' }).count(), 0);
    assert.equal(await page.locator('#keys-body').getByRole('button', { name: /^Revoke / }).count(), 0);
    assert.equal(await page.locator('#keys-body tr').count(), 25);
    assert.equal(await page.getByRole('button', { name: 'Admins' }).count(), 0);
    await page.screenshot({ path: path.join(outDir, 'read-role-1280.png') });
    // Nor in the details: no edit, rotate or revoke.
    await page.locator(`#keys-body tr[data-id="${newId}"]`).getByRole('button', { name: `Details of ${rotateName}` }).click();
    const details = page.getByRole('dialog', { name: 'Key details' });
    await details.waitFor();
    await details.locator('#key-audit-list li').first().waitFor();
    for (const action of ['Edit…', 'Rotate…', 'Revoke…']) {
      assert.equal(await details.getByRole('button', { name: action }).count(), 0, action);
    }
    await details.getByRole('button', { name: 'Close' }).click();
    await details.waitFor({ state: 'hidden' });

    // Identities: listed (none yet), but no form to create one.
    await page.getByRole('button', { name: 'Identities' }).click();
    await page.getByRole('heading', { name: 'Identities', exact: true }).waitFor();
    await page.locator('#identities-empty').getByText('No identities yet.').waitFor();
    assert.equal(await page.locator('#identities-empty').getByText('None has been created yet.').count(), 1);
    assert.equal(await page.getByRole('heading', { name: 'New identity' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Create identity' }).count(), 0);

    // The audit log: the newest event is this credential's creation, by the bootstrap token.
    await page.getByRole('button', { name: 'Audit log' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#audit-body tr').length === 25);
    const first = page.locator('#audit-body tr').first();
    assert.equal(await first.locator('.action').textContent(), 'admin_create');
    assert.equal(await first.locator('td[data-label="Key"]').textContent(), reader.id);
    assert.equal(await first.locator('td[data-label="Actor"]').textContent(), 'bootstrap token');
    await page.getByRole('button', { name: 'Keys', exact: true }).click();

    // The API refuses what the page does not offer: a change forced from the page itself.
    const forced = await page.evaluate(async () => {
      const response = await fetch('api/keys', {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${sessionStorage.getItem('keygate.adminToken')}`,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ name: 'issued by a reader' }),
      });
      return { status: response.status, body: await response.json() };
    });
    assert.deepEqual(forced, { status: 403, body: { detail: 'This admin credential lacks the role: operate.' } });
    await signOut();
  });

  it('signs in with a verify credential and says that its role has no access to the page\'s data', async () => {
    const verifier = await createAdminViaApi(verifierName, 'verify');
    await signInWith(verifier.key);
    await page.getByRole('heading', { name: 'Nothing to show for this role' }).waitFor();
    assert.equal(await page.locator('#whoami .whoami-name').textContent(), verifierName);
    assert.equal(await page.locator('#whoami .role').textContent(), 'verify');
    assert.match(await page.locator('#no-access').textContent(), /role verify, which may call the verify API only/);
    for (const tab of ['Keys', 'Identities', 'Audit log', 'Admins']) {
      assert.equal(await page.getByRole('button', { name: tab, exact: true }).count(), 0, tab);
    }
    assert.equal(await page.locator('#keys-body tr').count(), 0);
    await page.screenshot({ path: path.join(outDir, 'verify-role-1280.png') });
    await signOut();
  });

  it('signs in with an admin credential and creates, lists, rotates and revokes admin credentials', async () => {
    const boss = await createAdminViaApi(bossName, 'admin');
    await signInWith(boss.key);
    assert.equal(await page.locator('#whoami .whoami-name').textContent(), bossName);
    assert.equal(await page.locator('#whoami .whoami-id').textContent(), boss.id);
    assert.equal(await page.locator('#whoami .role').textContent(), 'admin');
    await page.getByRole('button', { name: 'Issue key' }).waitFor();
    await page.getByRole('button', { name: 'Admins' }).click();
    await page.getByRole('heading', { name: 'Create an admin credential' }).waitFor();

    // The list: every credential, newest first, this one marked as you, made by the bootstrap token.
    const rows = page.locator('#admins-body tr');
    const row = (id) => page.locator(`#admins-body tr[data-id="${id}"]`);
    await row(boss.id).waitFor();
    const names = await page.locator('#admins-body tr th .name').allTextContents();
    assert.deepEqual(names.slice(0, 3), [bossName, verifierName, readerName]);
    assert.equal(await row(boss.id).locator('.you').textContent(), 'you');
    assert.equal(await row(boss.id).locator('td[data-label="Created by"]').textContent(), 'bootstrap token');
    assert.equal(await row(boss.id).locator('td[data-label="Role"]').textContent(), 'admin');
    assert.ok(!(await page.content()).includes(boss.key), 'never a secret in the list');

    // Name and role are needed.
    const form = page.locator('#admin-create-form');
    const formError = page.locator('#admin-create-error');
    await form.getByRole('button', { name: 'Create credential' }).click();
    await page.waitForFunction(() => /^Name the person or automation/.test(document.querySelector('#admin-create-error').textContent));
    await form.getByLabel('Person or automation').fill(opsName);
    await form.getByRole('button', { name: 'Create credential' }).click();
    await page.waitForFunction(() => /^Choose a role/.test(document.querySelector('#admin-create-error').textContent));
    assert.equal(await form.getByLabel('Role').getAttribute('aria-invalid'), 'true');
    await form.getByLabel('Role').selectOption('operate');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/admins') && r.request().method() === 'POST'),
      form.getByRole('button', { name: 'Create credential' }).click(),
    ]);
    assert.equal(response.status(), 201);
    assert.deepEqual(response.request().postDataJSON(), { name: opsName, role: 'operate' });
    const created = await response.json();
    assert.equal(await formError.isVisible(), false);

    // The secret, once, with a copy button.
    const region = page.getByRole('region', { name: /New admin credential/ });
    await region.waitFor();
    assert.match(await region.textContent(), /will not be shown again/);
    const secret = await page.getByLabel('The new admin credential').inputValue();
    assert.match(secret, ADMIN_PATTERN);
    assert.equal(secret, created.key);
    await region.getByRole('button', { name: 'Copy' }).click();
    await region.getByText(/Copied|Selected/).waitFor();
    const clipboard = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
    if (clipboard !== null) assert.equal(clipboard, secret);
    assert.deepEqual(await whoIs(secret), {
      status: 200,
      body: { actor: { type: 'admin', id: created.id, name: opsName }, role: 'operate' },
    });

    // Listed first, by whom, never with its secret.
    await row(created.id).waitFor();
    assert.equal(await rows.first().getAttribute('data-id'), created.id);
    assert.equal(await row(created.id).locator('td[data-label="Role"]').textContent(), 'operate');
    assert.equal(await row(created.id).locator('.badge-active').textContent(), 'active');
    assert.equal(await row(created.id).locator('td[data-label="Created by"]').textContent(), `${bossName} (${boss.id})`);
    const prefix = await row(created.id).locator('.prefix').textContent();
    assert.ok(prefix.startsWith('kga_') && secret.startsWith(prefix), `the display prefix ${prefix}`);
    await page.screenshot({ path: path.join(outDir, 'admins-created-1280.png') });
    await region.getByRole('button', { name: 'Done, hide the credential' }).click();
    await region.waitFor({ state: 'hidden' });
    assert.ok(!(await page.content()).includes(secret), 'the secret is gone from the page');

    // Rotate: a confirmation, then the new secret once; the old one stops at once.
    await row(created.id).getByRole('button', { name: `Rotate ${opsName}` }).click();
    const rotateDialog = page.getByRole('dialog', { name: 'Rotate this admin credential?' });
    await rotateDialog.waitFor();
    assert.ok((await rotateDialog.textContent()).includes(created.id));
    await rotateDialog.getByRole('button', { name: 'Cancel' }).click();
    await rotateDialog.waitFor({ state: 'hidden' });
    assert.equal((await whoIs(secret)).status, 200, 'cancel changes nothing');
    await row(created.id).getByRole('button', { name: `Rotate ${opsName}` }).click();
    const [rotation] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/admins/${created.id}/rotate`)),
      rotateDialog.getByRole('button', { name: 'Rotate credential' }).click(),
    ]);
    assert.equal(rotation.status(), 201);
    const rotated = await rotation.json();
    assert.equal(rotated.rotated_from, created.id);
    await region.waitFor();
    const newSecret = await page.getByLabel('The new admin credential').inputValue();
    assert.match(newSecret, ADMIN_PATTERN);
    assert.equal(newSecret, rotated.key);
    assert.notEqual(newSecret, secret);
    assert.ok((await region.textContent()).includes(`It replaces ${created.id}`));
    assert.equal((await whoIs(secret)).status, 401, 'the old secret stops at once');
    assert.equal((await whoIs(newSecret)).status, 200, 'the new secret works');
    await page.waitForFunction(
      ([oldId, freshId]) =>
        document.querySelector(`#admins-body tr[data-id="${oldId}"] .status-cell .badge`)?.textContent === 'revoked' &&
        document.querySelector(`#admins-body tr[data-id="${freshId}"] .status-cell .badge`)?.textContent === 'active',
      [created.id, rotated.id],
    );
    assert.equal(await row(created.id).getByRole('button').count(), 0, 'nothing left to do with the old one');
    assert.equal(await row(rotated.id).locator('td[data-label="Role"]').textContent(), 'operate');
    assert.ok((await row(rotated.id).locator('th').textContent()).includes(`replaces ${created.id}`));
    await region.getByRole('button', { name: 'Done, hide the credential' }).click();
    await region.waitFor({ state: 'hidden' });

    // Revoke: a confirmation; Cancel changes nothing.
    await row(rotated.id).getByRole('button', { name: `Revoke ${opsName}` }).click();
    const revokeDialog = page.getByRole('dialog', { name: 'Revoke this admin credential?' });
    await revokeDialog.waitFor();
    assert.ok((await revokeDialog.textContent()).includes(rotated.id));
    assert.equal(await revokeDialog.locator('#admin-revoke-self').isVisible(), false);
    await revokeDialog.getByRole('button', { name: 'Cancel' }).click();
    await revokeDialog.waitFor({ state: 'hidden' });
    assert.equal((await whoIs(newSecret)).status, 200);
    await row(rotated.id).getByRole('button', { name: `Revoke ${opsName}` }).click();
    const [revocation] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/admins/${rotated.id}/revoke`)),
      revokeDialog.getByRole('button', { name: 'Revoke credential' }).click(),
    ]);
    assert.equal(revocation.status(), 200);
    await revokeDialog.waitFor({ state: 'hidden' });
    await page.waitForFunction(
      (id) => document.querySelector(`#admins-body tr[data-id="${id}"] .status-cell .badge`)?.textContent === 'revoked',
      rotated.id,
    );
    assert.equal(await row(rotated.id).getByRole('button').count(), 0);
    assert.equal((await whoIs(newSecret)).status, 401, 'the revoked secret is refused at once');
    // Revoking one's own credential says what it does.
    await row(boss.id).getByRole('button', { name: `Revoke ${bossName}` }).click();
    assert.equal(await revokeDialog.locator('#admin-revoke-self').isVisible(), true);
    await revokeDialog.getByRole('button', { name: 'Cancel' }).click();
    await revokeDialog.waitFor({ state: 'hidden' });

    // The audit log names who did each: this credential, by name and id, found by its id.
    await page.getByRole('button', { name: 'Audit log' }).click();
    await page.getByLabel('Actor id').fill(boss.id);
    const [filtered] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/api/audit?') && r.url().includes(`actor_id=${boss.id}`)),
      page.locator('#audit-view').getByRole('button', { name: 'Show' }).click(),
    ]);
    assert.equal(filtered.status(), 200);
    await page.waitForFunction(
      () => [...document.querySelectorAll('#audit-body .action')].map((b) => b.textContent).join() === 'admin_revoke,admin_rotate,admin_create',
    );
    const actors = await page.locator('#audit-body td[data-label="Actor"]').allTextContents();
    assert.deepEqual(actors, Array(3).fill(`${bossName} (${boss.id})`));
    assert.deepEqual(await page.locator('#audit-body td[data-label="Key"]').allTextContents(), [rotated.id, created.id, created.id]);
    assert.match(await page.locator('#audit-body tr').nth(1).locator('td[data-label="Changes"]').textContent(), new RegExp(`new credential ${rotated.id}`));
    await page.screenshot({ path: path.join(outDir, 'audit-admins-1280.png') });

    // The Admins view on a phone: cards, no sideways scroll.
    await page.getByRole('button', { name: 'Admins' }).click();
    await row(rotated.id).waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(100);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the Admins view scrolls sideways by ${overflow}px at 390px`);
    await page.screenshot({ path: path.join(outDir, 'admins-390.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    await signOut();
  });

  it('identities: create one, issue a key into it, suspend and resume it, and see its live quota', async () => {
    await signInWith(adminToken);
    await page.getByRole('button', { name: 'Identities' }).click();
    const view = page.locator('#identities-view');
    await view.getByRole('heading', { name: 'New identity' }).waitFor();
    const form = page.locator('#identity-form');
    const formError = page.locator('#identity-create-error');
    const external = form.getByLabel('External id');
    const create = () =>
      Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/identities') && r.request().method() === 'POST'),
        form.getByRole('button', { name: 'Create identity' }).click(),
      ]).then(([response]) => response);

    // A blank external id goes to the API, whose reason is shown as it is, on the field.
    await external.fill('   ');
    const blank = await create();
    assert.equal(blank.status(), 400);
    await page.waitForFunction(
      () => document.querySelector('#identity-create-error').textContent === '`external_id` must not be blank.',
    );
    assert.equal(await external.getAttribute('aria-invalid'), 'true');

    // A limit row needs all three fields; a row added and removed sends nothing.
    await external.fill(externalId);
    await form.getByRole('button', { name: 'Add a limit' }).click();
    const limitRow = form.locator('.limit-row').first();
    await limitRow.getByLabel('Limit name').fill('per_second');
    await form.getByRole('button', { name: 'Create identity' }).click();
    await page.waitForFunction(() =>
      /^Limit 1: enter the number of requests too/.test(document.querySelector('#identity-create-error').textContent),
    );
    assert.equal(await limitRow.getByLabel('Requests').getAttribute('aria-invalid'), 'true');
    await limitRow.getByLabel('Requests').fill('50');
    await limitRow.getByLabel('Per (seconds)').fill('1');
    await form.getByRole('button', { name: 'Add a limit' }).click();
    assert.equal(await form.locator('.limit-row').count(), 2);
    await form.getByRole('button', { name: 'Remove limit 2' }).click();
    assert.equal(await form.locator('.limit-row').count(), 1);
    // A quota shared by all its keys, refilled monthly.
    await form.getByLabel('Calls left').fill('100');
    await form.getByLabel('Refills').selectOption('month');
    await form.getByLabel('Refill amount').fill('1000');
    await page.screenshot({ path: path.join(outDir, 'identity-form-1280.png') });
    const made = await create();
    assert.equal(made.status(), 201);
    assert.deepEqual(made.request().postDataJSON(), {
      external_id: externalId,
      limits: [{ name: 'per_second', limit: 50, window_seconds: 1 }],
      quota: { remaining: 100, refill: { every: 'month', amount: 1000 } },
    });
    const identity = await made.json();
    identityId = identity.id;
    assert.match(identity.id, IDENTITY_ID_PATTERN);
    assert.equal(identity.status, 'active');
    await page.getByText(`Created the identity ${externalId} (${identity.id}).`).waitFor();
    assert.equal(await formError.isVisible(), false);
    assert.equal(await form.locator('.limit-row').count(), 0, 'the form is empty again');
    assert.equal(await external.inputValue(), '');

    // The same external id again: the API's 409, on the field.
    await external.fill(externalId);
    const taken = await create();
    assert.equal(taken.status(), 409);
    await page.waitForFunction(() =>
      document.querySelector('#identity-create-error').textContent.includes('already has this `external_id`'),
    );
    assert.equal(await external.getAttribute('aria-invalid'), 'true');
    await external.fill('');

    // Listed: external id, status, limits, quota.
    const row = page.locator(`#identities-body tr[data-id="${identity.id}"]`);
    await row.waitFor();
    assert.equal(await row.locator('th').textContent(), externalId);
    assert.equal(await row.locator('td[data-label="ID"]').textContent(), identity.id);
    assert.equal(await row.locator('.badge').textContent(), 'active');
    assert.equal(await row.locator('td[data-label="Limits"]').textContent(), 'per_second: 50 / 1 s');
    assert.equal(await row.locator('td[data-label="Quota"]').textContent(), '100 left, refills 1,000 monthly');
    // Found by part of its external id, whatever the case.
    const find = page.getByLabel('Find by external id');
    await find.fill(externalId.slice(0, -2).toUpperCase());
    await view.getByRole('button', { name: 'Find', exact: true }).click();
    await page.waitForFunction(
      (id) => document.querySelectorAll('#identities-body tr').length === 1 && document.querySelector(`#identities-body tr[data-id="${id}"]`),
      identity.id,
    );
    await find.fill('nobody is called this');
    await view.getByRole('button', { name: 'Find', exact: true }).click();
    await view.getByText('No identities match.').waitFor();
    await view.getByRole('button', { name: 'Clear' }).click();
    await row.waitFor();
    const tableOverflow = await page.evaluate(() => {
      const wrap = document.querySelector('#identities-table').parentElement;
      return wrap.scrollWidth - wrap.clientWidth;
    });
    assert.ok(tableOverflow <= 0, `the identities table is ${tableOverflow}px wider than its card at 1280px`);
    await page.screenshot({ path: path.join(outDir, 'identities-1280.png'), fullPage: true });
    // On a phone: the rows become cards, and nothing scrolls sideways.
    const sideways = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(100);
    let overflow = await sideways();
    assert.ok(overflow <= 0, `the Identities view scrolls sideways by ${overflow}px at 390px`);
    await row.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(outDir, 'identities-390.png') });
    await page.setViewportSize({ width: 1280, height: 900 });

    // Issue a key into it: the issue form offers it by its external id.
    await page.getByRole('button', { name: 'Keys', exact: true }).click();
    const choice = page.getByLabel('Identity (optional)');
    const option = page.locator(`#issue-identity option[value="${identity.id}"]`);
    await option.waitFor({ state: 'attached' });
    assert.equal(await option.textContent(), externalId);
    await nameField().fill(identityKeyName);
    await choice.selectOption(identity.id);
    await page.locator('#issue-card').screenshot({ path: path.join(outDir, 'issue-identity-1280.png') });
    const [issuing] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/keys') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Issue key' }).click(),
    ]);
    assert.equal(issuing.status(), 201);
    assert.deepEqual(issuing.request().postDataJSON(), { name: identityKeyName, identity_id: identity.id, self_rotation: false });
    const issued = await issuing.json();
    assert.equal(issued.identity_id, identity.id);
    await page.getByRole('region', { name: /New key/ }).waitFor();
    const identityKey = await page.getByLabel('The new API key').inputValue();
    assert.match(identityKey, KEY_PATTERN);
    await page.getByRole('button', { name: 'Done, hide the key' }).click();
    assert.equal(await choice.inputValue(), '', 'the form is reset, its identity with it');

    // A request with the key spends one call of the identity's quota.
    assert.equal(await protectedStatus(identityKey), 200, 'a key of an active identity works');

    // The key's details name its identity, whose id opens the identity's details in their place.
    const keyRow = page.locator(`#keys-body tr[data-id="${issued.id}"]`);
    await keyRow.getByRole('button', { name: `Details of ${identityKeyName}` }).click();
    const details = page.getByRole('dialog', { name: 'Key details' });
    await details.waitFor();
    assert.equal(await details.locator('dt:text-is("Identity") + dd').textContent(), `${externalId} ${identity.id}`);
    await details.getByRole('button', { name: `Details of the identity ${identity.id}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Identity details' });
    await dialog.waitFor();
    await details.waitFor({ state: 'hidden' });
    const field = (name) => dialog.locator(`dt:text-is("${name}") + dd`);
    assert.equal(await field('External id').textContent(), externalId);
    assert.equal(await field('Status').textContent(), 'active');
    // The live count, across all its keys.
    assert.equal(await field('Quota').textContent(), '99 calls left, refills to 1,000 on the 1st of each month, 00:00 UTC');
    assert.deepEqual(await field('Limits').locator('li').allTextContents(), ['per_second: 50 requests per 1 second']);
    // Its keys: this one, by name, id and prefix, with its status.
    assert.equal(await dialog.locator('#identity-keys li').count(), 1);
    const keyItem = dialog.locator(`#identity-keys li[data-id="${issued.id}"]`);
    assert.equal(await keyItem.getByRole('button', { name: `Details of the key ${identityKeyName}` }).textContent(), identityKeyName);
    assert.equal(await keyItem.locator('.prefix').textContent(), issued.prefix);
    assert.equal(await keyItem.locator('.badge').textContent(), 'active');
    // The row in the list, read before the request, now shows the live count too.
    assert.equal(await row.locator('td[data-label="Quota"]').textContent(), '99 left, refills 1,000 monthly');

    // Suspend: a confirmation; Cancel changes nothing.
    await dialog.getByRole('button', { name: 'Suspend…' }).click();
    const suspend = page.getByRole('dialog', { name: 'Suspend this identity?' });
    await suspend.waitFor();
    assert.ok((await suspend.textContent()).includes(`${externalId} (${identity.id})`));
    await suspend.getByRole('button', { name: 'Cancel' }).click();
    await suspend.waitFor({ state: 'hidden' });
    assert.equal(await field('Status').textContent(), 'active');
    await dialog.getByRole('button', { name: 'Suspend…' }).click();
    const [suspended] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/identities/${identity.id}/suspend`)),
      suspend.getByRole('button', { name: 'Suspend identity' }).click(),
    ]);
    assert.equal(suspended.status(), 200);
    await suspend.waitFor({ state: 'hidden' });
    assert.equal(await field('Status').textContent(), 'suspended');
    assert.equal(await dialog.getByRole('button', { name: 'Suspend…' }).count(), 0);
    await dialog.getByRole('button', { name: 'Resume…' }).waitFor();
    assert.equal(await row.locator('.badge').textContent(), 'suspended');
    assert.equal(await option.textContent(), `${externalId} (suspended)`, 'the issue form says so');
    assert.equal(await protectedStatus(identityKey), 403, 'every key of a suspended identity is refused');
    await page.screenshot({ path: path.join(outDir, 'identity-suspended-1280.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(100);
    overflow = await sideways();
    assert.ok(overflow <= 0, `the identity's details scroll sideways by ${overflow}px at 390px`);
    await page.screenshot({ path: path.join(outDir, 'identity-390.png') });
    await page.setViewportSize({ width: 1280, height: 900 });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'hidden' });

    // The audit log lists the suspension under the identity's id, which opens it.
    await page.getByRole('button', { name: 'Audit log' }).click();
    const audit = page.locator('#audit-view');
    await audit.getByLabel('Action').selectOption('identity_suspend');
    await audit.getByRole('button', { name: 'Show' }).click();
    await page.waitForFunction(
      () => [...document.querySelectorAll('#audit-body .action')].map((b) => b.textContent).join() === 'identity_suspend',
    );
    const event = page.locator('#audit-body tr').first();
    assert.equal(await event.locator('td[data-label="Key"]').textContent(), identity.id);
    assert.equal(await event.locator('td[data-label="Actor"]').textContent(), 'bootstrap token');
    await audit.getByLabel('Action').selectOption('');
    await audit.getByLabel('Key id').fill(identity.id);
    await audit.getByRole('button', { name: 'Show' }).click();
    await page.waitForFunction(
      () => [...document.querySelectorAll('#audit-body .action')].map((b) => b.textContent).join() === 'identity_suspend,identity_create',
    );
    await event.getByRole('button', { name: `Details of the identity ${identity.id}` }).click();
    await dialog.waitFor();
    assert.equal(await field('Status').textContent(), 'suspended');

    // Resume: the key works again.
    await dialog.getByRole('button', { name: 'Resume…' }).click();
    const resume = page.getByRole('dialog', { name: 'Resume this identity?' });
    await resume.waitFor();
    const [resumed] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/identities/${identity.id}/resume`)),
      resume.getByRole('button', { name: 'Resume identity' }).click(),
    ]);
    assert.equal(resumed.status(), 200);
    await resume.waitFor({ state: 'hidden' });
    assert.equal(await field('Status').textContent(), 'active');
    await dialog.getByRole('button', { name: 'Suspend…' }).waitFor();
    assert.equal(await protectedStatus(identityKey), 200, 'the key works again once the identity is resumed');
    // The refused request spent nothing; this one spent a second call.
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await event.getByRole('button', { name: `Details of the identity ${identity.id}` }).click();
    await dialog.waitFor();
    assert.equal(await field('Quota').textContent(), '98 calls left, refills to 1,000 on the 1st of each month, 00:00 UTC');

    // Delete: refused while it has an active key, with the API's reason.
    await dialog.getByRole('button', { name: 'Delete…' }).click();
    const remove = page.getByRole('dialog', { name: 'Delete this identity?' });
    await remove.waitFor();
    const [inUse] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/identities/${identity.id}`) && r.request().method() === 'DELETE'),
      remove.getByRole('button', { name: 'Delete identity' }).click(),
    ]);
    assert.equal(inUse.status(), 409);
    await remove.getByText('This identity still has active keys: revoke them, or move them to another identity, before deleting it.').waitFor();
    await remove.getByRole('button', { name: 'Cancel' }).click();
    await remove.waitFor({ state: 'hidden' });

    // Revoke the key, from its details opened from the identity's; then the delete goes through.
    await dialog.getByRole('button', { name: `Details of the key ${identityKeyName}` }).click();
    await details.waitFor();
    await dialog.waitFor({ state: 'hidden' });
    await details.getByRole('button', { name: 'Revoke…' }).click();
    const revoke = page.getByRole('dialog', { name: 'Revoke this key?' });
    await revoke.getByRole('button', { name: 'Revoke key' }).click();
    await revoke.waitFor({ state: 'hidden' });
    assert.equal(await details.locator('dt:text-is("Status") + dd').textContent(), 'revoked');
    await details.getByRole('button', { name: `Details of the identity ${identity.id}` }).click();
    await dialog.waitFor();
    assert.equal(await dialog.locator(`#identity-keys li[data-id="${issued.id}"] .badge`).textContent(), 'revoked');
    await dialog.getByRole('button', { name: 'Delete…' }).click();
    const [deleted] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/identities/${identity.id}`) && r.request().method() === 'DELETE'),
      remove.getByRole('button', { name: 'Delete identity' }).click(),
    ]);
    assert.equal(deleted.status(), 200);
    await dialog.waitFor({ state: 'hidden' });
    await page.waitForFunction(
      (id) => document.querySelector('#audit-status').textContent.startsWith(`Identity deleted. (`) && document.querySelector('#audit-status').textContent.includes(id),
      identity.id,
    );
    // Gone from the list and from the issue form's choices.
    await page.getByRole('button', { name: 'Identities' }).click();
    await page.locator('#identities-empty').getByText('No identities yet.').waitFor();
    assert.equal(await page.locator(`#issue-identity option[value="${identity.id}"]`).count(), 0);
    await signOut();
  });

  it('charts a key\'s and an identity\'s verifications by outcome as the usage API counts them, and the deployment\'s', async () => {
    // Known traffic: a key of a new identity, used 3 times, and refused once for a scope it lacks.
    const identity = await createIdentityViaApi(usageExternalId);
    const issued = await issueViaApi(usageKeyName, { scopes: ['orders:read'], identity_id: identity.id });
    for (let i = 0; i < 3; i += 1) assert.equal(await protectedStatus(issued.key, 'orders:read'), 200);
    assert.equal(await protectedStatus(issued.key, 'orders:write'), 403, 'refused: a scope the key lacks');
    const expected = { valid: 3, rate_limited: 0, quota_exhausted: 0, missing_scope: 1, revoked: 0, expired: 0 };
    assert.deepEqual((await usageViaApi({ key_id: issued.id })).totals, expected, 'the API counts them at once');
    assert.deepEqual((await usageViaApi({ identity_id: identity.id })).totals, expected);

    await signInWith(adminToken);
    const row = page.locator(`#keys-body tr[data-id="${issued.id}"]`);
    await row.getByRole('button', { name: `Details of ${usageKeyName}` }).click();
    const details = page.getByRole('dialog', { name: 'Key details' });
    await details.waitFor();
    const keyPanel = details.locator('#key-usage');
    assert.equal(await keyPanel.getByRole('button', { name: 'Last 24 hours' }).getAttribute('aria-pressed'), 'true');
    const hourly = await assertChartMatchesApi(keyPanel, { key_id: issued.id }, 'hour');
    assert.deepEqual(hourly.totals, expected);
    assert.equal(await keyPanel.locator('tr[data-outcome="valid"] td').textContent(), '3');
    assert.equal(await keyPanel.locator('tr[data-outcome="missing_scope"] td').textContent(), '1');
    // Drawn: bars of both outcomes' colours.
    assert.ok(await chartHasColour(keyPanel, 'valid'), 'a bar of valid verifications is drawn');
    assert.ok(await chartHasColour(keyPanel, 'missing_scope'), 'a band of refusals for a missing scope is drawn');
    // Pointing at the hour of the requests says what it counted (3 valid, 1 missing scope,
    // unless the hour turned between them).
    const busy = hourly.buckets.findIndex((b) => b.valid > 0);
    const said = OUTCOMES.filter((name) => hourly.buckets[busy][name] > 0)
      .map((name) => `${hourly.buckets[busy][name]} ${name.replace('_', ' ')}`)
      .join(', ');
    const over = keyPanel.locator('.u-over');
    await over.scrollIntoViewIfNeeded();
    const plot = await over.boundingBox();
    await page.mouse.move(plot.x + ((busy + 0.5) / hourly.buckets.length) * plot.width, plot.y + plot.height - 5);
    await page.waitForFunction(
      (text) => document.querySelector('#key-usage .usage-point').textContent.endsWith(` UTC: ${text}.`),
      said,
    );
    await page.screenshot({ path: path.join(outDir, 'usage-key-1280.png') });

    // The last 30 days, by day.
    await keyPanel.getByRole('button', { name: 'Last 30 days' }).click();
    const daily = await assertChartMatchesApi(keyPanel, { key_id: issued.id }, 'day');
    assert.deepEqual(daily.totals, expected);
    assert.equal(await keyPanel.getByRole('button', { name: 'Last 30 days' }).getAttribute('aria-pressed'), 'true');
    assert.equal(await keyPanel.getByRole('button', { name: 'Last 24 hours' }).getAttribute('aria-pressed'), 'false');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(() => {
      const canvas = document.querySelector('#key-usage .usage-chart canvas');
      return canvas && canvas.getBoundingClientRect().width < 390;
    });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the key's usage scrolls sideways by ${overflow}px at 390px`);
    await keyPanel.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(outDir, 'usage-key-390.png') });
    await page.setViewportSize({ width: 1280, height: 900 });

    // Its identity's chart: the same traffic, its only key's.
    await details.getByRole('button', { name: `Details of the identity ${identity.id}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Identity details' });
    await dialog.waitFor();
    const identityPanel = dialog.locator('#identity-usage');
    const identityHourly = await assertChartMatchesApi(identityPanel, { identity_id: identity.id }, 'hour');
    assert.deepEqual(identityHourly.totals, expected);
    assert.ok(await chartHasColour(identityPanel, 'valid'));
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'hidden' });

    // The deployment's: the page shows the API's answer (other keys' traffic comes and goes
    // between two reads, so it is compared with the answer the page itself received).
    const [answer] = await Promise.all([
      page.waitForResponse((r) => /\/api\/usage\?granularity=hour$/.test(r.url())),
      page.getByRole('button', { name: 'Usage', exact: true }).click(),
    ]);
    assert.equal(answer.status(), 200);
    const deployment = await answer.json();
    const overview = page.locator('#usage-overview');
    await overview.locator('.usage-chart[data-totals] canvas').first().waitFor();
    const shown = await chartShown(overview);
    assert.deepEqual(shown.counts, countsOf(deployment));
    assert.deepEqual(shown.totals, deployment.totals);
    assert.deepEqual(shown.table, Object.fromEntries(OUTCOMES.map((name) => [name, deployment.totals[name].toLocaleString('en-GB')])));
    assert.ok(deployment.totals.valid >= 3 && deployment.totals.missing_scope >= 1, 'the key\'s traffic is in the deployment\'s');
    assert.ok(await chartHasColour(overview, 'valid'));
    await page.screenshot({ path: path.join(outDir, 'usage-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(100);
    const tabsOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(tabsOverflow <= 0, `the Usage view scrolls sideways by ${tabsOverflow}px at 390px`);
    await page.screenshot({ path: path.join(outDir, 'usage-390.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    await signOut();
  });

  it('ranks the keys verified and refused most, with a read credential, as the usage API ranks them once the counts are folded', async () => {
    const reader = await createAdminViaApi(topReaderName, 'read');
    await signInWith(reader.key);
    const volume = page.locator('#usage-top-volume');
    const refusals = page.locator('#usage-top-refusals');
    // The page's requests for the rankings of a period: their URLs, once both are answered.
    const ranked = (days) =>
      Promise.all(
        ['volume', 'refusals'].map((by) =>
          page
            .waitForResponse((r) => r.url() === new URL(`api/usage/top?by=${by}&days=${days}&limit=10`, adminUrl).href)
            .then((r) => {
              assert.equal(r.status(), 200);
              return r.url();
            }),
        ),
      );
    // Both rankings shown for a period (usage.js sets their data attributes once rendered).
    const rankingsShown = async (days) => {
      for (const id of ['usage-top-volume', 'usage-top-refusals']) {
        await page.locator(`#${id}[data-days="${days}"][data-keys]`).waitFor({ state: 'attached' });
      }
    };

    // Nothing folded yet in this run's table: both rankings are empty, and say so.
    let [asked] = await Promise.all([ranked(2), page.getByRole('button', { name: 'Usage', exact: true }).click()]);
    await rankingsShown(2);
    assert.equal(await page.getByRole('heading', { name: 'Top keys by volume' }).isVisible(), true);
    assert.equal(await page.getByRole('heading', { name: 'Top keys by refusals' }).isVisible(), true);
    assert.deepEqual((await assertRankingMatchesApi(volume, asked[0])).keys, [], 'nothing is folded before the test folds');
    assert.deepEqual((await assertRankingMatchesApi(refusals, asked[1])).keys, []);
    assert.equal(await volume.locator('.usage-top-empty .empty-title').textContent(), 'No verifications folded yet.');
    assert.equal(await refusals.locator('.usage-top-empty .empty-title').textContent(), 'No refusals folded yet.');
    assert.match(await page.locator('#usage-top').textContent(), /as of the last fold/);
    await page.locator('#usage-top').screenshot({ path: path.join(outDir, 'usage-top-empty.png') });

    // Known traffic: a new key used 4 times and refused twice for a scope it lacks, then a
    // fold, so that the table (which the rankings read) has it.
    const issued = await issueViaApi(topKeyName, { scopes: ['orders:read'] });
    for (let i = 0; i < 4; i += 1) assert.equal(await protectedStatus(issued.key, 'orders:read'), 200);
    for (let i = 0; i < 2; i += 1) assert.equal(await protectedStatus(issued.key, 'orders:write'), 403);
    const folded = await foldUsage();
    assert.ok(folded.folded >= 1, `the fold folded no key: ${JSON.stringify(folded)}`);

    // The last 24 hours: today and yesterday (UTC). Showing the tab again reloads it. The
    // table also holds the other tests' keys, folded by the same fold: the page must show
    // the API's ranking, with this key in it by at least its own counts.
    await page.getByRole('button', { name: 'Keys', exact: true }).click();
    [asked] = await Promise.all([ranked(2), page.getByRole('button', { name: 'Usage', exact: true }).click()]);
    await rankingsShown(2);
    const byVolume = await assertRankingMatchesApi(volume, asked[0]);
    const byRefusals = await assertRankingMatchesApi(refusals, asked[1]);
    for (const [answer, least] of [[byVolume, 6], [byRefusals, 2]]) {
      assert.equal(answer.days, 2);
      const mine = answer.keys.find((key) => key.key_id === issued.id);
      assert.ok(mine && mine.count >= least, `${issued.id} ranked by ${answer.by} with ${least} or more: ${JSON.stringify(answer.keys)}`);
    }
    assert.match(await page.locator('#usage-top .usage-top-span').textContent(), /^Ranked over today and yesterday \(UTC days\), since /);
    await page.screenshot({ path: path.join(outDir, 'usage-top-1280.png'), fullPage: true });

    // The key's id opens its details; closing them returns to it.
    const link = volume.getByRole('button', { name: `Details of the key ${issued.id}` });
    await link.click();
    const details = page.getByRole('dialog', { name: 'Key details' });
    await details.waitFor();
    assert.equal(await details.getAttribute('data-id'), issued.id);
    assert.equal(await details.locator('#details-list .name').first().textContent(), topKeyName);
    await details.getByRole('button', { name: 'Close' }).click();
    await details.waitFor({ state: 'hidden' });
    assert.equal(await link.evaluate((node) => node === document.activeElement), true, 'focus returns to the key id');

    // The last 30 days: the same parameters with days=30.
    [asked] = await Promise.all([ranked(30), page.locator('#usage-overview').getByRole('button', { name: 'Last 30 days' }).click()]);
    await rankingsShown(30);
    const monthly = await assertRankingMatchesApi(volume, asked[0]);
    await assertRankingMatchesApi(refusals, asked[1]);
    assert.ok(monthly.keys.some((key) => key.key_id === issued.id && key.count >= 6));
    assert.match(await page.locator('#usage-top .usage-top-span').textContent(), /^Ranked over the last 30 days/);

    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(100);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the rankings scroll sideways by ${overflow}px at 390px`);
    await page.locator('#usage-top').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(outDir, 'usage-top-390.png') });
    await page.setViewportSize({ width: 1280, height: 900 });
    await signOut();
  });

  it('raised no script errors, no failed loads and no Content-Security-Policy violations', () => {
    assert.deepEqual(pageErrors, []);
    // The wrong-token attempt gets its 401, which is expected; nothing else may fail.
    // So do the bad rate limit, the bad scope and the bad key id the test sends on purpose,
    // the change the read credential forces, the blank and the taken external ids, and the
    // delete of an identity that still has an active key.
    assert.deepEqual(failedResponses, [
      `401 ${new URL('api/me', adminUrl)}`,
      `400 ${new URL(`api/keys/${limitId}`, adminUrl)}`,
      `400 ${new URL('api/keys', adminUrl)}`,
      `400 ${new URL('api/audit?limit=25&key_id=key_nope', adminUrl)}`,
      `403 ${new URL('api/keys', adminUrl)}`,
      `400 ${new URL('api/identities', adminUrl)}`,
      `409 ${new URL('api/identities', adminUrl)}`,
      `409 ${new URL(`api/identities/${identityId}`, adminUrl)}`,
    ]);
    const unexpected = consoleErrors.filter((text) => !/status of (401|400|403|409)/.test(text));
    assert.deepEqual(unexpected, []);
  });
});
