// Keygate admin page: the entry module, which wires the page's elements to the other
// modules and starts it. Plain ES modules, no build step: the admin function serves each
// file as it is (see `ASSETS` in functions/admin/src/lib.rs), and `config.js` is generated
// there from the Rust constants the page shares with the API.
//
//   client.js   the admin API: fetch, errors, URLs          state.js   what the page remembers
//   dom.js      building elements, messages, copying        ui.js      the page's elements
//   format.js   times, counts, limits, actors as text       fields.js  the key form fields
//   session.js  signing in (GET api/me) and out             roles.js   who is signed in, and
//   views.js    the Keys, Identities, Audit log, Usage and   what their role may do
//               Admins tabs
//   keys.js     the key list                                issue.js   issuing, the new key
//   details.js  one key's details and history               edit.js    the edit dialog
//   rotate.js   the rotate dialog                           revoke.js  the revoke dialog
//   audit.js    the audit log                               admins.js  admin credentials: the
//   adminops.js rotating or revoking one admin credential              list, creating one, a
//                                                                      new secret shown once
//   identities.js    the Identities view: the list, search, paging, creating one
//   identity.js      one identity's details and keys, and the links that open them
//   identityops.js   suspending, resuming or deleting one identity
//   identitypick.js  the issue form's identity choice; the external ids the page has read
//   usage.js         usage charts: a key's, an identity's and the deployment's verifications
//                    by outcome (drawn by uplot.iife.min.js, vendored, MIT)
//   limitrows.js     the new identity form's rows of named limits
//
// The feature modules call one another (the list opens the details, a 401 anywhere signs
// out, ...), so some imports go both ways. That is safe because no module runs anything at
// load time beyond declaring its functions and constants and looking up elements: every
// call between modules happens in an event, after this module has run.
//
// Safety rules kept throughout: every piece of data reaches the page through textContent,
// an input's value or an attribute, never as HTML (the CSP's Trusted Types rule makes any
// HTML sink throw anyway); the admin credential lives in sessionStorage only and travels only
// as an Authorization header to this page's own API (relative URLs, same origin, no
// cookies). The page offers only what the signed-in role may do; the API checks it anyway.

import { confirmAdminRevoke, confirmAdminRotate } from './adminops.js';
import { copyAdmin, createAdmin, hideNewAdmin } from './admins.js';
import { applyAuditFilters, clearAuditFilters, loadAudit } from './audit.js';
import { loadKeyAudit } from './details.js';
import { $ } from './dom.js';
import { askEdit, saveEdit } from './edit.js';
import { syncRefill } from './fields.js';
import { applyIdentityFilter, clearIdentityFilter, createIdentity, loadMoreIdentities } from './identities.js';
import { askIdentityAction, confirmIdentityAction } from './identityops.js';
import { syncIdentityPick } from './identitypick.js';
import { copyKey, hideNewKey, issueKey } from './issue.js';
import { applyFilters, clearFilters, loadMore } from './keys.js';
import { addLimitRow } from './limitrows.js';
import { askRevoke, confirmRevoke } from './revoke.js';
import { askRotate, confirmRotate, describeGrace, showGraceRange } from './rotate.js';
import { resume, showSignIn, signIn } from './session.js';
import { state } from './state.js';
import { DIALOGS, EDIT_LIMITS, IDENTITY_QUOTA, ISSUE_LIMITS, ui } from './ui.js';
import { USAGE, clearUsage } from './usage.js';
import { showView } from './views.js';

ui.signInForm.addEventListener('submit', signIn);
ui.signOut.addEventListener('click', () => showSignIn(''));
ui.issueForm.addEventListener('submit', issueKey);
ui.issueQuotaEvery.addEventListener('change', () => syncRefill(ISSUE_LIMITS));
ui.issueIdentity.addEventListener('change', () => {
  syncIdentityPick();
  if (!ui.issueIdentityOther.hidden) ui.issueIdentityId.focus();
});
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
ui.tabUsage.addEventListener('click', () => showView('usage', true));
ui.auditForm.addEventListener('submit', applyAuditFilters);
ui.auditClear.addEventListener('click', clearAuditFilters);
ui.auditMore.addEventListener('click', () => loadAudit(false));
ui.tabAdmins.addEventListener('click', () => showView('admins', true));
ui.tabIdentities.addEventListener('click', () => showView('identities', true));
ui.identityForm.addEventListener('submit', createIdentity);
ui.identityAddLimit.addEventListener('click', () => addLimitRow(ui.identityLimitRows, ui.identityAddLimit));
ui.identityQuotaEvery.addEventListener('change', () => syncRefill(IDENTITY_QUOTA));
ui.identityFilterForm.addEventListener('submit', applyIdentityFilter);
ui.identityClear.addEventListener('click', clearIdentityFilter);
ui.identitiesMore.addEventListener('click', loadMoreIdentities);
ui.identityClose.addEventListener('click', () => ui.identity.close());
ui.identitySuspend.addEventListener('click', () => askIdentityAction('suspend'));
ui.identityResume.addEventListener('click', () => askIdentityAction('resume'));
ui.identityDelete.addEventListener('click', () => askIdentityAction('delete'));
ui.identityActionCancel.addEventListener('click', () => ui.identityAction.close());
ui.identityActionConfirm.addEventListener('click', confirmIdentityAction);
ui.adminForm.addEventListener('submit', createAdmin);
ui.copyAdmin.addEventListener('click', copyAdmin);
ui.dismissAdmin.addEventListener('click', () => {
  hideNewAdmin();
  ui.adminName.focus();
});
ui.adminRotateCancel.addEventListener('click', () => ui.adminRotate.close());
ui.adminRotateConfirm.addEventListener('click', confirmAdminRotate);
ui.adminRevokeCancel.addEventListener('click', () => ui.adminRevoke.close());
ui.adminRevokeConfirm.addEventListener('click', confirmAdminRevoke);
for (const dialog of DIALOGS) {
  dialog.addEventListener('close', () => {
    if (dialog === ui.revoke) state.revoking = null;
    if (dialog === ui.rotate) state.rotating = null;
    if (dialog === ui.edit) state.editing = null;
    if (dialog === ui.adminRotate) state.adminRotating = null;
    if (dialog === ui.adminRevoke) state.adminRevoking = null;
    if (dialog === ui.identityAction) state.identityAction = null;
    if (dialog === ui.details) {
      state.detailed = null;
      state.keyAudit.generation += 1;
      clearUsage(USAGE.key);
    }
    if (dialog === ui.identity) {
      state.identity = null;
      state.identityGeneration += 1;
      clearUsage(USAGE.identity);
    }
    // Back to the details' own buttons when a dialog stacked on them closes.
    if (ui.details.open) {
      if (dialog !== ui.details) ui.detailsClose.focus();
      return;
    }
    if (ui.identity.open) {
      if (dialog !== ui.identity) ui.identityClose.focus();
      return;
    }
    const target = state.returnFocus;
    if (target && target.isConnected && !DIALOGS.some((d) => d.open)) target.focus();
  });
}

showGraceRange();
$('boot').remove();
resume();
