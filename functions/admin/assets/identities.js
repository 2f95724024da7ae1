// The Identities view: the identities (the customers behind keys), newest first, found by
// external id, with Load more; and the new identity form (external id, metadata, named
// limits shared by its keys, and a quota).
import { AuthError, api, identitiesUrl } from './client.js';
import { el, invalid, setMessage, show } from './dom.js';
import { parseMeta, readQuota, showSaveError, syncRefill } from './fields.js';
import { badge, limitText, quotaDetail, quotaLeft, rateDetail, time } from './format.js';
import { openIdentity } from './identity.js';
import { offerIdentity, remember } from './identitypick.js';
import { clearLimitRows, markLimitError, readLimitRows } from './limitrows.js';
import { can } from './roles.js';
import { handleError } from './session.js';
import { state } from './state.js';
import { IDENTITY_QUOTA, ui } from './ui.js';

const PAGE_SIZE = 25;

const COLUMNS = ['External id', 'ID', 'Status', 'Limits', 'Quota', 'Created', ''];

// The first limit, and how many more (hover for all; the details list them).
function limitsCell(identity) {
  const limits = identity.limits || [];
  if (limits.length === 0) return el('span', { class: 'muted', text: 'none' });
  const cell = el('span', { class: 'limits', title: limits.map((l) => l.name + ': ' + rateDetail(l)).join('\n') }, [
    el('span', { class: 'rate', text: limitText(limits[0]) }),
  ]);
  if (limits.length > 1) cell.append(el('span', { class: 'muted more-count', text: '+' + (limits.length - 1) + ' more' }));
  return cell;
}

// The list's count is the stored one, up to a minute behind; the details show the live one.
function quotaCell(identity) {
  if (!identity.quota) return el('span', { class: 'muted', text: 'none' });
  return el('span', { class: 'quota', title: quotaDetail(identity.quota), text: quotaLeft(identity.quota) });
}

function identityRow(identity) {
  remember(identity);
  const details = el('button', {
    type: 'button',
    class: 'button small',
    text: 'Details',
    'aria-label': 'Details of ' + identity.external_id,
  });
  details.addEventListener('click', () => openIdentity(identity.id, details));
  const cells = [
    el('span', { class: 'name', text: identity.external_id }),
    el('code', { text: identity.id }),
    badge(identity.status),
    limitsCell(identity),
    quotaCell(identity),
    time(identity.created_at, '—'),
    el('div', { class: 'button-row' }, [details]),
  ];
  const row = el('tr', { 'data-id': identity.id });
  cells.forEach((content, i) => {
    const cell = el(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : null, [content]);
    if (COLUMNS[i]) cell.dataset.label = COLUMNS[i];
    else cell.className = 'row-actions';
    row.append(cell);
  });
  return row;
}

function renderIdentities(page, fresh) {
  if (fresh) ui.identitiesBody.replaceChildren();
  for (const identity of page.identities) ui.identitiesBody.append(identityRow(identity));
  state.identities.cursor = page.next_cursor || null;
  show(ui.identitiesMore, Boolean(state.identities.cursor));
  showCount();
}

// The table, or why it is empty, and how many rows it shows.
function showCount() {
  const count = ui.identitiesBody.rows.length;
  const more = Boolean(state.identities.cursor);
  show(ui.identitiesTable, count > 0);
  if (count === 0 && !more) {
    const filtered = Boolean(state.identities.q);
    ui.identitiesEmptyTitle.textContent = filtered ? 'No identities match.' : 'No identities yet.';
    ui.identitiesEmptyText.textContent = filtered
      ? 'Try another external id, or clear the search.'
      : can('operate')
        ? 'Create the first one with the form above.'
        : 'None has been created yet.';
  } else if (count === 0) {
    // The store reads a bounded number of identities per request when searching.
    ui.identitiesEmptyTitle.textContent = 'No matches among the identities searched so far.';
    ui.identitiesEmptyText.textContent = 'Older identities remain: use Load more to keep searching.';
  }
  show(ui.identitiesEmpty, count === 0);
  ui.identitiesStatus.textContent =
    count === 0 ? '' : count + (count === 1 ? ' identity' : ' identities') + ' shown' + (more ? ', more available.' : '.');
}

export async function loadIdentities() {
  const generation = ++state.identities.generation;
  ui.identitiesStatus.textContent = 'Loading…';
  try {
    const page = await api(identitiesUrl({ q: state.identities.q, limit: PAGE_SIZE }));
    if (generation === state.identities.generation) renderIdentities(page, true);
  } catch (err) {
    if (generation === state.identities.generation) handleError(err, ui.identitiesStatus);
  }
}

