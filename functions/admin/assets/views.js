// The five views, Keys, Identities, Audit log, Usage and Admins, and the tabs between them. `null`
// shows none of them (a role that may read nothing).
import { loadAdmins } from './admins.js';
import { loadAudit } from './audit.js';
import { show } from './dom.js';
import { loadIdentities } from './identities.js';
import { loadIdentityChoices } from './identitypick.js';
import { can } from './roles.js';
import { state } from './state.js';
import { ui } from './ui.js';
import { USAGE, showUsage } from './usage.js';

// Where a message about the view on screen goes.
export function activeStatus() {
  if (!ui.auditView.hidden) return ui.auditStatus;
  if (!ui.identitiesView.hidden) return ui.identitiesStatus;
  // A key opened from the Usage tab's lists reports there.
  if (!ui.usageView.hidden) return ui.usageStatus;
  return ui.listStatus;
}

export function showView(name, focus) {
  for (const [view, tab, panel] of [
    ['keys', ui.tabKeys, ui.keysView],
    ['identities', ui.tabIdentities, ui.identitiesView],
    ['audit', ui.tabAudit, ui.auditView],
    ['usage', ui.tabUsage, ui.usageView],
    ['admins', ui.tabAdmins, ui.adminsView],
  ]) {
    show(panel, view === name);
    tab.setAttribute('aria-current', view === name ? 'page' : 'false');
  }
  // The identities the issue form offers, and whose names a key's details show.
  if (name === 'keys' && state.token && can('read')) loadIdentityChoices();
  if (name === 'identities' && state.token) loadIdentities();
  if (name === 'audit' && state.token) loadAudit(true);
  if (name === 'usage' && state.token) showUsage(USAGE.overview, {});
  if (name === 'admins' && state.token) loadAdmins();
  if (!focus) return;
  if (name === 'audit') ui.auditAction.focus();
  else if (name === 'admins') ui.adminName.focus();
  else if (name === 'usage') ui.usageTitle.focus();
  else if (name === 'identities') (can('operate') ? ui.identityExternalId : ui.identitySearch).focus();
  else (can('operate') ? ui.issueName : ui.search).focus();
}
