// The identity details dialog: one identity's fields, its live quota, its limits, its keys'
// usage chart (usage.js) and its keys (each opens the key's details), with Suspend, Resume
// and Delete for the operate role (identityops.js); and the links that open it from a key's
// details and the audit log.
import { api, identityUrl } from './client.js';
import { openDetails } from './details.js';
import { el, show } from './dom.js';
import { badge, quotaDetail, rateDetail, time } from './format.js';
import { replaceIdentityRow } from './identities.js';
import { can } from './roles.js';
import { handleError } from './session.js';
import { state } from './state.js';
import { ui } from './ui.js';
import { USAGE, showUsage } from './usage.js';
import { activeStatus } from './views.js';

// The API lists an identity's newest keys, up to this many.
const KEYS_LISTED = 100;

export async function openIdentity(id, opener) {
  if (opener) state.returnFocus = opener;
  const generation = ++state.identityGeneration;
  try {
    const { keys, ...identity } = await api(identityUrl(id));
    if (generation !== state.identityGeneration) return;
    // The details read the live quota: the row shows it too from now on.
    replaceIdentityRow(identity);
    fillIdentity(identity, keys || []);
    if (!ui.identity.open) ui.identity.showModal();
    ui.identityClose.focus();
    showUsage(USAGE.identity, { identity_id: identity.id });
  } catch (err) {
    if (generation === state.identityGeneration) handleError(err, ui.identity.open ? ui.identityStatus : activeStatus());
  }
}

// A button that opens an identity's details. From a key's details, it takes that dialog's
// place (closing it returns to where the key's details were opened from).
export function identityLink(id, label) {
  const button = el('button', { type: 'button', class: 'link', 'aria-label': label + ' ' + id }, [el('code', { text: id })]);
  button.addEventListener('click', () => {
    const fromDetails = ui.details.open;
    if (fromDetails) ui.details.close();
    openIdentity(id, fromDetails ? null : button);
  });
  return button;
}

function limitList(limits) {
  if (!limits || limits.length === 0) return el('span', { class: 'muted', text: 'none' });
  return el('ul', { class: 'named-limits' }, limits.map((l) => el('li', { text: l.name + ': ' + rateDetail(l) })));
}

// One of its keys: the name opens the key's details, in place of this dialog.
function keyItem(key) {
  const open = el('button', { type: 'button', class: 'link name', 'aria-label': 'Details of the key ' + key.name, text: key.name });
  open.addEventListener('click', () => {
    ui.identity.close();
    openDetails(key.id, null);
  });
  return el('li', { class: 'identity-key', 'data-id': key.id }, [
    open,
    el('span', { class: 'id-cell' }, [el('code', { text: key.id }), el('code', { class: 'prefix', title: 'Prefix', text: key.prefix })]),
    badge(key.status),
  ]);
}

export function fillIdentity(identity, keys) {
  const rows = [
    ['External id', el('span', { class: 'name', text: identity.external_id })],
    ['ID', el('code', { text: identity.id })],
    ['Status', badge(identity.status)],
    ['Limits', limitList(identity.limits)],
    ['Quota', el('span', identity.quota ? { text: quotaDetail(identity.quota) } : { class: 'muted', text: 'none' })],
    ['Created', time(identity.created_at, '—')],
    ['Updated', time(identity.updated_at, '—')],
    ['Metadata', identity.meta ? el('pre', { class: 'meta', text: JSON.stringify(identity.meta, null, 2) }) : el('span', { class: 'muted', text: 'none' })],
  ];
  ui.identityList.replaceChildren(...rows.flatMap(([label, value]) => [el('dt', { text: label }), el('dd', null, [value])]));
  ui.identityKeys.replaceChildren(...keys.map(keyItem));
  ui.identityKeysStatus.textContent =
    keys.length === 0
      ? can('operate')
        ? 'No keys yet: choose this identity when you issue one.'
        : 'No keys yet.'
      : keys.length >= KEYS_LISTED
        ? 'Its newest ' + KEYS_LISTED + ' keys, newest first.'
        : keys.length + (keys.length === 1 ? ' key.' : ' keys, newest first.');
  ui.identity.dataset.id = identity.id;
  ui.identityStatus.textContent = '';
  state.identity = { ...identity, keys };
  // Changing an identity needs the operate role.
  const operates = can('operate');
  show(ui.identitySuspend, operates && identity.status === 'active');
  show(ui.identityResume, operates && identity.status === 'suspended');
  show(ui.identityDelete, operates);
}
