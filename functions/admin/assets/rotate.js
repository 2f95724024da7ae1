// The rotate dialog: the grace period the old key keeps working for, and the new key.
import { AuthError, api, keyUrl } from './client.js';
import { MAX_GRACE_SECONDS } from './config.js';
import { invalid, setMessage } from './dom.js';
import { duration, localTime } from './format.js';
import { showNewKey } from './issue.js';
import { refreshWith, replaceRow } from './keys.js';
import { handleError } from './session.js';
import { state } from './state.js';
import { ui } from './ui.js';
import { showView } from './views.js';

// The custom field's range, from the API's own limit: the page does not repeat the number.
export function showGraceRange() {
  ui.rotateSeconds.max = String(MAX_GRACE_SECONDS);
  ui.rotateMax.textContent = String(MAX_GRACE_SECONDS);
}

function graceChoice() {
  return ui.rotateForm.querySelector('input[name=grace]:checked').value;
}

// The grace period chosen, or null with a message when the custom value is not usable.
function graceSeconds() {
  const choice = graceChoice();
  if (choice !== 'custom') return { seconds: Number(choice) };
  const text = ui.rotateSeconds.value.trim();
  const seconds = Number(text);
  if (!/^[0-9]+$/.test(text) || seconds > MAX_GRACE_SECONDS) {
    return { error: 'Enter a whole number of seconds from 0 to ' + MAX_GRACE_SECONDS + ' (' + duration(MAX_GRACE_SECONDS) + ').' };
  }
  return { seconds };
}

export function describeGrace() {
  setMessage(ui.rotateError, '');
  ui.rotateSeconds.removeAttribute('aria-invalid');
  const custom = graceChoice() === 'custom';
  ui.rotateSeconds.disabled = !custom;
  const grace = graceSeconds();
  if (grace.error) {
    ui.rotateEnd.textContent = custom && ui.rotateSeconds.value.trim() === '' ? 'Enter the grace period in seconds.' : grace.error;
    return;
  }
  const key = state.rotating;
  if (grace.seconds === 0) {
    ui.rotateEnd.textContent = 'The old key is revoked the moment you confirm.';
    return;
  }
  let end = new Date(Date.now() + grace.seconds * 1000);
  // The API never extends a key: an earlier expiry stays.
  if (key && key.expires_at && new Date(key.expires_at) < end) end = new Date(key.expires_at);
  ui.rotateEnd.textContent =
    'The old key keeps working for ' + duration(grace.seconds) + ', until about ' + localTime(end) + ' your time, then expires.';
}

export function askRotate(key) {
  state.rotating = key;
  ui.rotateForm.reset();
  ui.rotateName.textContent = key.name;
  ui.rotateId.textContent = key.id;
  ui.rotateSeconds.removeAttribute('aria-invalid');
  setMessage(ui.rotateError, '');
  ui.rotateConfirm.disabled = false;
  describeGrace();
  ui.rotate.showModal();
  ui.rotateCancel.focus();
}

export async function confirmRotate(event) {
  event.preventDefault();
  const key = state.rotating;
  if (!key) return;
  const grace = graceSeconds();
  if (grace.error) {
    invalid(ui.rotateSeconds, ui.rotateError, grace.error);
    return;
  }
  ui.rotateSeconds.removeAttribute('aria-invalid');
  setMessage(ui.rotateError, '');
  ui.rotateConfirm.disabled = true;
  try {
    const rotated = await api(keyUrl(key.id) + '/rotate', {
      method: 'POST',
      body: { grace_seconds: grace.seconds },
    });
    state.rotating = null;
    // The new key goes where issued keys go, shown once; the dialogs would hide it.
    state.returnFocus = null;
    ui.rotate.close();
    if (ui.details.open) ui.details.close();
    showView('keys', false);
    showNewKey(rotated, rotated);
    await refreshWith(rotated);
    // The reload may have read the index before it caught up with the old key's new end.
    replaceRow(rotated.old_key);
    ui.listStatus.textContent = 'Rotated ' + rotated.old_key.id + ': the new key is ' + rotated.id + '.';
    ui.newKey.scrollIntoView({ block: 'nearest' });
  } catch (err) {
    if (err instanceof AuthError) {
      ui.rotate.close();
      handleError(err, ui.rotateError);
    } else {
      setMessage(ui.rotateError, err.message);
      ui.rotateConfirm.disabled = false;
    }
  }
}
