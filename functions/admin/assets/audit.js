// The audit view: every change to a key, an identity or an admin credential, newest first,
// with its filters and paging; and how one event reads, in its table and in a key's history.
import { api, auditUrl } from './client.js';
import { keyLink } from './details.js';
import { el, show } from './dom.js';
import { actorText, time } from './format.js';
import { identityLink } from './identity.js';
import { handleError } from './session.js';
import { state } from './state.js';
import { ui } from './ui.js';

const AUDIT_PAGE_SIZE = 25;

// A key id opens that key's details, an identity's (idt_…) its details; an admin
// credential's id (adm_…) has none to open.
function subject(id, label, withLinks) {
  if (!id) return el('span', { class: 'muted', text: '—' });
  if (withLinks && id.startsWith('key_')) return keyLink(id, label);
  if (withLinks && id.startsWith('idt_')) return identityLink(id, 'Details of the identity');
  return el('code', { text: id });
}

// What an event did, beyond its action: the fields an update changed, the replacement
// a rotation made, or where a secret scanner found a leaked key (shown as text, never as a
// link: the URL is the scanner's).
function eventChanges(event, withLinks) {
  if (event.action === 'leak_reported') {
    const where = [event.leak_source, event.leak_url].filter(Boolean);
    return el('span', { class: 'changes' }, [
      'found in public',
      ...(where.length ? [': ', el('code', { text: where.join(' ') })] : []),
    ]);
  }
  if ((event.action === 'rotate' || event.action === 'admin_rotate') && event.new_key_id) {
    return el('span', { class: 'changes' }, [
      event.action === 'rotate' ? 'new key ' : 'new credential ',
      subject(event.new_key_id, 'Details of the new key', withLinks),
    ]);
  }
  if (event.changes && event.changes.length) {
    return el('span', { class: 'changes' }, event.changes.map((c) => el('code', { class: 'chip', text: c })));
  }
  return el('span', { class: 'muted', text: '—' });
}

function actionBadge(action) {
  return el('span', { class: 'badge action action-' + action, text: action });
}

function userAgent(text) {
  if (!text) return el('span', { class: 'muted', text: '—' });
  return el('span', { class: 'ua', title: text, text });
}

const AUDIT_COLUMNS = ['Time', 'Action', 'Key', 'Actor', 'Source IP', 'User agent', 'Changes'];

function eventRow(event) {
  const cells = [
    time(event.time, '—'),
    actionBadge(event.action),
    subject(event.key_id, 'Details of', true),
    el('span', { text: actorText(event.actor) }),
    event.source_ip ? el('code', { text: event.source_ip }) : el('span', { class: 'muted', text: '—' }),
    userAgent(event.user_agent),
    eventChanges(event, true),
  ];
  const row = el('tr', { 'data-event': event.id });
  cells.forEach((content, i) => {
    const cell = el(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : null, [content]);
    cell.dataset.label = AUDIT_COLUMNS[i];
    row.append(cell);
  });
  return row;
}

// The same event, compact, for one key's history in its details.
export function eventItem(event) {
  const meta = [actorText(event.actor)];
  if (event.source_ip) meta.push(event.source_ip);
  const item = el('li', { class: 'event', 'data-event': event.id }, [
    el('div', { class: 'event-head' }, [actionBadge(event.action), time(event.time, '—'), eventChanges(event, true)]),
    el('div', { class: 'event-meta muted', text: meta.join(' · ') }),
  ]);
  if (event.user_agent) item.append(el('div', { class: 'event-meta muted ua', title: event.user_agent, text: event.user_agent }));
  return item;
}

function renderAudit(page, fresh) {
  if (fresh) ui.auditBody.replaceChildren();
  for (const event of page.events) ui.auditBody.append(eventRow(event));
  state.audit.cursor = page.next_cursor || null;
  show(ui.auditMore, Boolean(state.audit.cursor));
  const count = ui.auditBody.rows.length;
  show(ui.auditTable, count > 0);
  show(ui.auditEmpty, count === 0 && !state.audit.cursor);
  // A filtered read can stop before it finds anything: say so, and offer to read on.
  if (count === 0) ui.auditStatus.textContent = state.audit.cursor ? 'None found yet: more to search.' : '';
  else ui.auditStatus.textContent = count + (count === 1 ? ' event' : ' events') + ' shown' + (state.audit.cursor ? ', more available.' : '.');
}

export async function loadAudit(fresh) {
  if (fresh) {
    state.audit.cursor = null;
    state.audit.generation += 1;
    state.audit.loaded = true;
    ui.auditStatus.textContent = 'Loading…';
  }
  const generation = state.audit.generation;
  const first = ui.auditBody.rows.length;
  ui.auditMore.disabled = true;
  try {
    const page = await api(
      auditUrl({
        key_id: state.audit.key_id,
        actor_id: state.audit.actor_id,
        action: state.audit.action,
        cursor: fresh ? null : state.audit.cursor,
        limit: AUDIT_PAGE_SIZE,
      }),
    );
    if (generation !== state.audit.generation) return;
    renderAudit(page, fresh);
    if (!fresh) {
      const button = ui.auditBody.rows[first] && ui.auditBody.rows[first].querySelector('button');
      if (button) button.focus();
    }
  } catch (err) {
    if (generation === state.audit.generation) handleError(err, ui.auditStatus);
  } finally {
    ui.auditMore.disabled = false;
  }
}

export function applyAuditFilters(event) {
  event.preventDefault();
  state.audit.action = ui.auditAction.value;
  state.audit.key_id = ui.auditKey.value.trim();
  state.audit.actor_id = ui.auditActor.value.trim();
  loadAudit(true);
}

export function clearAuditFilters() {
  ui.auditForm.reset();
  state.audit.action = '';
  state.audit.key_id = '';
  state.audit.actor_id = '';
  loadAudit(true);
  ui.auditAction.focus();
}
