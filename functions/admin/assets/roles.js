// Who is signed in, and what the page offers them: each role includes the ones before it
// (verify < read < operate < admin), and the page shows only what the signed-in role may
// do. The API checks the role of every request anyway; this only keeps the page honest.
import { el, show } from './dom.js';
import { state } from './state.js';
import { ui } from './ui.js';
import { showView } from './views.js';

export const ROLES = ['verify', 'read', 'operate', 'admin'];

const rank = (role) => ROLES.indexOf(role);

// Whether the signed-in credential has this role or a higher one.
export function can(needed) {
  return Boolean(state.me) && rank(state.me.role) >= rank(needed);
}

// "Signed in as alice adm_… [admin]", or "Signed in with the bootstrap token [admin]".
function whoamiParts(me) {
  const actor = me.actor || {};
  const who =
    actor.type === 'admin'
      ? ['Signed in as ', el('strong', { class: 'whoami-name', text: actor.name }), ' ', el('code', { class: 'whoami-id', text: actor.id })]
      : actor.type === 'bootstrap'
        ? ['Signed in with the ', el('strong', { class: 'whoami-name', text: 'bootstrap token' })]
        : ['Signed in'];
  return [
    el('span', { class: 'whoami-who' }, who),
    ' ',
    el('span', { class: 'badge role role-' + me.role, title: 'Role', text: me.role }),
  ];
}

export function showWhoami() {
  const me = state.me;
  ui.whoami.replaceChildren(...(me ? whoamiParts(me) : []));
  show(ui.whoami, Boolean(me));
}

// After signing in (or resuming): who it is, and only the views and actions of its role.
export function applyRole() {
  const me = state.me;
  showWhoami();
  const reads = can('read');
  show(ui.tabs, reads);
  show(ui.tabAdmins, can('admin'));
  show(ui.issueCard, can('operate'));
  show(ui.identityCreateCard, can('operate'));
  show(ui.noAccess, Boolean(me) && !reads);
  ui.noAccessText.textContent = me && !reads
    ? 'This credential has the role ' + me.role + ', which may call the verify API only: it has no access to the keys, the identities, the audit log or the admin credentials shown on this page.'
    : '';
  showView(reads ? 'keys' : null, false);
}

// Where the keyboard starts once signed in: the first thing the role can do.
export function firstFocus() {
  if (!can('read')) ui.noAccessTitle.focus();
  else if (can('operate')) ui.issueName.focus();
  else ui.search.focus();
}

export function isMe(id) {
  return Boolean(state.me && state.me.actor && state.me.actor.id === id);
}
