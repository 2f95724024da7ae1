// The suspend, resume and delete dialog of an identity: a confirmation, then the identity's
// details and row updated in place, or, once it is deleted, gone. A refused delete shows the
// API's reason: an identity that still has active keys cannot be deleted.
import { AuthError, api, identityUrl } from './client.js';
import { el, setMessage } from './dom.js';
import { removeIdentityRow, replaceIdentityRow } from './identities.js';
import { fillIdentity } from './identity.js';
import { forget, offerIdentity } from './identitypick.js';
import { handleError } from './session.js';
import { state } from './state.js';
import { ui } from './ui.js';
import { activeStatus } from './views.js';

// Each action's question, what it does (around the identity's name and id), its button,
// and what the details say once it is done.
const ACTIONS = {
  suspend: {
    title: 'Suspend this identity?',
    text: (name, id) => [
      'Every key of ', name, ' (', id, ') will be refused from the moment you confirm, until you resume it. Its keys are not revoked.',
    ],
    confirm: 'Suspend identity',
    danger: true,
    done: 'Suspended: its keys are refused until it is resumed.',
  },
  resume: {
    title: 'Resume this identity?',
    text: (name, id) => ['The active keys of ', name, ' (', id, ') will work again from the moment you confirm.'],
    confirm: 'Resume identity',
    danger: false,
    done: 'Resumed: its active keys work again.',
  },
  delete: {
    title: 'Delete this identity?',
    text: (name, id) => [
      name, ' (', id, ') will be deleted. An identity that still has active keys cannot be: revoke them, or move them to another identity, first. This cannot be undone.',
    ],
    confirm: 'Delete identity',
    danger: true,
  },
};

export function askIdentityAction(mode) {
  const identity = state.identity;
  if (!identity) return;
  const action = ACTIONS[mode];
  state.identityAction = { mode, identity };
  ui.identityActionTitle.textContent = action.title;
  ui.identityActionText.replaceChildren(
    ...action.text(el('strong', { text: identity.external_id }), el('code', { text: identity.id })),
  );
  ui.identityActionConfirm.textContent = action.confirm;
  ui.identityActionConfirm.className = 'button ' + (action.danger ? 'danger' : 'primary');
  setMessage(ui.identityActionError, '');
  ui.identityActionConfirm.disabled = false;
  ui.identityAction.showModal();
  ui.identityActionCancel.focus();
}

async function deleteIdentity(identity) {
  const answer = await api(identityUrl(identity.id), { method: 'DELETE' });
  forget(identity.id);
  removeIdentityRow(identity.id);
  ui.identityAction.close();
  ui.identity.close();
  const status = activeStatus();
  status.textContent = answer.detail + ' (' + identity.external_id + ', ' + identity.id + ')';
  // Its row is gone: the list's status takes the focus instead.
  if (status === ui.identitiesStatus) {
    state.returnFocus = null;
    status.focus();
  }
}

export async function confirmIdentityAction() {
  const pending = state.identityAction;
  if (!pending) return;
  const { mode, identity } = pending;
  ui.identityActionConfirm.disabled = true;
  try {
    if (mode === 'delete') {
      await deleteIdentity(identity);
      return;
    }
    const fresh = await api(identityUrl(identity.id) + '/' + mode, { method: 'POST' });
    ui.identityAction.close();
    replaceIdentityRow(fresh);
    if (ui.identity.open && ui.identity.dataset.id === fresh.id) {
      fillIdentity(fresh, identity.keys);
      ui.identityStatus.textContent = ACTIONS[mode].done;
    }
    // The issue form's choices say which identities are suspended.
    offerIdentity(fresh);
  } catch (err) {
    if (err instanceof AuthError) {
      ui.identityAction.close();
      handleError(err, ui.identityActionError);
    } else {
      // 409: it still has active keys.
      setMessage(ui.identityActionError, err.message);
      ui.identityActionConfirm.disabled = false;
    }
  }
}
