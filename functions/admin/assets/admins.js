// The Admins view (role `admin`): the admin credentials, newest first, creating one, and the
// panel that shows a new credential's secret once (created or rotated).
import { askAdminRevoke, askAdminRotate } from './adminops.js';
import { AuthError, api } from './client.js';
import { copyFrom, el, setMessage, show } from './dom.js';
import { actorText, badge, idCell, time } from './format.js';
import { isMe } from './roles.js';
import { handleError } from './session.js';
import { state } from './state.js';
import { ui } from './ui.js';

const COLUMNS = ['Name', 'ID and prefix', 'Role', 'Status', 'Created', 'Created by', 'Valid until', 'Last used', ''];

function nameCell(admin) {
  const cell = el('span', { class: 'name-cell' }, [el('span', { class: 'name', text: admin.name })]);
  if (isMe(admin.id)) cell.append(el('span', { class: 'owner you', text: 'you' }));
  if (admin.rotated_from) cell.append(el('span', { class: 'owner', text: 'replaces ' + admin.rotated_from }));
  return cell;
}

function statusCell(admin) {
  const cell = el('span', { class: 'status-cell' }, [badge(admin.status)]);
  if (admin.revoked_at) cell.append(time(admin.revoked_at, ''));
  return cell;
}

function rowActions(admin) {
  const group = el('div', { class: 'button-row' });
  if (admin.status === 'active') {
    const rotate = el('button', { type: 'button', class: 'button small', text: 'Rotate', 'aria-label': 'Rotate ' + admin.name });
    rotate.addEventListener('click', () => askAdminRotate(admin, rotate));
    group.append(rotate);
  }
  if (admin.status !== 'revoked') {
    const revoke = el('button', { type: 'button', class: 'button small danger-outline', text: 'Revoke', 'aria-label': 'Revoke ' + admin.name });
    revoke.addEventListener('click', () => askAdminRevoke(admin, revoke));
    group.append(revoke);
  }
  return group;
}

function adminRow(admin) {
  const cells = [
    nameCell(admin),
    idCell(admin),
    el('span', { class: 'badge role role-' + admin.role, text: admin.role }),
    statusCell(admin),
    time(admin.created_at, '—'),
    el('span', { class: 'actor', text: actorText(admin.created_by) }),
    time(admin.expires_at, 'no expiry'),
    time(admin.last_used_at, 'never'),
    rowActions(admin),
  ];
  const row = el('tr', { 'data-id': admin.id });
  cells.forEach((content, i) => {
    const cell = el(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : null, [content]);
    if (COLUMNS[i]) cell.dataset.label = COLUMNS[i];
    else cell.className = 'row-actions';
    row.append(cell);
  });
  return row;
}

// A credential as the list shows it, never with its secret.
function listed({ key, ...view }) {
  return view;
}

function renderAdmins(admins) {
  ui.adminsBody.replaceChildren(...admins.map(adminRow));
  const count = admins.length;
  const active = admins.filter((a) => a.status === 'active').length;
  show(ui.adminsTable, count > 0);
  ui.adminsStatus.textContent =
    count === 0
      ? 'No admin credentials yet: create the first one above.'
      : count + (count === 1 ? ' credential' : ' credentials') + ', ' + active + ' active.';
}

// Reloads the list. `written`: credentials just changed, as the API answered the change,
// put in place if the list was read before it caught up with them.
export async function loadAdmins(written) {
  const generation = ++state.admins.generation;
  if (!written) ui.adminsStatus.textContent = 'Loading…';
  try {
    const page = await api('api/admins');
    if (generation !== state.admins.generation) return;
    const admins = page.admins.slice();
    for (const fresh of written || []) {
      const at = admins.findIndex((a) => a.id === fresh.id);
      if (at === -1) admins.unshift(listed(fresh));
      else if (admins[at].status === 'active' && fresh.status !== 'active') admins[at] = listed(fresh);
    }
    renderAdmins(admins);
  } catch (err) {
    if (generation === state.admins.generation) handleError(err, ui.adminsStatus);
  }
}

export async function createAdmin(event) {
  event.preventDefault();
  setMessage(ui.adminError, '');
  for (const input of [ui.adminName, ui.adminRole, ui.adminExpires]) input.removeAttribute('aria-invalid');
  const name = ui.adminName.value.trim();
  const fail = (input, message) => {
    setMessage(ui.adminError, message);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  if (!name) return fail(ui.adminName, 'Name the person or automation the credential is for.');
  if (!ui.adminRole.value) return fail(ui.adminRole, 'Choose a role: the least that will do.');
  const body = { name, role: ui.adminRole.value };
  if (ui.adminExpires.value) {
    // datetime-local has no zone: it is the administrator's local time.
    const at = new Date(ui.adminExpires.value);
    if (Number.isNaN(at.getTime()) || at.getTime() <= Date.now()) {
      return fail(ui.adminExpires, 'Choose an end in the future, or leave it empty.');
    }
    body.expires_at = at.toISOString();
  }
  const button = ui.adminForm.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const created = await api('api/admins', { method: 'POST', body });
    ui.adminForm.reset();
    showNewAdmin(created, null);
    await loadAdmins([created]);
  } catch (err) {
    if (err instanceof AuthError) handleError(err, ui.adminError);
    else setMessage(ui.adminError, err.message);
  } finally {
    button.disabled = false;
  }
}

// The secret of a credential just created or rotated (`replaced`: the old one's id), once.
export function showNewAdmin(created, replaced) {
  ui.newAdminName.textContent = created.name;
  ui.newAdminValue.value = created.key;
  ui.copyAdminStatus.textContent = '';
  ui.newAdminReplaces.textContent = replaced
    ? 'It replaces ' + replaced + ', whose secret stopped working at once. Role: ' + created.role + '.'
    : 'Role: ' + created.role + '.';
  show(ui.newAdminReplaces, true);
  show(ui.newAdmin, true);
  ui.newAdmin.focus();
}

export function hideNewAdmin() {
  ui.newAdminValue.value = '';
  ui.newAdminName.textContent = '';
  ui.newAdminReplaces.textContent = '';
  ui.copyAdminStatus.textContent = '';
  show(ui.newAdmin, false);
}

export function copyAdmin() {
  return copyFrom(ui.newAdminValue, ui.copyAdminStatus);
}

// Forgets the view on signing out: the list, and above all a secret still on screen.
export function resetAdmins() {
  hideNewAdmin();
  ui.adminForm.reset();
  setMessage(ui.adminError, '');
  state.admins.generation += 1;
  ui.adminsBody.replaceChildren();
  ui.adminsStatus.textContent = '';
}

// The first button of a credential's row, if it has one left, for focus after a dialog.
export function adminButton(id) {
  const row = ui.adminsBody.querySelector('tr[data-id="' + CSS.escape(id) + '"]');
  return row && row.querySelector('button');
}
