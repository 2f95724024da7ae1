// The two views, Keys and Audit log, and the tabs between them.
import { loadAudit } from './audit.js';
import { show } from './dom.js';
import { state } from './state.js';
import { ui } from './ui.js';

export function activeStatus() {
  return ui.auditView.hidden ? ui.listStatus : ui.auditStatus;
}

export function showView(name, focus) {
  const audit = name === 'audit';
  show(ui.keysView, !audit);
  show(ui.auditView, audit);
  ui.tabKeys.setAttribute('aria-current', audit ? 'false' : 'page');
  ui.tabAudit.setAttribute('aria-current', audit ? 'page' : 'false');
  if (audit && state.token) loadAudit(true);
  if (focus) (audit ? ui.auditAction : ui.issueName).focus();
}
