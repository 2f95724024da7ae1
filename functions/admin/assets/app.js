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
    issueExpires: $('issue-expires'),
    issueError: $('issue-error'),
    newKey: $('new-key'),
    newKeyName: $('new-key-name'),
    newKeyValue: $('new-key-value'),
    copyKey: $('copy-key'),
    copyStatus: $('copy-status'),
    dismissKey: $('dismiss-key'),
    filterForm: $('filter-form'),
    search: $('search'),
    status: $('status'),
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
    detailsRevoke: $('details-revoke'),
    detailsClose: $('details-close'),
    revoke: $('revoke-dialog'),
    revokeName: $('revoke-name'),
    revokeId: $('revoke-id'),
    revokeError: $('revoke-error'),
    revokeCancel: $('revoke-cancel'),
    revokeConfirm: $('revoke-confirm'),
  };

  const state = {
    token: null,
    // Filters of the list on screen, and where its next page starts.
    filters: { q: '', status: '' },
    cursor: null,
    // Bumped on every fresh load, so that a slow answer to an older one is dropped.
    generation: 0,
    // The key the revoke dialog is about, and the button to return focus to.
    revoking: null,
    returnFocus: null,
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
    if (cursor) params.set('cursor', cursor);
    return 'api/keys?' + params.toString();
  }

  const keyUrl = (id) => 'api/keys/' + encodeURIComponent(id);

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
    ui.filterForm.reset();
    state.filters = { q: '', status: '' };
    state.cursor = null;
    state.generation += 1;
    ui.body.replaceChildren();
    setMessage(ui.issueError, '');
    ui.listStatus.textContent = '';
    show(ui.empty, false);
    show(ui.loadMore, false);
    if (ui.details.open) ui.details.close();
    if (ui.revoke.open) ui.revoke.close();
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

  const COLUMNS = ['Name', 'ID', 'Prefix', 'Status', 'Created', 'Expires', 'Revoked at', ''];

  function keyRow(key) {
    const cells = [
      el('span', { class: 'name', text: key.name }),
      el('code', { text: key.id }),
      el('code', { text: key.prefix }),
      badge(key.status),
      time(key.created_at, '—'),
      time(key.expires_at, 'never'),
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
    const filtered = Boolean(state.filters.q || state.filters.status);
    if (count === 0 && !state.cursor) {
      ui.emptyTitle.textContent = filtered ? 'No keys match.' : 'No keys yet.';
      ui.emptyText.textContent = filtered
        ? 'Try another name or prefix, or clear the filters.'
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
    state.filters = { q: ui.search.value.trim(), status: ui.status.value };
    loadKeys();
  }

  function clearFilters() {
    ui.filterForm.reset();
    state.filters = { q: '', status: '' };
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
    ui.issueName.removeAttribute('aria-invalid');
    ui.issueExpires.removeAttribute('aria-invalid');
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
    const button = ui.issueForm.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const issued = await api('api/keys', { method: 'POST', body });
      ui.issueForm.reset();
      showNewKey(issued);
      await loadKeys();
      // The list reads an index that DynamoDB updates a moment after the write: make sure
      // the new key is there even if this read came too early.
      const unfiltered = !state.filters.q && !state.filters.status;
      if (unfiltered && !ui.body.querySelector('tr[data-id="' + CSS.escape(issued.id) + '"]')) {
        const { key, ...view } = issued; // the row never holds the raw key
        ui.body.prepend(keyRow({ ...view, revoked_at: null }));
        show(ui.table, true);
        show(ui.empty, false);
      }
    } catch (err) {
      handleError(err, ui.issueError);
    } finally {
      button.disabled = false;
    }
  }

  function showNewKey(issued) {
    ui.newKeyName.textContent = issued.name;
    ui.newKeyValue.value = issued.key;
    ui.copyStatus.textContent = '';
    show(ui.newKey, true);
    ui.newKey.focus();
  }

  function hideNewKey() {
    ui.newKeyValue.value = '';
    ui.newKeyName.textContent = '';
    ui.copyStatus.textContent = '';
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
    state.returnFocus = opener;
    try {
      const key = await api(keyUrl(id));
      replaceRow(key);
      fillDetails(key);
      if (!ui.details.open) ui.details.showModal();
      ui.detailsClose.focus();
    } catch (err) {
      handleError(err, ui.listStatus);
    }
  }

  function fillDetails(key) {
    const rows = [
      ['Name', el('span', { class: 'name', text: key.name })],
      ['ID', el('code', { text: key.id })],
      ['Prefix', el('code', { text: key.prefix })],
      ['Status', badge(key.status)],
      ['Created', time(key.created_at, '—')],
      ['Expires', time(key.expires_at, 'never')],
      ['Revoked at', time(key.revoked_at, 'not revoked')],
    ];
    ui.detailsList.replaceChildren(
      ...rows.flatMap(([label, value]) => [el('dt', { text: label }), el('dd', null, [value])]),
    );
    ui.details.dataset.id = key.id;
    show(ui.detailsRevoke, key.status !== 'revoked');
    ui.detailsRevoke.onclick = () => askRevoke(key, ui.detailsClose);
  }

  // ---------------------------------------------------------------- revoking

  function askRevoke(key, returnTo) {
    state.revoking = key;
    state.returnFocus = returnTo;
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
  ui.copyKey.addEventListener('click', copyKey);
  ui.dismissKey.addEventListener('click', () => {
    hideNewKey();
    ui.issueName.focus();
  });
  ui.filterForm.addEventListener('submit', applyFilters);
  ui.clearFilters.addEventListener('click', clearFilters);
  ui.loadMore.addEventListener('click', loadMore);
  ui.detailsClose.addEventListener('click', () => ui.details.close());
  ui.revokeCancel.addEventListener('click', () => ui.revoke.close());
  ui.revokeConfirm.addEventListener('click', confirmRevoke);
  for (const dialog of [ui.details, ui.revoke]) {
    dialog.addEventListener('close', () => {
      if (dialog === ui.revoke) state.revoking = null;
      const target = state.returnFocus;
      if (target && target.isConnected && !ui.details.open && !ui.revoke.open) target.focus();
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
