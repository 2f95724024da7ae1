// The three views, Keys, Audit log and Admins, and the tabs between them. `null` shows none
// of them (a role that may read nothing).
import { loadAdmins } from './admins.js';
import { loadAudit } from './audit.js';
import { show } from './dom.js';
import { can } from './roles.js';
import { state } from './state.js';
import { ui } from './ui.js';

export function activeStatus() {
  return ui.auditView.hidden ? ui.listStatus : ui.auditStatus;
}

export function showView(name, focus) {
  for (const [view, tab, panel] of [
    ['keys', ui.tabKeys, ui.keysView],
    ['audit', ui.tabAudit, ui.auditView],
    ['admins', ui.tabAdmins, ui.adminsView],
  ]) {
    show(panel, view === name);
    tab.setAttribute('aria-current', view === name ? 'page' : 'false');
  }
  if (name === 'audit' && state.token) loadAudit(true);
  if (name === 'admins' && state.token) loadAdmins();
  if (!focus) return;
  if (name === 'audit') ui.auditAction.focus();
  else if (name === 'admins') ui.adminName.focus();
  else (can('operate') ? ui.issueName : ui.search).focus();
}
