// Keygate admin page. Plain script, no build step.
//
// Safety rules kept throughout: every piece of data reaches the page through textContent,
// an input's value or an attribute, never as HTML (the CSP's Trusted Types rule makes any
// HTML sink throw anyway); the admin token lives in sessionStorage only and travels only as
// an Authorization header to this page's own API (relative URLs, same origin, no cookies).
'use strict';

(function () {
  const TOKEN_KEY = 'keygate.adminToken';
  const PAGE_SIZE = 25;
  const AUDIT_PAGE_SIZE = 25;
  const KEY_AUDIT_PAGE_SIZE = 10;
  const MAX_GRACE_SECONDS = 604800;

  const $ = (id) => document.getElementById(id);
  const ui = {
    signOut: $('sign-out'),
    signInView: $('sign-in-view'),
    signInForm: $('sign-in-form'),
    token: $('token'),
    signInError: $('sign-in-error'),
    appView: $('app-view'),
    issueForm: $('issue-form'),
    issueName: $('issue-name'),
    issueOwner: $('issue-owner'),
    issueScopes: $('issue-scopes'),
    issueMeta: $('issue-meta'),
    issueExpires: $('issue-expires'),
    issueRateLimit: $('issue-rate-limit'),
    issueRateWindow: $('issue-rate-window'),
    issueQuotaRemaining: $('issue-quota-remaining'),
    issueQuotaEvery: $('issue-quota-every'),
    issueQuotaAmount: $('issue-quota-amount'),
    issueError: $('issue-error'),
    newKey: $('new-key'),
    newKeyName: $('new-key-name'),
    newKeyValue: $('new-key-value'),
    newKeyReplaces: $('new-key-replaces'),
    newKeyServerWarning: $('new-key-server-warning'),
    copyKey: $('copy-key'),
    copyStatus: $('copy-status'),
    dismissKey: $('dismiss-key'),
    filterForm: $('filter-form'),
    search: $('search'),
    status: $('status'),
    unusedDays: $('unused-days'),
    clearFilters: $('clear-filters'),
    listStatus: $('list-status'),
    table: $('keys-table'),
    body: $('keys-body'),
    empty: $('empty'),
    emptyTitle: $('empty-title'),
    emptyText: $('empty-text'),
    loadMore: $('load-more'),
    details: $('details-dialog'),
    detailsList: $('details-list'),
    detailsStatus: $('details-status'),
    detailsEdit: $('details-edit'),
    detailsRotate: $('details-rotate'),
    detailsRevoke: $('details-revoke'),
    keyAuditList: $('key-audit-list'),
    keyAuditStatus: $('key-audit-status'),
    keyAuditMore: $('key-audit-more'),
    detailsClose: $('details-close'),
    revoke: $('revoke-dialog'),
    revokeName: $('revoke-name'),
    revokeId: $('revoke-id'),
    revokeError: $('revoke-error'),
    revokeCancel: $('revoke-cancel'),
    revokeConfirm: $('revoke-confirm'),
    rotate: $('rotate-dialog'),
    rotateForm: $('rotate-form'),
    rotateName: $('rotate-name'),
    rotateId: $('rotate-id'),
    rotateSeconds: $('rotate-seconds'),
    rotateEnd: $('rotate-end'),
    rotateError: $('rotate-error'),
    rotateCancel: $('rotate-cancel'),
    rotateConfirm: $('rotate-confirm'),
    edit: $('edit-dialog'),
    editForm: $('edit-form'),
    editId: $('edit-id'),
    editName: $('edit-name'),
    editOwner: $('edit-owner'),
    editScopes: $('edit-scopes'),
    editMeta: $('edit-meta'),
    editExpires: $('edit-expires'),
    editRateLimit: $('edit-rate-limit'),
    editRateWindow: $('edit-rate-window'),
    editQuotaRemaining: $('edit-quota-remaining'),
    editQuotaEvery: $('edit-quota-every'),
    editQuotaAmount: $('edit-quota-amount'),
    editError: $('edit-error'),
    editCancel: $('edit-cancel'),
    editSave: $('edit-save'),
    tabKeys: $('tab-keys'),
    tabAudit: $('tab-audit'),
    keysView: $('keys-view'),
    auditView: $('audit-view'),
    auditForm: $('audit-filter-form'),
    auditAction: $('audit-action'),
    auditKey: $('audit-key'),
    auditClear: $('audit-clear'),
    auditStatus: $('audit-status'),
    auditTable: $('audit-table'),
    auditBody: $('audit-body'),
    auditEmpty: $('audit-empty'),
    auditMore: $('audit-more'),
  };

  const DIALOGS = [ui.details, ui.revoke, ui.rotate, ui.edit];

  // The rate limit and quota inputs of the issue form and of the edit dialog.
  const ISSUE_LIMITS = {
    limit: ui.issueRateLimit,
    window: ui.issueRateWindow,
    remaining: ui.issueQuotaRemaining,
    every: ui.issueQuotaEvery,
    amount: ui.issueQuotaAmount,
  };
  const EDIT_LIMITS = {
    limit: ui.editRateLimit,
    window: ui.editRateWindow,
    remaining: ui.editQuotaRemaining,
    every: ui.editQuotaEvery,
    amount: ui.editQuotaAmount,
  };

  const state = {
    token: null,
    // Filters of the list on screen, and where its next page starts.
    filters: { q: '', status: '', unused_days: '' },
    cursor: null,
    // Bumped on every fresh load, so that a slow answer to an older one is dropped.
    generation: 0,
    // The key the revoke dialog is about, and the button to return focus to.
    revoking: null,
    returnFocus: null,
    // The key shown in the details dialog, and the ones the rotate and edit dialogs act on.
    detailed: null,
    rotating: null,
    editing: null,
    // The audit view's filters and paging, and the details dialog's own history paging.
    audit: { action: '', key_id: '', cursor: null, generation: 0, loaded: false },
    keyAudit: { id: null, cursor: null, generation: 0 },
  };

  class AuthError extends Error {}

  // ---------------------------------------------------------------- API

  async function api(path, { method = 'GET', body } = {}) {
    const headers = { Authorization: 'Bearer ' + state.token, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
        redirect: 'error',
      });
    } catch (err) {
      throw new Error('Could not reach the admin API. Check your connection and try again.');
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (response.status === 401) {
      throw new AuthError((data && data.detail) || 'The admin token was not accepted.');
    }
    if (!response.ok) {
      const detail = data && typeof data.detail === 'string' ? data.detail : '';
      throw new Error(detail || 'The admin API answered ' + response.status + '.');
    }
    return data;
  }

  function keysUrl(cursor, limit) {
    const params = new URLSearchParams();
    params.set('limit', String(limit));
    if (state.filters.status) params.set('status', state.filters.status);
    if (state.filters.q) params.set('q', state.filters.q);
    if (state.filters.unused_days) params.set('unused_days', state.filters.unused_days);
    if (cursor) params.set('cursor', cursor);
    return 'api/keys?' + params.toString();
  }

  const keyUrl = (id) => 'api/keys/' + encodeURIComponent(id);

  function auditUrl({ key_id, action, cursor, limit }) {
    const params = new URLSearchParams();
    params.set('limit', String(limit));
    if (key_id) params.set('key_id', key_id);
    if (action) params.set('action', action);
    if (cursor) params.set('cursor', cursor);
    return 'api/audit?' + params.toString();
  }

  // ---------------------------------------------------------------- small DOM helpers

  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [name, value] of Object.entries(props)) {
        if (name === 'text') node.textContent = value;
        else if (name === 'class') node.className = value;
        else node.setAttribute(name, value);
      }
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function setMessage(node, text) {
    node.textContent = text || '';
    show(node, Boolean(text));
  }

  const pad = (n) => String(n).padStart(2, '0');

  // A timestamp as a <time>: compact and unambiguous in local time (2026-01-31 14:05), the
  // exact UTC value in its tooltip. Date and time may wrap apart on narrow tables.
  function time(iso, empty) {
    if (!iso) return el('span', { class: 'muted', text: empty });
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return el('span', { text: iso });
    const day = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
    const clock = pad(d.getHours()) + ':' + pad(d.getMinutes());
    return el('time', { datetime: iso, title: iso + ' (UTC)' }, [
      el('span', { class: 'nowrap', text: day }),
      ' ',
      el('span', { class: 'nowrap', text: clock }),
    ]);
  }

  function badge(status) {
    return el('span', { class: 'badge badge-' + status, text: status });
  }

  function scopeList(scopes, max) {
    if (!scopes || scopes.length === 0) return el('span', { class: 'muted', text: 'none' });
    const shown = max ? scopes.slice(0, max) : scopes;
    const list = el('span', { class: 'chips', title: scopes.join(' ') });
    for (const scope of shown) list.append(el('code', { class: 'chip', text: scope }));
    if (shown.length < scopes.length) {
      list.append(el('span', { class: 'muted more-count', text: '+' + (scopes.length - shown.length) }));
    }
    return list;
  }

  // "orders:read, orders:write" or "orders:read orders:write" as a list; the server checks
  // each scope's form and reports the first bad one by name.
  function parseScopes(text) {
    return text.split(/[\s,]+/).filter(Boolean);
  }

  // The metadata textarea: empty is none, otherwise it must be a JSON object. Returns
  // { value } or { error }.
  function parseMeta(text) {
    const trimmed = text.trim();
    if (!trimmed) return { value: null };
    let value;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      return { error: 'Metadata is not valid JSON (' + err.message + '). Write an object such as {"plan": "pro"}, or leave it empty.' };
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { error: 'Metadata must be a JSON object, in braces, such as {"plan": "pro"}.' };
    }
    return { value };
  }

  function invalid(input, box, message) {
    setMessage(box, message);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }

  // A duration in words, for grace periods.
  function duration(seconds) {
    if (seconds === 0) return 'no time';
    const parts = [];
    for (const [size, unit] of [[86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']]) {
      const n = Math.floor(seconds / size);
      if (n > 0) parts.push(n + ' ' + unit + (n === 1 ? '' : 's'));
      seconds -= n * size;
    }
    return parts.slice(0, 2).join(' ');
  }

  function localTime(date) {
    return (
      date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) + ' ' +
      pad(date.getHours()) + ':' + pad(date.getMinutes())
    );
  }

  // ---------------------------------------------------------------- limits

  // A count as the administrator's locale writes it (1,000,000 in English).
  const count = (n) => Number(n).toLocaleString();

  // Shorter for the list from 100,000 up (123.4K, 1M, 1T in English), rounded down so that
  // calls left are never overstated; the tooltip and the details have the exact count.
  const COMPACT = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1, roundingMode: 'floor' });
  const shortCount = (n) => (n < 100000 ? count(n) : COMPACT.format(n));

  const REFILL_WORDS = { day: 'daily', month: 'monthly' };

  // For the list: "100 / 60 s".
  function rateText(rate) {
    return shortCount(rate.limit) + ' / ' + rate.window_seconds + ' s';
  }

  // For the list: "quota 950 left, refills 1,000 monthly". The list's count is the stored
  // one, up to a minute behind; the details show the live one.
  function quotaText(quota) {
    let text = 'quota ' + shortCount(quota.remaining) + ' left';
    if (quota.refill) text += ', refills ' + shortCount(quota.refill.amount) + ' ' + REFILL_WORDS[quota.refill.every];
    return text;
  }

  // For the details and tooltips: "100 requests per 60 seconds (1 minute)".
  function rateDetail(rate) {
    const seconds = rate.window_seconds;
    let text =
      count(rate.limit) + (rate.limit === 1 ? ' request' : ' requests') +
      ' per ' + seconds + (seconds === 1 ? ' second' : ' seconds');
    if (seconds >= 60) text += ' (' + duration(seconds) + ')';
    return text;
  }

  function quotaDetail(quota) {
    let text = count(quota.remaining) + (quota.remaining === 1 ? ' call left' : ' calls left');
    if (!quota.refill) return text + ', no refill';
    const when = quota.refill.every === 'day' ? 'at 00:00 UTC each day' : 'on the 1st of each month, 00:00 UTC';
    return text + ', refills to ' + count(quota.refill.amount) + ' ' + when;
  }

  function limitsCell(key) {
    if (!key.rate_limit && !key.quota) return el('span', { class: 'muted', text: '—' });
    const cell = el('span', { class: 'limits' });
    if (key.rate_limit) {
      // It may break after the slash, never inside either half.
      const [requests, per] = rateText(key.rate_limit).split(' / ');
      cell.append(
        el('span', { class: 'rate', title: rateDetail(key.rate_limit) }, [
          el('span', { class: 'nowrap', text: requests + ' /' }),
          ' ',
          el('span', { class: 'nowrap', text: per }),
        ]),
      );
    }
    if (key.quota) cell.append(el('span', { class: 'quota', title: quotaDetail(key.quota), text: quotaText(key.quota) }));
    return cell;
  }

  // The refill amount only means something with a refill.
  function syncRefill(inputs) {
    inputs.amount.disabled = !inputs.every.value;
  }

  function fillLimits(inputs, key) {
    const rate = key.rate_limit;
    const quota = key.quota;
    const refill = quota && quota.refill;
    inputs.limit.value = rate ? String(rate.limit) : '';
    inputs.window.value = rate ? String(rate.window_seconds) : '';
    inputs.remaining.value = quota ? String(quota.remaining) : '';
    inputs.every.value = refill ? refill.every : '';
    inputs.amount.value = refill ? String(refill.amount) : '';
    syncRefill(inputs);
  }

  // A whole-number input: { value }, { empty: true } or { bad: true }. A number input holds
  // '' for text it cannot read, so that counts as bad rather than empty.
  function wholeNumber(input) {
    const text = input.value.trim();
    if (input.validity.badInput || (text && !/^[0-9]+$/.test(text))) return { bad: true };
    return text ? { value: Number(text) } : { empty: true };
  }

  // The limits a form asks for, as the API takes them: { rate_limit, quota }, each null when
  // left empty, or { error, input } naming the first input that cannot be used. The API
  // checks the ranges, and names the field when one is out of them.
  function readLimits(inputs) {
    const every = inputs.every.value;
    const numbers = {};
    for (const [name, label] of [
      ['limit', 'Rate limit requests'],
      ['window', 'Rate limit window'],
      ['remaining', 'Quota calls left'],
      ['amount', 'Quota refill amount'],
    ]) {
      if (name === 'amount' && !every) continue;
      numbers[name] = wholeNumber(inputs[name]);
      if (numbers[name].bad) return { error: label + ': enter a whole number.', input: inputs[name] };
    }
    const { limit, window: per, remaining, amount } = numbers;
    let rateLimit = null;
    if (!limit.empty || !per.empty) {
      if (limit.empty) {
        return { error: 'Rate limit: enter the number of requests too, or empty both fields for no rate limit.', input: inputs.limit };
      }
      if (per.empty) {
        return { error: 'Rate limit: enter the window in seconds too, or empty both fields for no rate limit.', input: inputs.window };
      }
      rateLimit = { limit: limit.value, window_seconds: per.value };
    }
    let quota = null;
    if (!remaining.empty || every) {
      if (remaining.empty) {
        return { error: 'Quota: enter the calls left, or choose Refills: Never and leave it empty for no quota.', input: inputs.remaining };
      }
      if (every && amount.empty) {
        return { error: 'Quota: enter the refill amount, or choose Refills: Never.', input: inputs.amount };
      }
      quota = { remaining: remaining.value };
      if (every) quota.refill = { every, amount: amount.value };
    }
    return { rate_limit: rateLimit, quota };
  }

  // The input a 400's detail is about ("`rate_limit.limit` must be …"), if it is a limit's.
  function limitInput(detail, inputs) {
    const match = /`(rate_limit\.limit|rate_limit\.window_seconds|quota\.remaining|quota\.refill\.amount)`/.exec(detail);
    if (!match) return null;
    return {
      'rate_limit.limit': inputs.limit,
      'rate_limit.window_seconds': inputs.window,
      'quota.remaining': inputs.remaining,
      'quota.refill.amount': inputs.amount,
    }[match[1]];
  }

  // Shows a failed save's reason, on the limit input it names if there is one.
  function showSaveError(err, box, inputs) {
    const input = limitInput(err.message, inputs);
    if (input) invalid(input, box, err.message);
    else setMessage(box, err.message);
  }

  function limitInputs(inputs) {
    return [inputs.limit, inputs.window, inputs.remaining, inputs.amount];
  }

  const sameRate = (a, b) => (a && b ? a.limit === b.limit && a.window_seconds === b.window_seconds : a === b);
  const sameRefill = (a, b) => (a && b ? a.every === b.every && a.amount === b.amount : a === b);
  const sameQuota = (a, b) =>
    a && b ? a.remaining === b.remaining && sameRefill(a.refill || null, b.refill || null) : a === b;

  // ---------------------------------------------------------------- signing in and out

  function showSignIn(message) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    resetApp();
    show(ui.appView, false);
    show(ui.signOut, false);
    show(ui.signInView, true);
    setMessage(ui.signInError, message);
    ui.token.value = '';
    ui.token.setAttribute('aria-invalid', message ? 'true' : 'false');
    ui.token.focus();
  }

  function showApp() {
    show(ui.signInView, false);
    setMessage(ui.signInError, '');
    show(ui.appView, true);
    show(ui.signOut, true);
  }

  // Forgets everything a signed-in session showed, the raw key of a fresh issue above all.
  function resetApp() {
    hideNewKey();
    ui.issueForm.reset();
    syncRefill(ISSUE_LIMITS);
    ui.filterForm.reset();
    ui.auditForm.reset();
    state.filters = { q: '', status: '', unused_days: '' };
    state.cursor = null;
    state.generation += 1;
    state.audit = { action: '', key_id: '', cursor: null, generation: state.audit.generation + 1, loaded: false };
    state.keyAudit = { id: null, cursor: null, generation: state.keyAudit.generation + 1 };
    ui.body.replaceChildren();
    ui.auditBody.replaceChildren();
    ui.keyAuditList.replaceChildren();
    ui.auditStatus.textContent = '';
    show(ui.auditEmpty, false);
    show(ui.auditMore, false);
    showView('keys', false);
    setMessage(ui.issueError, '');
    ui.listStatus.textContent = '';
    show(ui.empty, false);
    show(ui.loadMore, false);
    for (const dialog of DIALOGS) if (dialog.open) dialog.close();
  }

  async function signIn(event) {
    event.preventDefault();
    const token = ui.token.value.trim();
    if (!token) {
      setMessage(ui.signInError, 'Enter the admin token.');
      ui.token.setAttribute('aria-invalid', 'true');
      ui.token.focus();
      return;
    }
    state.token = token;
    setMessage(ui.signInError, '');
    const button = ui.signInForm.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const page = await api(keysUrl(null, PAGE_SIZE));
      sessionStorage.setItem(TOKEN_KEY, token);
      ui.token.value = '';
      showApp();
      renderPage(page, true);
      ui.issueName.focus();
    } catch (err) {
      state.token = null;
      const message =
        err instanceof AuthError
          ? 'That admin token was not accepted. Check it and try again.'
          : err.message;
      setMessage(ui.signInError, message);
      ui.token.setAttribute('aria-invalid', 'true');
      ui.token.select();
    } finally {
      button.disabled = false;
    }
  }

  // Any 401 after signing in means the token changed under us: start again.
  function handleError(err, where) {
    if (err instanceof AuthError) {
      showSignIn('Your admin token is no longer accepted. Sign in again.');
      return;
    }
    setMessage(where, err.message);
  }

  // ---------------------------------------------------------------- the list

  const COLUMNS = ['Name', 'ID and prefix', 'Status', 'Scopes', 'Limits', 'Created', 'Expires', 'Last used', 'Revoked at', ''];

  function nameCell(key) {
    const cell = el('span', { class: 'name-cell' }, [el('span', { class: 'name', text: key.name })]);
    if (key.owner) cell.append(el('span', { class: 'owner', title: 'Owner', text: key.owner }));
    return cell;
  }

  // The id, and the prefix the key itself starts with, stacked: one column for both leaves
  // room for the limits at 1280 px.
  function idCell(key) {
    return el('span', { class: 'id-cell' }, [
      el('code', { text: key.id }),
      el('code', { class: 'prefix', title: 'Prefix', text: key.prefix }),
    ]);
  }

  function statusCell(key) {
    const cell = el('span', { class: 'status-cell' }, [badge(key.status)]);
    // Only the old key says so in the list (its end comes from the rotation); details link
    // both ways.
    if (key.rotated_to) cell.append(el('span', { class: 'hint', text: 'rotated' }));
    return cell;
  }

  function keyRow(key) {
    const cells = [
      nameCell(key),
      idCell(key),
      statusCell(key),
      scopeList(key.scopes, 1),
      limitsCell(key),
      time(key.created_at, '—'),
      time(key.expires_at, 'never'),
      time(key.last_used_at, 'never'),
      time(key.revoked_at, '—'),
      rowActions(key),
    ];
    const row = el('tr', { 'data-id': key.id });
    cells.forEach((content, i) => {
      const cell = el(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : null, [content]);
      if (COLUMNS[i]) cell.dataset.label = COLUMNS[i];
      else cell.className = 'row-actions';
      row.append(cell);
    });
    return row;
  }

  function rowActions(key) {
    const details = el('button', {
      type: 'button',
      class: 'button small',
      text: 'Details',
      'aria-label': 'Details of ' + key.name,
    });
    details.addEventListener('click', () => openDetails(key.id, details));
    const group = el('div', { class: 'button-row' }, [details]);
    if (key.status !== 'revoked') {
      const revoke = el('button', {
        type: 'button',
        class: 'button small danger-outline',
        text: 'Revoke',
        'aria-label': 'Revoke ' + key.name,
      });
      revoke.addEventListener('click', () => askRevoke(key, details));
      group.append(revoke);
    }
    return group;
  }

  function renderPage(page, fresh) {
    if (fresh) ui.body.replaceChildren();
    for (const key of page.keys) ui.body.append(keyRow(key));
    state.cursor = page.next_cursor || null;
    show(ui.loadMore, Boolean(state.cursor));
    const count = ui.body.rows.length;
    show(ui.table, count > 0);
    const filtered = Boolean(state.filters.q || state.filters.status || state.filters.unused_days);
    if (count === 0 && !state.cursor) {
      ui.emptyTitle.textContent = filtered ? 'No keys match.' : 'No keys yet.';
      ui.emptyText.textContent = filtered
        ? 'Try another name, owner or prefix, or clear the filters.'
        : 'Issue the first one with the form above.';
      show(ui.empty, true);
    } else if (count === 0) {
      // The store reads a bounded number of keys per request when filtering.
      ui.emptyTitle.textContent = 'No matches among the keys searched so far.';
      ui.emptyText.textContent = 'Older keys remain: use Load more to keep searching.';
      show(ui.empty, true);
    } else {
      show(ui.empty, false);
    }
    ui.listStatus.textContent =
      count === 0 ? '' : count + (count === 1 ? ' key' : ' keys') + ' shown' + (state.cursor ? ', more available.' : '.');
  }

  async function loadKeys() {
    const generation = ++state.generation;
    ui.listStatus.textContent = 'Loading…';
    try {
      const page = await api(keysUrl(null, PAGE_SIZE));
      if (generation === state.generation) renderPage(page, true);
    } catch (err) {
      if (generation === state.generation) handleError(err, ui.listStatus);
    }
  }

  async function loadMore() {
    const generation = state.generation;
    ui.loadMore.disabled = true;
    try {
      const page = await api(keysUrl(state.cursor, PAGE_SIZE));
      if (generation === state.generation) {
        const first = ui.body.rows.length;
        renderPage(page, false);
        // Keep keyboard users where the new rows start.
        const button = ui.body.rows[first] && ui.body.rows[first].querySelector('button');
        if (button) button.focus();
      }
    } catch (err) {
      handleError(err, ui.listStatus);
    } finally {
      ui.loadMore.disabled = false;
    }
  }

  function applyFilters(event) {
    event.preventDefault();
    const days = ui.unusedDays.value.trim();
    ui.unusedDays.removeAttribute('aria-invalid');
    if (days && !/^[0-9]+$/.test(days)) {
      invalid(ui.unusedDays, ui.listStatus, 'Unused for: enter a whole number of days, or leave it empty.');
      return;
    }
    state.filters = { q: ui.search.value.trim(), status: ui.status.value, unused_days: days };
    loadKeys();
  }

  function clearFilters() {
    ui.filterForm.reset();
    ui.unusedDays.removeAttribute('aria-invalid');
    state.filters = { q: '', status: '', unused_days: '' };
    loadKeys();
    ui.search.focus();
  }

  // Puts a fresh view of one key in place of its row, wherever it is in the list.
  function replaceRow(key) {
    const old = ui.body.querySelector('tr[data-id="' + CSS.escape(key.id) + '"]');
    if (!old) return null;
    const row = keyRow(key);
    old.replaceWith(row);
    return row;
  }

  // ---------------------------------------------------------------- issuing

  async function issueKey(event) {
    event.preventDefault();
    setMessage(ui.issueError, '');
    for (const input of [ui.issueName, ui.issueExpires, ui.issueMeta, ...limitInputs(ISSUE_LIMITS)]) {
      input.removeAttribute('aria-invalid');
    }
    const name = ui.issueName.value.trim();
    if (!name) {
      setMessage(ui.issueError, 'Give the key a name.');
      ui.issueName.setAttribute('aria-invalid', 'true');
      ui.issueName.focus();
      return;
    }
    const body = { name };
    if (ui.issueExpires.value) {
      // datetime-local has no zone: it is the administrator's local time.
      const at = new Date(ui.issueExpires.value);
      if (Number.isNaN(at.getTime()) || at.getTime() <= Date.now()) {
        setMessage(ui.issueError, 'Choose an expiry in the future, or leave it empty.');
        ui.issueExpires.setAttribute('aria-invalid', 'true');
        ui.issueExpires.focus();
        return;
      }
      body.expires_at = at.toISOString();
    }
    const owner = ui.issueOwner.value.trim();
    if (owner) body.owner = owner;
    const scopes = parseScopes(ui.issueScopes.value);
    if (scopes.length) body.scopes = scopes;
    const meta = parseMeta(ui.issueMeta.value);
    if (meta.error) {
      invalid(ui.issueMeta, ui.issueError, meta.error);
      return;
    }
    if (meta.value) body.meta = meta.value;
    const limits = readLimits(ISSUE_LIMITS);
    if (limits.error) {
      invalid(limits.input, ui.issueError, limits.error);
      return;
    }
    if (limits.rate_limit) body.rate_limit = limits.rate_limit;
    if (limits.quota) body.quota = limits.quota;
    const button = ui.issueForm.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const issued = await api('api/keys', { method: 'POST', body });
      ui.issueForm.reset();
      syncRefill(ISSUE_LIMITS);
      showNewKey(issued);
      await refreshWith(issued);
    } catch (err) {
      if (err instanceof AuthError) handleError(err, ui.issueError);
      else showSaveError(err, ui.issueError, ISSUE_LIMITS);
    } finally {
      button.disabled = false;
    }
  }

  // Reloads the list, making sure a just-written key is in it: the list reads an index that
  // DynamoDB updates a moment after the write, so this read may come too early.
  async function refreshWith(issued) {
    await loadKeys();
    const unfiltered = !state.filters.q && !state.filters.status && !state.filters.unused_days;
    if (unfiltered && !ui.body.querySelector('tr[data-id="' + CSS.escape(issued.id) + '"]')) {
      const { key, old_key, warning, ...view } = issued; // the row never holds the raw key
      ui.body.prepend(keyRow(view));
      show(ui.table, true);
      show(ui.empty, false);
    }
  }

  // `rotated`: the rotate answer, whose old_key says where the replaced key now stands.
  function showNewKey(issued, rotated) {
    ui.newKeyName.textContent = issued.name;
    ui.newKeyValue.value = issued.key;
    ui.copyStatus.textContent = '';
    if (rotated) {
      const old = rotated.old_key;
      const end =
        old.status === 'revoked'
          ? 'was revoked at once.'
          : old.expires_at
            ? 'keeps working until ' + localTime(new Date(old.expires_at)) + ' (your local time), then expires.'
            : 'keeps working.';
      ui.newKeyReplaces.textContent = 'It replaces ' + old.id + ', which ' + end;
    }
    show(ui.newKeyReplaces, Boolean(rotated));
    setMessage(ui.newKeyServerWarning, rotated && rotated.warning ? rotated.warning : '');
    show(ui.newKey, true);
    ui.newKey.focus();
  }

  function hideNewKey() {
    ui.newKeyValue.value = '';
    ui.newKeyName.textContent = '';
    ui.copyStatus.textContent = '';
    ui.newKeyReplaces.textContent = '';
    setMessage(ui.newKeyServerWarning, '');
    show(ui.newKey, false);
  }

  async function copyKey() {
    const value = ui.newKeyValue.value;
    try {
      await navigator.clipboard.writeText(value);
      ui.copyStatus.textContent = 'Copied to the clipboard.';
    } catch (err) {
      // No clipboard permission: select it so that Ctrl+C / long-press copies it.
      ui.newKeyValue.focus();
      ui.newKeyValue.select();
      ui.copyStatus.textContent = 'Selected: press Ctrl+C (or ⌘C) to copy.';
    }
  }

  // ---------------------------------------------------------------- details

  async function openDetails(id, opener) {
    if (opener) state.returnFocus = opener;
    try {
      const key = await api(keyUrl(id));
      replaceRow(key);
      fillDetails(key);
      if (!ui.details.open) ui.details.showModal();
      ui.detailsClose.focus();
      loadKeyAudit(key.id, true);
    } catch (err) {
      handleError(err, ui.details.open ? ui.detailsStatus : activeStatus());
    }
  }

  // A button that opens another key's details in the same dialog (rotation links).
  function keyLink(id, label) {
    const button = el('button', { type: 'button', class: 'link', 'aria-label': label + ' ' + id }, [
      el('code', { text: id }),
    ]);
    button.addEventListener('click', () => openDetails(id, null));
    return button;
  }

  function fillDetails(key) {
    const rows = [
      ['Name', el('span', { class: 'name', text: key.name })],
      ['Owner', key.owner ? el('span', { class: 'name', text: key.owner }) : el('span', { class: 'muted', text: 'none' })],
      ['ID', el('code', { text: key.id })],
      ['Prefix', el('code', { text: key.prefix })],
      ['Status', badge(key.status)],
      ['Scopes', scopeList(key.scopes, 0)],
      ['Rate limit', el('span', key.rate_limit ? { text: rateDetail(key.rate_limit) } : { class: 'muted', text: 'none' })],
      ['Quota', el('span', key.quota ? { text: quotaDetail(key.quota) } : { class: 'muted', text: 'none' })],
      ['Created', time(key.created_at, '—')],
      ['Expires', time(key.expires_at, 'never')],
      ['Last used', time(key.last_used_at, 'never')],
      ['Revoked at', time(key.revoked_at, 'not revoked')],
    ];
    if (key.rotated_from) rows.push(['Replaces', keyLink(key.rotated_from, 'Details of the key it replaces,')]);
    if (key.rotated_to) rows.push(['Replaced by', keyLink(key.rotated_to, 'Details of its replacement,')]);
    const meta = key.meta
      ? el('pre', { class: 'meta', text: JSON.stringify(key.meta, null, 2) })
      : el('span', { class: 'muted', text: 'none' });
    rows.push(['Metadata', meta]);
    ui.detailsList.replaceChildren(
      ...rows.flatMap(([label, value]) => [el('dt', { text: label }), el('dd', null, [value])]),
    );
    ui.details.dataset.id = key.id;
    ui.detailsStatus.textContent = '';
    state.detailed = key;
    show(ui.detailsRevoke, key.status !== 'revoked');
    // Only an active key that has not been rotated yet can be rotated (the API answers 409
    // or 403 otherwise); an ended key has nothing left to edit.
    show(ui.detailsRotate, key.status === 'active' && !key.rotated_to);
    show(ui.detailsEdit, key.status === 'active');
  }

  // ---------------------------------------------------------------- audit

  function actorText(actor) {
    return actor === 'admin' ? 'admin' : actor.startsWith('key:') ? 'key holder (' + actor.slice(4) + ')' : actor;
  }

  // What an event did, beyond its action: the fields an update changed, or the replacement
  // a rotation made.
  function eventChanges(event, withLinks) {
    if (event.action === 'rotate' && event.new_key_id) {
      return el('span', { class: 'changes' }, [
        'new key ',
        withLinks ? keyLink(event.new_key_id, 'Details of the new key') : el('code', { text: event.new_key_id }),
      ]);
    }
    if (event.changes && event.changes.length) {
      return el('span', { class: 'changes' }, event.changes.map((c) => el('code', { class: 'chip', text: c })));
    }
    return el('span', { class: 'muted', text: '—' });
  }

  function actionBadge(action) {
    return el('span', { class: 'badge action action-' + action, text: action });
  }

  function userAgent(text) {
    if (!text) return el('span', { class: 'muted', text: '—' });
    return el('span', { class: 'ua', title: text, text });
  }

  const AUDIT_COLUMNS = ['Time', 'Action', 'Key', 'Actor', 'Source IP', 'User agent', 'Changes'];

  function eventRow(event) {
    const cells = [
      time(event.time, '—'),
      actionBadge(event.action),
      keyLink(event.key_id, 'Details of'),
      el('span', { text: actorText(event.actor) }),
      event.source_ip ? el('code', { text: event.source_ip }) : el('span', { class: 'muted', text: '—' }),
      userAgent(event.user_agent),
      eventChanges(event, true),
    ];
    const row = el('tr', { 'data-event': event.id });
    cells.forEach((content, i) => {
      const cell = el(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : null, [content]);
      cell.dataset.label = AUDIT_COLUMNS[i];
      row.append(cell);
    });
    return row;
  }

  // The same event, compact, for one key's history in its details.
  function eventItem(event) {
    const meta = [actorText(event.actor)];
    if (event.source_ip) meta.push(event.source_ip);
    const item = el('li', { class: 'event', 'data-event': event.id }, [
      el('div', { class: 'event-head' }, [actionBadge(event.action), time(event.time, '—'), eventChanges(event, true)]),
      el('div', { class: 'event-meta muted', text: meta.join(' · ') }),
    ]);
    if (event.user_agent) item.append(el('div', { class: 'event-meta muted ua', title: event.user_agent, text: event.user_agent }));
    return item;
  }

  async function loadKeyAudit(id, fresh) {
    if (fresh) state.keyAudit = { id, cursor: null, generation: state.keyAudit.generation + 1 };
    const generation = state.keyAudit.generation;
    ui.keyAuditStatus.textContent = 'Loading…';
    ui.keyAuditMore.disabled = true;
    try {
      const page = await api(
        auditUrl({ key_id: id, cursor: state.keyAudit.cursor, limit: KEY_AUDIT_PAGE_SIZE }),
      );
      if (generation !== state.keyAudit.generation) return;
      if (fresh) ui.keyAuditList.replaceChildren();
      for (const event of page.events) ui.keyAuditList.append(eventItem(event));
      state.keyAudit.cursor = page.next_cursor || null;
      show(ui.keyAuditMore, Boolean(state.keyAudit.cursor));
      ui.keyAuditStatus.textContent = ui.keyAuditList.children.length ? '' : 'No events for this key.';
    } catch (err) {
      if (generation === state.keyAudit.generation) handleError(err, ui.keyAuditStatus);
    } finally {
      ui.keyAuditMore.disabled = false;
    }
  }

  function renderAudit(page, fresh) {
    if (fresh) ui.auditBody.replaceChildren();
    for (const event of page.events) ui.auditBody.append(eventRow(event));
    state.audit.cursor = page.next_cursor || null;
    show(ui.auditMore, Boolean(state.audit.cursor));
    const count = ui.auditBody.rows.length;
    show(ui.auditTable, count > 0);
    show(ui.auditEmpty, count === 0 && !state.audit.cursor);
    ui.auditStatus.textContent =
      count === 0 ? '' : count + (count === 1 ? ' event' : ' events') + ' shown' + (state.audit.cursor ? ', more available.' : '.');
  }

  async function loadAudit(fresh) {
    if (fresh) {
      state.audit.cursor = null;
      state.audit.generation += 1;
      state.audit.loaded = true;
      ui.auditStatus.textContent = 'Loading…';
    }
    const generation = state.audit.generation;
    const first = ui.auditBody.rows.length;
    ui.auditMore.disabled = true;
    try {
      const page = await api(
        auditUrl({
          key_id: state.audit.key_id,
          action: state.audit.action,
          cursor: fresh ? null : state.audit.cursor,
          limit: AUDIT_PAGE_SIZE,
        }),
      );
      if (generation !== state.audit.generation) return;
      renderAudit(page, fresh);
      if (!fresh) {
        const button = ui.auditBody.rows[first] && ui.auditBody.rows[first].querySelector('button');
        if (button) button.focus();
      }
    } catch (err) {
      if (generation === state.audit.generation) handleError(err, ui.auditStatus);
    } finally {
      ui.auditMore.disabled = false;
    }
  }

  function applyAuditFilters(event) {
    event.preventDefault();
    state.audit.action = ui.auditAction.value;
    state.audit.key_id = ui.auditKey.value.trim();
    loadAudit(true);
  }

  function clearAuditFilters() {
    ui.auditForm.reset();
    state.audit.action = '';
    state.audit.key_id = '';
    loadAudit(true);
    ui.auditAction.focus();
  }

  // ---------------------------------------------------------------- views

  function activeStatus() {
    return ui.auditView.hidden ? ui.listStatus : ui.auditStatus;
  }

  function showView(name, focus) {
    const audit = name === 'audit';
    show(ui.keysView, !audit);
    show(ui.auditView, audit);
    ui.tabKeys.setAttribute('aria-current', audit ? 'false' : 'page');
    ui.tabAudit.setAttribute('aria-current', audit ? 'page' : 'false');
    if (audit && state.token) loadAudit(true);
    if (focus) (audit ? ui.auditAction : ui.issueName).focus();
  }

  // ---------------------------------------------------------------- rotating

  function graceChoice() {
    return ui.rotateForm.querySelector('input[name=grace]:checked').value;
  }

  // The grace period chosen, or null with a message when the custom value is not usable.
  function graceSeconds() {
    const choice = graceChoice();
    if (choice !== 'custom') return { seconds: Number(choice) };
    const text = ui.rotateSeconds.value.trim();
    const seconds = Number(text);
    if (!/^[0-9]+$/.test(text) || seconds > MAX_GRACE_SECONDS) {
      return { error: 'Enter a whole number of seconds from 0 to ' + MAX_GRACE_SECONDS + ' (7 days).' };
    }
    return { seconds };
  }

  function describeGrace() {
    setMessage(ui.rotateError, '');
    ui.rotateSeconds.removeAttribute('aria-invalid');
    const custom = graceChoice() === 'custom';
    ui.rotateSeconds.disabled = !custom;
    const grace = graceSeconds();
    if (grace.error) {
      ui.rotateEnd.textContent = custom && ui.rotateSeconds.value.trim() === '' ? 'Enter the grace period in seconds.' : grace.error;
      return;
    }
    const key = state.rotating;
    if (grace.seconds === 0) {
      ui.rotateEnd.textContent = 'The old key is revoked the moment you confirm.';
      return;
    }
    let end = new Date(Date.now() + grace.seconds * 1000);
    // The API never extends a key: an earlier expiry stays.
    if (key && key.expires_at && new Date(key.expires_at) < end) end = new Date(key.expires_at);
    ui.rotateEnd.textContent =
      'The old key keeps working for ' + duration(grace.seconds) + ', until about ' + localTime(end) + ' your time, then expires.';
  }

  function askRotate(key) {
    state.rotating = key;
    ui.rotateForm.reset();
    ui.rotateName.textContent = key.name;
    ui.rotateId.textContent = key.id;
    ui.rotateSeconds.removeAttribute('aria-invalid');
    setMessage(ui.rotateError, '');
    ui.rotateConfirm.disabled = false;
    describeGrace();
    ui.rotate.showModal();
    ui.rotateCancel.focus();
  }

  async function confirmRotate(event) {
    event.preventDefault();
    const key = state.rotating;
    if (!key) return;
    const grace = graceSeconds();
    if (grace.error) {
      invalid(ui.rotateSeconds, ui.rotateError, grace.error);
      return;
    }
    ui.rotateSeconds.removeAttribute('aria-invalid');
    setMessage(ui.rotateError, '');
    ui.rotateConfirm.disabled = true;
    try {
      const rotated = await api(keyUrl(key.id) + '/rotate', {
        method: 'POST',
        body: { grace_seconds: grace.seconds },
      });
      state.rotating = null;
      // The new key goes where issued keys go, shown once; the dialogs would hide it.
      state.returnFocus = null;
      ui.rotate.close();
      if (ui.details.open) ui.details.close();
      showView('keys', false);
      showNewKey(rotated, rotated);
      await refreshWith(rotated);
      // The reload may have read the index before it caught up with the old key's new end.
      replaceRow(rotated.old_key);
      ui.listStatus.textContent = 'Rotated ' + rotated.old_key.id + ': the new key is ' + rotated.id + '.';
      ui.newKey.scrollIntoView({ block: 'nearest' });
    } catch (err) {
      if (err instanceof AuthError) {
        ui.rotate.close();
        handleError(err, ui.rotateError);
      } else {
        setMessage(ui.rotateError, err.message);
        ui.rotateConfirm.disabled = false;
      }
    }
  }

  // ---------------------------------------------------------------- editing

  function localInputValue(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return localTime(d).replace(' ', 'T');
  }

  function askEdit(key) {
    state.editing = key;
    ui.editForm.reset();
    ui.editId.textContent = key.id;
    ui.editName.value = key.name;
    ui.editOwner.value = key.owner || '';
    ui.editScopes.value = (key.scopes || []).join(' ');
    ui.editMeta.value = key.meta ? JSON.stringify(key.meta, null, 2) : '';
    // The picker cannot offer a later time than the current expiry.
    if (key.expires_at) ui.editExpires.max = localInputValue(key.expires_at);
    else ui.editExpires.removeAttribute('max');
    // The details' key was read just now: its quota shows the live count.
    fillLimits(EDIT_LIMITS, key);
    for (const input of [ui.editName, ui.editMeta, ui.editExpires, ...limitInputs(EDIT_LIMITS)]) {
      input.removeAttribute('aria-invalid');
    }
    setMessage(ui.editError, '');
    ui.editSave.disabled = false;
    ui.edit.showModal();
    ui.editName.focus();
  }

  const sameList = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  async function saveEdit(event) {
    event.preventDefault();
    const key = state.editing;
    if (!key) return;
    setMessage(ui.editError, '');
    for (const input of [ui.editName, ui.editMeta, ui.editExpires, ...limitInputs(EDIT_LIMITS)]) {
      input.removeAttribute('aria-invalid');
    }
    const body = {};
    const name = ui.editName.value.trim();
    if (!name) return invalid(ui.editName, ui.editError, 'A key needs a name.');
    if (name !== key.name) body.name = name;
    const owner = ui.editOwner.value.trim() || null;
    if (owner !== (key.owner || null)) body.owner = owner;
    const scopes = parseScopes(ui.editScopes.value);
    if (!sameList(scopes, key.scopes || [])) body.scopes = scopes;
    const meta = parseMeta(ui.editMeta.value);
    if (meta.error) return invalid(ui.editMeta, ui.editError, meta.error);
    if (JSON.stringify(meta.value) !== JSON.stringify(key.meta || null)) body.meta = meta.value;
    if (ui.editExpires.value) {
      const at = new Date(ui.editExpires.value);
      if (Number.isNaN(at.getTime())) return invalid(ui.editExpires, ui.editError, 'Choose a date and time.');
      if (key.expires_at && at > new Date(key.expires_at)) {
        return invalid(ui.editExpires, ui.editError, 'The expiry can only move earlier than ' + localTime(new Date(key.expires_at)) + '.');
      }
      body.expires_at = at.toISOString();
    }
    const limits = readLimits(EDIT_LIMITS);
    if (limits.error) return invalid(limits.input, ui.editError, limits.error);
    if (!sameRate(limits.rate_limit, key.rate_limit || null)) body.rate_limit = limits.rate_limit;
    // A quota that is sent starts over from its `remaining`: send it only when it changed.
    if (!sameQuota(limits.quota, key.quota || null)) body.quota = limits.quota;
    if (Object.keys(body).length === 0) {
      setMessage(ui.editError, 'Nothing has changed.');
      return;
    }
    ui.editSave.disabled = true;
    try {
      const fresh = await api(keyUrl(key.id), { method: 'PATCH', body });
      state.editing = null;
      ui.edit.close();
      replaceRow(fresh);
      if (ui.details.open && ui.details.dataset.id === fresh.id) {
        fillDetails(fresh);
        ui.detailsStatus.textContent = 'Saved.';
        ui.detailsClose.focus();
        loadKeyAudit(fresh.id, true);
      }
    } catch (err) {
      if (err instanceof AuthError) {
        ui.edit.close();
        handleError(err, ui.editError);
      } else {
        showSaveError(err, ui.editError, EDIT_LIMITS);
        ui.editSave.disabled = false;
      }
    }
  }

  // ---------------------------------------------------------------- revoking

  function askRevoke(key, returnTo) {
    state.revoking = key;
    // From the details dialog, focus goes back there (see the dialogs' close handler).
    if (returnTo) state.returnFocus = returnTo;
    ui.revokeName.textContent = key.name;
    ui.revokeId.textContent = key.id;
    setMessage(ui.revokeError, '');
    ui.revokeConfirm.disabled = false;
    ui.revoke.showModal();
    ui.revokeCancel.focus();
  }

  async function confirmRevoke() {
    const key = state.revoking;
    if (!key) return;
    ui.revokeConfirm.disabled = true;
    try {
      const answer = await api(keyUrl(key.id) + '/revoke', { method: 'POST' });
      const fresh = await api(keyUrl(key.id));
      ui.revoke.close();
      const row = replaceRow(fresh);
      if (ui.details.open && ui.details.dataset.id === fresh.id) {
        fillDetails(fresh);
        ui.detailsClose.focus();
        loadKeyAudit(fresh.id, true);
      } else if (row) {
        row.querySelector('button').focus();
      }
      ui.listStatus.textContent = answer.detail + ' (' + fresh.name + ')';
    } catch (err) {
      if (err instanceof AuthError) {
        ui.revoke.close();
        handleError(err, ui.revokeError);
      } else {
        setMessage(ui.revokeError, err.message);
        ui.revokeConfirm.disabled = false;
      }
    } finally {
      state.revoking = null;
    }
  }

  // ---------------------------------------------------------------- wiring

  ui.signInForm.addEventListener('submit', signIn);
  ui.signOut.addEventListener('click', () => showSignIn(''));
  ui.issueForm.addEventListener('submit', issueKey);
  ui.issueQuotaEvery.addEventListener('change', () => syncRefill(ISSUE_LIMITS));
  ui.editQuotaEvery.addEventListener('change', () => syncRefill(EDIT_LIMITS));
  ui.copyKey.addEventListener('click', copyKey);
  ui.dismissKey.addEventListener('click', () => {
    hideNewKey();
    ui.issueName.focus();
  });
  ui.filterForm.addEventListener('submit', applyFilters);
  ui.clearFilters.addEventListener('click', clearFilters);
  ui.loadMore.addEventListener('click', loadMore);
  ui.detailsClose.addEventListener('click', () => ui.details.close());
  ui.detailsRevoke.addEventListener('click', () => state.detailed && askRevoke(state.detailed, null));
  ui.detailsRotate.addEventListener('click', () => state.detailed && askRotate(state.detailed));
  ui.detailsEdit.addEventListener('click', () => state.detailed && askEdit(state.detailed));
  ui.keyAuditMore.addEventListener('click', () => state.keyAudit.id && loadKeyAudit(state.keyAudit.id, false));
  ui.revokeCancel.addEventListener('click', () => ui.revoke.close());
  ui.revokeConfirm.addEventListener('click', confirmRevoke);
  ui.rotateForm.addEventListener('submit', confirmRotate);
  ui.rotateForm.addEventListener('change', describeGrace);
  ui.rotateSeconds.addEventListener('input', describeGrace);
  ui.rotateCancel.addEventListener('click', () => ui.rotate.close());
  ui.editForm.addEventListener('submit', saveEdit);
  ui.editCancel.addEventListener('click', () => ui.edit.close());
  ui.tabKeys.addEventListener('click', () => showView('keys', true));
  ui.tabAudit.addEventListener('click', () => showView('audit', true));
  ui.auditForm.addEventListener('submit', applyAuditFilters);
  ui.auditClear.addEventListener('click', clearAuditFilters);
  ui.auditMore.addEventListener('click', () => loadAudit(false));
  for (const dialog of DIALOGS) {
    dialog.addEventListener('close', () => {
      if (dialog === ui.revoke) state.revoking = null;
      if (dialog === ui.rotate) state.rotating = null;
      if (dialog === ui.edit) state.editing = null;
      if (dialog === ui.details) {
        state.detailed = null;
        state.keyAudit.generation += 1;
      }
      // Back to the details' own buttons when a dialog stacked on them closes.
      if (ui.details.open) {
        if (dialog !== ui.details) ui.detailsClose.focus();
        return;
      }
      const target = state.returnFocus;
      if (target && target.isConnected && !DIALOGS.some((d) => d.open)) target.focus();
    });
  }

  $('boot').remove();
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (state.token) {
    showApp();
    loadKeys();
  } else {
    showSignIn('');
  }
})();
