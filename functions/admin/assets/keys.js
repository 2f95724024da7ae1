// The key list: its rows, paging and filters, and refreshing it after a change.
import { api, keysUrl } from './client.js';
import { openDetails } from './details.js';
import { el, invalid, show } from './dom.js';
import { badge, idCell, quotaDetail, quotaText, rateDetail, rateText, scopeList, time } from './format.js';
import { askRevoke } from './revoke.js';
import { can } from './roles.js';
import { handleError } from './session.js';
import { state } from './state.js';
import { ui } from './ui.js';

export const PAGE_SIZE = 25;

const COLUMNS = ['Name', 'ID and prefix', 'Status', 'Scopes', 'Limits', 'Created', 'Expires', 'Last used', 'Revoked at', ''];

function nameCell(key) {
  const cell = el('span', { class: 'name-cell' }, [el('span', { class: 'name', text: key.name })]);
  if (key.owner) cell.append(el('span', { class: 'owner', title: 'Owner', text: key.owner }));
  return cell;
}

function statusCell(key) {
  const cell = el('span', { class: 'status-cell' }, [badge(key.status)]);
  // Only the old key says so in the list (its end comes from the rotation); details link
  // both ways.
  if (key.rotated_to) cell.append(el('span', { class: 'hint', text: 'rotated' }));
  return cell;
}

function limitsCell(key) {
  // The rate limit (`default`), else the first other named limit; the details list them
  // all. (`default` is read from `rate_limit` only: the edit dialog updates that field.)
  const rate = key.rate_limit || (key.limits || []).find((l) => l.name !== 'default');
  if (!rate && !key.quota) return el('span', { class: 'muted', text: '—' });
  const cell = el('span', { class: 'limits' });
  if (rate) {
    // It may break after the slash, never inside either half.
    const [requests, per] = rateText(rate).split(' / ');
    cell.append(
      el('span', { class: 'rate', title: rateDetail(rate) }, [
        el('span', { class: 'nowrap', text: requests + ' /' }),
        ' ',
        el('span', { class: 'nowrap', text: per }),
      ]),
    );
  }
  if (key.quota) cell.append(el('span', { class: 'quota', title: quotaDetail(key.quota), text: quotaText(key.quota) }));
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
  // Revoking needs the operate role: a reader sees no button for it.
  if (key.status !== 'revoked' && can('operate')) {
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

export function renderPage(page, fresh) {
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
      : can('operate')
        ? 'Issue the first one with the form above.'
        : 'None has been issued yet.';
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

export async function loadKeys() {
  const generation = ++state.generation;
  ui.listStatus.textContent = 'Loading…';
  try {
    const page = await api(keysUrl(null, PAGE_SIZE));
    if (generation === state.generation) renderPage(page, true);
  } catch (err) {
    if (generation === state.generation) handleError(err, ui.listStatus);
  }
}

export async function loadMore() {
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

export function applyFilters(event) {
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

export function clearFilters() {
  ui.filterForm.reset();
  ui.unusedDays.removeAttribute('aria-invalid');
  state.filters = { q: '', status: '', unused_days: '' };
  loadKeys();
  ui.search.focus();
}

// Puts a fresh view of one key in place of its row, wherever it is in the list.
export function replaceRow(key) {
  const old = ui.body.querySelector('tr[data-id="' + CSS.escape(key.id) + '"]');
  if (!old) return null;
  const row = keyRow(key);
  old.replaceWith(row);
  return row;
}

// Reloads the list, making sure a just-written key is in it: the list reads an index that
// DynamoDB updates a moment after the write, so this read may come too early.
export async function refreshWith(issued) {
  await loadKeys();
  const unfiltered = !state.filters.q && !state.filters.status && !state.filters.unused_days;
  if (unfiltered && !ui.body.querySelector('tr[data-id="' + CSS.escape(issued.id) + '"]')) {
    const { key, old_key, warning, ...view } = issued; // the row never holds the raw key
    ui.body.prepend(keyRow(view));
    show(ui.table, true);
    show(ui.empty, false);
  }
}
