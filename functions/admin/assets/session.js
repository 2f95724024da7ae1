// Signing in and out: the admin credential (or the bootstrap token) lives in this tab's
// sessionStorage only; signing in asks the API who it is (GET api/me) and shows what its
// role may do; any 401 after signing in sends the administrator back to the sign-in form.
import { resetAdmins } from './admins.js';
import { AuthError, api, keysUrl } from './client.js';
import { setMessage, show } from './dom.js';
import { syncRefill } from './fields.js';
import { resetIdentities } from './identities.js';
import { resetIdentityChoices } from './identitypick.js';
import { hideNewKey } from './issue.js';
import { PAGE_SIZE, renderPage } from './keys.js';
import { applyRole, can, firstFocus, showWhoami } from './roles.js';
import { state } from './state.js';
import { DIALOGS, ISSUE_LIMITS, ui } from './ui.js';
import { USAGE, clearUsage } from './usage.js';

const TOKEN_KEY = 'keygate.adminToken';

export function showSignIn(message) {
  state.token = null;
  state.me = null;
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

// Forgets everything a signed-in session showed, a raw key or credential above all.
function resetApp() {
  hideNewKey();
  resetAdmins();
  ui.issueForm.reset();
  syncRefill(ISSUE_LIMITS);
  resetIdentityChoices();
  resetIdentities();
  ui.filterForm.reset();
  ui.auditForm.reset();
  state.filters = { q: '', status: '', unused_days: '' };
  state.cursor = null;
  state.generation += 1;
  state.audit = { action: '', key_id: '', actor_id: '', cursor: null, generation: state.audit.generation + 1, loaded: false };
  state.keyAudit = { id: null, cursor: null, generation: state.keyAudit.generation + 1 };
  ui.body.replaceChildren();
  ui.auditBody.replaceChildren();
  ui.keyAuditList.replaceChildren();
  ui.identityKeys.replaceChildren();
  ui.auditStatus.textContent = '';
  show(ui.auditEmpty, false);
  show(ui.auditMore, false);
  applyRole();
  setMessage(ui.issueError, '');
  ui.listStatus.textContent = '';
  show(ui.empty, false);
  show(ui.loadMore, false);
  for (const dialog of DIALOGS) if (dialog.open) dialog.close();
  for (const panel of Object.values(USAGE)) clearUsage(panel);
}

// Who the token is, then the first page of keys if its role may read them; shown together,
// so that nothing appears that the role cannot use.
async function enter() {
  const me = await api('api/me');
  state.me = me;
  const page = can('read') ? await api(keysUrl(null, PAGE_SIZE)) : null;
  applyRole();
  showApp();
  if (page) renderPage(page, true);
}

export async function signIn(event) {
  event.preventDefault();
  const token = ui.token.value.trim();
  if (!token) {
    setMessage(ui.signInError, 'Enter your admin credential.');
    ui.token.setAttribute('aria-invalid', 'true');
    ui.token.focus();
    return;
  }
  state.token = token;
  setMessage(ui.signInError, '');
  const button = ui.signInForm.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await enter();
    sessionStorage.setItem(TOKEN_KEY, token);
    ui.token.value = '';
    firstFocus();
  } catch (err) {
    state.token = null;
    state.me = null;
    const message =
      err instanceof AuthError
        ? 'That admin credential was not accepted. Check it and try again.'
        : err.message;
    setMessage(ui.signInError, message);
    ui.token.setAttribute('aria-invalid', 'true');
    ui.token.select();
  } finally {
    button.disabled = false;
  }
}

// After rotating the credential this tab is signed in with: the new one, same person.
export function keepToken(token, id) {
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  state.me = { ...state.me, actor: { ...state.me.actor, id } };
  showWhoami();
}

// Any 401 after signing in means the credential changed under us: start again. Any other
// refusal (a 403 for a role too low included) shows the API's reason where it happened.
export function handleError(err, where) {
  if (err instanceof AuthError) {
    showSignIn('Your admin credential is no longer accepted. Sign in again.');
    return;
  }
  setMessage(where, err.message);
}

// At start-up: the credential this tab kept, if any, or the sign-in form.
export async function resume() {
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (!state.token) {
    showSignIn('');
    return;
  }
  try {
    await enter();
  } catch (err) {
    showSignIn(err instanceof AuthError ? 'Your admin credential is no longer accepted. Sign in again.' : err.message);
  }
}
