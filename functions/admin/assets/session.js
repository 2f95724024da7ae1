// Signing in and out: the admin token lives in this tab's sessionStorage only, and any 401
// after signing in sends the administrator back to the sign-in form.
import { AuthError, api, keysUrl } from './client.js';
import { setMessage, show } from './dom.js';
import { syncRefill } from './fields.js';
import { hideNewKey } from './issue.js';
import { PAGE_SIZE, loadKeys, renderPage } from './keys.js';
import { state } from './state.js';
import { DIALOGS, ISSUE_LIMITS, ui } from './ui.js';
import { showView } from './views.js';

const TOKEN_KEY = 'keygate.adminToken';

export function showSignIn(message) {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  resetApp();
  show(ui.appView, false);
  show(ui.signOut, false);
  show(ui.signInView, true);
  setMessage(ui.signInError, message);
  ui.token.value = '';
  ui.token.setAttribute('aria-invalid', message ? 'true' : 'false');
  ui.token.focus();
}

function showApp() {
  show(ui.signInView, false);
  setMessage(ui.signInError, '');
  show(ui.appView, true);
  show(ui.signOut, true);
}

// Forgets everything a signed-in session showed, the raw key of a fresh issue above all.
function resetApp() {
  hideNewKey();
  ui.issueForm.reset();
  syncRefill(ISSUE_LIMITS);
  ui.filterForm.reset();
  ui.auditForm.reset();
  state.filters = { q: '', status: '', unused_days: '' };
  state.cursor = null;
  state.generation += 1;
  state.audit = { action: '', key_id: '', cursor: null, generation: state.audit.generation + 1, loaded: false };
  state.keyAudit = { id: null, cursor: null, generation: state.keyAudit.generation + 1 };
  ui.body.replaceChildren();
  ui.auditBody.replaceChildren();
  ui.keyAuditList.replaceChildren();
  ui.auditStatus.textContent = '';
  show(ui.auditEmpty, false);
  show(ui.auditMore, false);
  showView('keys', false);
  setMessage(ui.issueError, '');
  ui.listStatus.textContent = '';
  show(ui.empty, false);
  show(ui.loadMore, false);
  for (const dialog of DIALOGS) if (dialog.open) dialog.close();
}

export async function signIn(event) {
  event.preventDefault();
  const token = ui.token.value.trim();
  if (!token) {
    setMessage(ui.signInError, 'Enter the admin token.');
    ui.token.setAttribute('aria-invalid', 'true');
    ui.token.focus();
    return;
  }
  state.token = token;
  setMessage(ui.signInError, '');
  const button = ui.signInForm.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const page = await api(keysUrl(null, PAGE_SIZE));
    sessionStorage.setItem(TOKEN_KEY, token);
    ui.token.value = '';
    showApp();
    renderPage(page, true);
    ui.issueName.focus();
  } catch (err) {
    state.token = null;
    const message =
      err instanceof AuthError
        ? 'That admin token was not accepted. Check it and try again.'
        : err.message;
    setMessage(ui.signInError, message);
    ui.token.setAttribute('aria-invalid', 'true');
    ui.token.select();
  } finally {
    button.disabled = false;
  }
}

// Any 401 after signing in means the token changed under us: start again.
export function handleError(err, where) {
  if (err instanceof AuthError) {
    showSignIn('Your admin token is no longer accepted. Sign in again.');
    return;
  }
  setMessage(where, err.message);
}

// At start-up: the token this tab kept, if any, or the sign-in form.
export function resume() {
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (state.token) {
    showApp();
    loadKeys();
  } else {
    showSignIn('');
  }
}
