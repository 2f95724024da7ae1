// The revoke dialog: a confirmation, then the key's row and details updated in place.
import { AuthError, api, keyUrl } from './client.js';
import { fillDetails, loadKeyAudit } from './details.js';
import { setMessage } from './dom.js';
import { replaceRow } from './keys.js';
import { handleError } from './session.js';
import { state } from './state.js';
import { ui } from './ui.js';

export function askRevoke(key, returnTo) {
  state.revoking = key;
  // From the details dialog, focus goes back there (see the dialogs' close handler).
  if (returnTo) state.returnFocus = returnTo;
  ui.revokeName.textContent = key.name;
  ui.revokeId.textContent = key.id;
  setMessage(ui.revokeError, '');
  ui.revokeConfirm.disabled = false;
  ui.revoke.showModal();
  ui.revokeCancel.focus();
}

export async function confirmRevoke() {
  const key = state.revoking;
  if (!key) return;
  ui.revokeConfirm.disabled = true;
  try {
    const answer = await api(keyUrl(key.id) + '/revoke', { method: 'POST' });
    const fresh = await api(keyUrl(key.id));
    ui.revoke.close();
    const row = replaceRow(fresh);
    if (ui.details.open && ui.details.dataset.id === fresh.id) {
      fillDetails(fresh);
      ui.detailsClose.focus();
      loadKeyAudit(fresh.id, true);
    } else if (row) {
      row.querySelector('button').focus();
    }
    ui.listStatus.textContent = answer.detail + ' (' + fresh.name + ')';
  } catch (err) {
    if (err instanceof AuthError) {
      ui.revoke.close();
      handleError(err, ui.revokeError);
    } else {
      setMessage(ui.revokeError, err.message);
      ui.revokeConfirm.disabled = false;
    }
  } finally {
    state.revoking = null;
  }
}
