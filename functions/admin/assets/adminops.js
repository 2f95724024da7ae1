// The rotate and revoke dialogs of an admin credential: a confirmation each, then the list
// reloaded. A rotation shows the new secret once; a refused revoke shows the API's reason,
// such as the 409 that keeps the last admin credential from locking everyone out.
import { adminButton, loadAdmins, showNewAdmin } from './admins.js';
import { AuthError, adminUrl, api } from './client.js';
import { setMessage, show } from './dom.js';
import { isMe } from './roles.js';
import { handleError, keepToken, showSignIn } from './session.js';
import { state } from './state.js';
import { ui } from './ui.js';

export function askAdminRotate(admin, opener) {
  state.adminRotating = admin;
  state.returnFocus = opener;
  ui.adminRotateName.textContent = admin.name;
  ui.adminRotateId.textContent = admin.id;
  show(ui.adminRotateSelf, isMe(admin.id));
  setMessage(ui.adminRotateError, '');
  ui.adminRotateConfirm.disabled = false;
  ui.adminRotate.showModal();
  ui.adminRotateCancel.focus();
}

export async function confirmAdminRotate() {
  const admin = state.adminRotating;
  if (!admin) return;
  ui.adminRotateConfirm.disabled = true;
  try {
    const rotated = await api(adminUrl(admin.id) + '/rotate', { method: 'POST' });
    // Rotating one's own credential: the old secret no longer works, go on with the new one.
    if (isMe(admin.id)) keepToken(rotated.key, rotated.id);
    state.returnFocus = null;
    ui.adminRotate.close();
    showNewAdmin(rotated, admin.id);
    await loadAdmins([rotated, { ...admin, status: 'revoked' }]);
  } catch (err) {
    if (err instanceof AuthError) {
      ui.adminRotate.close();
      handleError(err, ui.adminRotateError);
    } else {
      setMessage(ui.adminRotateError, err.message);
      ui.adminRotateConfirm.disabled = false;
    }
  }
}

export function askAdminRevoke(admin, opener) {
  state.adminRevoking = admin;
  state.returnFocus = opener;
  ui.adminRevokeName.textContent = admin.name;
  ui.adminRevokeId.textContent = admin.id;
  show(ui.adminRevokeSelf, isMe(admin.id));
  setMessage(ui.adminRevokeError, '');
  ui.adminRevokeConfirm.disabled = false;
  ui.adminRevoke.showModal();
  ui.adminRevokeCancel.focus();
}

export async function confirmAdminRevoke() {
  const admin = state.adminRevoking;
  if (!admin) return;
  ui.adminRevokeConfirm.disabled = true;
  try {
    const answer = await api(adminUrl(admin.id) + '/revoke', { method: 'POST' });
    if (isMe(admin.id)) {
      showSignIn('You revoked the admin credential you were signed in with.');
      return;
    }
    state.returnFocus = null;
    ui.adminRevoke.close();
    await loadAdmins([{ ...admin, status: 'revoked' }]);
    ui.adminsStatus.textContent = answer.detail + ' (' + admin.name + ', ' + admin.id + ')';
    const next = adminButton(admin.id);
    if (next) next.focus();
    else ui.adminsStatus.focus();
  } catch (err) {
    if (err instanceof AuthError) {
      ui.adminRevoke.close();
      handleError(err, ui.adminRevokeError);
    } else {
      // 409: the last active admin credential, with no bootstrap token to fall back on.
      setMessage(ui.adminRevokeError, err.message);
      ui.adminRevokeConfirm.disabled = false;
    }
  }
}