export async function loadMoreIdentities() {
  const generation = state.identities.generation;
  ui.identitiesMore.disabled = true;
  try {
    const page = await api(identitiesUrl({ q: state.identities.q, cursor: state.identities.cursor, limit: PAGE_SIZE }));
    if (generation === state.identities.generation) {
      const first = ui.identitiesBody.rows.length;
      renderIdentities(page, false);
      // Keep keyboard users where the new rows start.
      const button = ui.identitiesBody.rows[first] && ui.identitiesBody.rows[first].querySelector('button');
      if (button) button.focus();
    }
  } catch (err) {
    handleError(err, ui.identitiesStatus);
  } finally {
    ui.identitiesMore.disabled = false;
  }
}

export function applyIdentityFilter(event) {
  event.preventDefault();
  state.identities.q = ui.identitySearch.value.trim();
  loadIdentities();
}

export function clearIdentityFilter() {
  ui.identityFilterForm.reset();
  state.identities.q = '';
  loadIdentities();
  ui.identitySearch.focus();
}

// Puts a fresh view of one identity in place of its row, wherever it is in the list.
export function replaceIdentityRow(identity) {
  remember(identity);
  const old = ui.identitiesBody.querySelector('tr[data-id="' + CSS.escape(identity.id) + '"]');
  if (old) old.replaceWith(identityRow(identity));
}

export function removeIdentityRow(id) {
  const row = ui.identitiesBody.querySelector('tr[data-id="' + CSS.escape(id) + '"]');
  if (!row) return;
  row.remove();
  showCount();
}

// Reloads the list, making sure a just-created identity is in it: the list reads an index
// that DynamoDB updates a moment after the write, so this read may come too early.
async function refreshWith(created) {
  await loadIdentities();
  if (!state.identities.q && !ui.identitiesBody.querySelector('tr[data-id="' + CSS.escape(created.id) + '"]')) {
    ui.identitiesBody.prepend(identityRow(created));
    showCount();
  }
}

function formInputs() {
  return [...ui.identityForm.querySelectorAll('input, textarea, select')];
}

export async function createIdentity(event) {
  event.preventDefault();
  setMessage(ui.identityCreateError, '');
  ui.identityCreated.textContent = '';
  for (const input of formInputs()) input.removeAttribute('aria-invalid');
  // The API checks the external id (blank, too long, already taken) and says why.
  const body = { external_id: ui.identityExternalId.value.trim() };
  const meta = parseMeta(ui.identityMeta.value);
  if (meta.error) return invalid(ui.identityMeta, ui.identityCreateError, meta.error);
  if (meta.value) body.meta = meta.value;
  const limits = readLimitRows(ui.identityLimitRows);
  if (limits.error) return invalid(limits.input, ui.identityCreateError, limits.error);
  if (limits.limits.length) body.limits = limits.limits;
  const quota = readQuota(IDENTITY_QUOTA);
  if (quota.error) return invalid(quota.input, ui.identityCreateError, quota.error);
  if (quota.quota) body.quota = quota.quota;
  const button = ui.identityForm.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const created = await api('api/identities', { method: 'POST', body });
    ui.identityForm.reset();
    clearLimitRows(ui.identityLimitRows);
    syncRefill(IDENTITY_QUOTA);
    ui.identityCreated.textContent = 'Created the identity ' + created.external_id + ' (' + created.id + ').';
    offerIdentity(created);
    await refreshWith(created);
  } catch (err) {
    const box = ui.identityCreateError;
    if (err instanceof AuthError) handleError(err, box);
    else if (/`external_id`/.test(err.message)) invalid(ui.identityExternalId, box, err.message);
    else if (/`meta`/.test(err.message)) invalid(ui.identityMeta, box, err.message);
    else if (!markLimitError(err.message, limits.rows, box)) showSaveError(err, box, IDENTITY_QUOTA);
  } finally {
    button.disabled = false;
  }
}

// Forgets the view on signing out.
export function resetIdentities() {
  ui.identityForm.reset();
  clearLimitRows(ui.identityLimitRows);
  syncRefill(IDENTITY_QUOTA);
  ui.identityFilterForm.reset();
  setMessage(ui.identityCreateError, '');
  ui.identityCreated.textContent = '';
  state.identities = { q: '', cursor: null, generation: state.identities.generation + 1 };
  ui.identitiesBody.replaceChildren();
  ui.identitiesStatus.textContent = '';
  show(ui.identitiesEmpty, false);
  show(ui.identitiesMore, false);
}
