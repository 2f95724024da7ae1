// The edit dialog: a key's name, owner, scopes, metadata, an earlier end, its limits and
// whether it may rotate itself, sending only what changed.
import { AuthError, api, keyUrl } from './client.js';
import { fillDetails, loadKeyAudit } from './details.js';
import { invalid, setMessage } from './dom.js';
import { fillLimits, limitInputs, parseMeta, parseScopes, readLimits, sameQuota, sameRate, showSaveError } from './fields.js';
import { localTime } from './format.js';
import { replaceRow } from './keys.js';
import { handleError } from './session.js';
import { state } from './state.js';
import { EDIT_LIMITS, ui } from './ui.js';

function localInputValue(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return localTime(d).replace(' ', 'T');
}

export function askEdit(key) {
  state.editing = key;
  ui.editForm.reset();
  ui.editId.textContent = key.id;
  ui.editName.value = key.name;
  ui.editOwner.value = key.owner || '';
  ui.editScopes.value = (key.scopes || []).join(' ');
  ui.editMeta.value = key.meta ? JSON.stringify(key.meta, null, 2) : '';
  // The picker cannot offer a later time than the current expiry.
  if (key.expires_at) ui.editExpires.max = localInputValue(key.expires_at);
  else ui.editExpires.removeAttribute('max');
  // The details' key was read just now: its quota shows the live count.
  fillLimits(EDIT_LIMITS, key);
  ui.editSelfRotation.checked = Boolean(key.self_rotation);
  for (const input of [ui.editName, ui.editMeta, ui.editExpires, ...limitInputs(EDIT_LIMITS)]) {
    input.removeAttribute('aria-invalid');
  }
  setMessage(ui.editError, '');
  ui.editSave.disabled = false;
  ui.edit.showModal();
  ui.editName.focus();
}

const sameList = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export async function saveEdit(event) {
  event.preventDefault();
  const key = state.editing;
  if (!key) return;
  setMessage(ui.editError, '');
  for (const input of [ui.editName, ui.editMeta, ui.editExpires, ...limitInputs(EDIT_LIMITS)]) {
    input.removeAttribute('aria-invalid');
  }
  const body = {};
  const name = ui.editName.value.trim();
  if (!name) return invalid(ui.editName, ui.editError, 'A key needs a name.');
  if (name !== key.name) body.name = name;
  const owner = ui.editOwner.value.trim() || null;
  if (owner !== (key.owner || null)) body.owner = owner;
  const scopes = parseScopes(ui.editScopes.value);
  if (!sameList(scopes, key.scopes || [])) body.scopes = scopes;
  const meta = parseMeta(ui.editMeta.value);
  if (meta.error) return invalid(ui.editMeta, ui.editError, meta.error);
  if (JSON.stringify(meta.value) !== JSON.stringify(key.meta || null)) body.meta = meta.value;
  if (ui.editExpires.value) {
    const at = new Date(ui.editExpires.value);
    if (Number.isNaN(at.getTime())) return invalid(ui.editExpires, ui.editError, 'Choose a date and time.');
    if (key.expires_at && at > new Date(key.expires_at)) {
      return invalid(ui.editExpires, ui.editError, 'The expiry can only move earlier than ' + localTime(new Date(key.expires_at)) + '.');
    }
    body.expires_at = at.toISOString();
  }
  const limits = readLimits(EDIT_LIMITS);
  if (limits.error) return invalid(limits.input, ui.editError, limits.error);
  if (!sameRate(limits.rate_limit, key.rate_limit || null)) body.rate_limit = limits.rate_limit;
  // A quota that is sent starts over from its `remaining`: send it only when it changed.
  if (!sameQuota(limits.quota, key.quota || null)) body.quota = limits.quota;
  const selfRotation = ui.editSelfRotation.checked;
  if (selfRotation !== Boolean(key.self_rotation)) body.self_rotation = selfRotation;
  if (Object.keys(body).length === 0) {
    setMessage(ui.editError, 'Nothing has changed.');
    return;
  }
  ui.editSave.disabled = true;
  try {
    const fresh = await api(keyUrl(key.id), { method: 'PATCH', body });
    state.editing = null;
    ui.edit.close();
    replaceRow(fresh);
    if (ui.details.open && ui.details.dataset.id === fresh.id) {
      fillDetails(fresh);
      ui.detailsStatus.textContent = 'Saved.';
      ui.detailsClose.focus();
      loadKeyAudit(fresh.id, true);
    }
  } catch (err) {
    if (err instanceof AuthError) {
      ui.edit.close();
      handleError(err, ui.editError);
    } else {
      showSaveError(err, ui.editError, EDIT_LIMITS);
      ui.editSave.disabled = false;
    }
  }
}
