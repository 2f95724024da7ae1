// Issuing a key, and the panel that shows a new key (issued or rotated) once.
import { AuthError, api } from './client.js';
import { copyFrom, invalid, setMessage, show } from './dom.js';
import { limitInputs, parseMeta, parseScopes, readLimits, showSaveError, syncRefill } from './fields.js';
import { localTime } from './format.js';
import { identityInput, pickedIdentity, syncIdentityPick } from './identitypick.js';
import { refreshWith } from './keys.js';
import { handleError } from './session.js';
import { ISSUE_LIMITS, ui } from './ui.js';

export async function issueKey(event) {
  event.preventDefault();
  setMessage(ui.issueError, '');
  for (const input of [ui.issueName, ui.issueExpires, ui.issueMeta, ui.issueIdentity, ui.issueIdentityId, ...limitInputs(ISSUE_LIMITS)]) {
    input.removeAttribute('aria-invalid');
  }
  const name = ui.issueName.value.trim();
  if (!name) {
    setMessage(ui.issueError, 'Give the key a name.');
    ui.issueName.setAttribute('aria-invalid', 'true');
    ui.issueName.focus();
    return;
  }
  const body = { name };
  if (ui.issueExpires.value) {
    // datetime-local has no zone: it is the administrator's local time.
    const at = new Date(ui.issueExpires.value);
    if (Number.isNaN(at.getTime()) || at.getTime() <= Date.now()) {
      setMessage(ui.issueError, 'Choose an expiry in the future, or leave it empty.');
      ui.issueExpires.setAttribute('aria-invalid', 'true');
      ui.issueExpires.focus();
      return;
    }
    body.expires_at = at.toISOString();
  }
  const owner = ui.issueOwner.value.trim();
  if (owner) body.owner = owner;
  const identity = pickedIdentity();
  if (identity.error) {
    invalid(identity.input, ui.issueError, identity.error);
    return;
  }
  if (identity.id) body.identity_id = identity.id;
  const scopes = parseScopes(ui.issueScopes.value);
  if (scopes.length) body.scopes = scopes;
  const meta = parseMeta(ui.issueMeta.value);
  if (meta.error) {
    invalid(ui.issueMeta, ui.issueError, meta.error);
    return;
  }
  if (meta.value) body.meta = meta.value;
  const limits = readLimits(ISSUE_LIMITS);
  if (limits.error) {
    invalid(limits.input, ui.issueError, limits.error);
    return;
  }
  if (limits.rate_limit) body.rate_limit = limits.rate_limit;
  if (limits.quota) body.quota = limits.quota;
  // Always sent: an unchecked box means "may not", whatever the server's default.
  body.self_rotation = ui.issueSelfRotation.checked;
  const button = ui.issueForm.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const issued = await api('api/keys', { method: 'POST', body });
    ui.issueForm.reset();
    syncRefill(ISSUE_LIMITS);
    syncIdentityPick();
    showNewKey(issued);
    await refreshWith(issued);
  } catch (err) {
    if (err instanceof AuthError) handleError(err, ui.issueError);
    else if (/`identity_id`/.test(err.message)) invalid(identityInput(), ui.issueError, err.message);
    else showSaveError(err, ui.issueError, ISSUE_LIMITS);
  } finally {
    button.disabled = false;
  }
}

// `rotated`: the rotate answer, whose old_key says where the replaced key now stands.
export function showNewKey(issued, rotated) {
  ui.newKeyName.textContent = issued.name;
  ui.newKeyValue.value = issued.key;
  ui.copyStatus.textContent = '';
  if (rotated) {
    const old = rotated.old_key;
    const end =
      old.status === 'revoked'
        ? 'was revoked at once.'
        : old.expires_at
          ? 'keeps working until ' + localTime(new Date(old.expires_at)) + ' (your local time), then expires.'
          : 'keeps working.';
    ui.newKeyReplaces.textContent = 'It replaces ' + old.id + ', which ' + end;
  }
  show(ui.newKeyReplaces, Boolean(rotated));
  setMessage(ui.newKeyServerWarning, rotated && rotated.warning ? rotated.warning : '');
  show(ui.newKey, true);
  ui.newKey.focus();
}

export function hideNewKey() {
  ui.newKeyValue.value = '';
  ui.newKeyName.textContent = '';
  ui.copyStatus.textContent = '';
  ui.newKeyReplaces.textContent = '';
  setMessage(ui.newKeyServerWarning, '');
  show(ui.newKey, false);
}

export function copyKey() {
  return copyFrom(ui.newKeyValue, ui.copyStatus);
}
