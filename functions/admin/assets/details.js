// The details dialog: one key's full record, links between a rotated key and its
// replacement, its usage chart (usage.js) and the key's own history.
import { api, auditUrl, keyUrl } from './client.js';
import { eventItem } from './audit.js';
import { el, show } from './dom.js';
import { badge, quotaDetail, rateDetail, scopeList, time } from './format.js';
import { identityLink } from './identity.js';
import { identityName } from './identitypick.js';
import { replaceRow } from './keys.js';
import { can } from './roles.js';
import { handleError } from './session.js';
import { state } from './state.js';
import { ui } from './ui.js';
import { USAGE, showUsage } from './usage.js';
import { activeStatus } from './views.js';

const KEY_AUDIT_PAGE_SIZE = 10;

export async function openDetails(id, opener) {
  if (opener) state.returnFocus = opener;
  try {
    const key = await api(keyUrl(id));
    replaceRow(key);
    fillDetails(key);
    if (!ui.details.open) ui.details.showModal();
    ui.detailsClose.focus();
    showUsage(USAGE.key, { key_id: key.id });
    loadKeyAudit(key.id, true);
  } catch (err) {
    handleError(err, ui.details.open ? ui.detailsStatus : activeStatus());
  }
}

// A button that opens another key's details in the same dialog (rotation links).
export function keyLink(id, label) {
  const button = el('button', { type: 'button', class: 'link', 'aria-label': label + ' ' + id }, [
    el('code', { text: id }),
  ]);
  button.addEventListener('click', () => openDetails(id, null));
  return button;
}

// The key's named limits besides `default` (which the row above shows as the rate limit):
// "per_second: 10 requests per 1 second", one per line. The edit form changes `default`
// only; the API's `limits` changes the others.
function namedLimits(limits) {
  const others = limits.filter((l) => l.name !== 'default');
  if (others.length === 0) return el('span', { class: 'muted', text: 'none' });
  return el('ul', { class: 'named-limits' }, others.map((l) => el('li', { text: l.name + ': ' + rateDetail(l) })));
}

// The identity the key belongs to: its id, which opens it, after its external id when the
// page has read it already (the Identities view, or the issue form's choices).
function identityCell(id) {
  if (!id) return el('span', { class: 'muted', text: 'none' });
  const name = identityName(id);
  return el('span', { class: 'identity-ref' }, [
    ...(name ? [el('span', { class: 'name', text: name }), ' '] : []),
    identityLink(id, 'Details of the identity'),
  ]);
}

export function fillDetails(key) {
  const rows = [
    ['Name', el('span', { class: 'name', text: key.name })],
    ['Owner', key.owner ? el('span', { class: 'name', text: key.owner }) : el('span', { class: 'muted', text: 'none' })],
    ['Identity', identityCell(key.identity_id)],
    ['ID', el('code', { text: key.id })],
    ['Prefix', el('code', { text: key.prefix })],
    ['Status', badge(key.status)],
    ['Scopes', scopeList(key.scopes, 0)],
    ['Rate limit', el('span', key.rate_limit ? { text: rateDetail(key.rate_limit) } : { class: 'muted', text: 'none' })],
    ['Other limits', namedLimits(key.limits || [])],
    ['Quota', el('span', key.quota ? { text: quotaDetail(key.quota) } : { class: 'muted', text: 'none' })],
    ['Self-rotation', el('span', key.self_rotation ? { text: 'allowed' } : { class: 'muted', text: 'not allowed' })],
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
  // Changing a key needs the operate role. Only an active key that has not been rotated yet
  // can be rotated (the API answers 409 or 403 otherwise); an ended key has nothing left to
  // edit.
  const operates = can('operate');
  show(ui.detailsRevoke, operates && key.status !== 'revoked');
  show(ui.detailsRotate, operates && key.status === 'active' && !key.rotated_to);
  show(ui.detailsEdit, operates && key.status === 'active');
}

export async function loadKeyAudit(id, fresh) {
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
