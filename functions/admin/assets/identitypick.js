// Which identity a new key belongs to: the issue form's select of the newest identities (by
// external id), with "Another, by its id…" when there are more than it lists; and the
// external ids the page has read, by id, so that a key's details can name its identity
// without asking the API again.
import { AuthError, api, identitiesUrl } from './client.js';
import { el, show } from './dom.js';
import { handleError } from './session.js';
import { state } from './state.js';
import { ui } from './ui.js';

// The most the API lists in one page.
const CHOICES = 100;
const OTHER = 'other';

export function remember(identity) {
  state.identityNames.set(identity.id, identity.external_id);
}

function choiceText(identity) {
  return identity.external_id + (identity.status === 'suspended' ? ' (suspended)' : '');
}

function optionOf(id) {
  return [...ui.issueIdentity.options].find((option) => option.value === id) || null;
}

// An identity just created, suspended or resumed on the page: offered as it now is, without
// reading the list again (which DynamoDB's index may give a moment late). A new one comes
// first, as the newest.
export function offerIdentity(identity) {
  remember(identity);
  const option = optionOf(identity.id);
  if (option) option.textContent = choiceText(identity);
  else ui.issueIdentity.options[0].after(el('option', { value: identity.id, text: choiceText(identity) }));
}

// An identity just deleted: no longer offered, nor named.
export function forget(id) {
  state.identityNames.delete(id);
  const option = optionOf(id);
  if (!option) return;
  const chosen = option.selected;
  option.remove();
  if (chosen) ui.issueIdentity.value = '';
  syncIdentityPick();
}

export function identityName(id) {
  return state.identityNames.get(id) || null;
}

// The id field shows only for "Another, by its id…".
export function syncIdentityPick() {
  const other = ui.issueIdentity.value === OTHER;
  show(ui.issueIdentityOther, other);
  if (!other) ui.issueIdentityId.value = '';
}

function fillChoices(identities, more) {
  const chosen = ui.issueIdentity.value;
  const options = [el('option', { value: '', text: 'None' })];
  for (const identity of identities) {
    remember(identity);
    options.push(el('option', { value: identity.id, text: choiceText(identity) }));
  }
  if (more) options.push(el('option', { value: OTHER, text: 'Another, by its id…' }));
  ui.issueIdentity.replaceChildren(...options);
  // A choice already made stays made, if it is still offered.
  if (options.some((option) => option.value === chosen)) ui.issueIdentity.value = chosen;
  syncIdentityPick();
}

// Reads the newest identities into the select (and their names into the page's memory),
// when the Keys tab opens.
export async function loadIdentityChoices() {
  const generation = ++state.identityChoices;
  try {
    const page = await api(identitiesUrl({ limit: CHOICES }));
    if (generation === state.identityChoices) fillChoices(page.identities, Boolean(page.next_cursor));
  } catch (err) {
    if (generation !== state.identityChoices) return;
    if (err instanceof AuthError) handleError(err, ui.issueError);
    // Without the list, an identity can still be chosen by its id.
    else fillChoices([], true);
  }
}

// The identity chosen for a new key: { id } (null for none) or { error, input }. The API
// checks the id.
export function pickedIdentity() {
  if (ui.issueIdentity.value !== OTHER) return { id: ui.issueIdentity.value || null };
  const id = ui.issueIdentityId.value.trim();
  if (!id) return { error: 'Identity: enter its id (idt_…), or choose None.', input: ui.issueIdentityId };
  return { id };
}

// The field the API's reason is about when it refuses the identity.
export function identityInput() {
  return ui.issueIdentity.value === OTHER ? ui.issueIdentityId : ui.issueIdentity;
}

// Forgets them all on signing out.
export function resetIdentityChoices() {
  state.identityChoices += 1;
  state.identityNames.clear();
  ui.issueIdentity.replaceChildren(el('option', { value: '', text: 'None' }));
  syncIdentityPick();
}
