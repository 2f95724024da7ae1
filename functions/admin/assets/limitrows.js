// The rows of named limits in the new identity form: each a name, a number of requests and
// a window in seconds, added and removed one at a time, read as the API's `limits`, and
// marked when the API's reason names one of their fields (`limits[1].name` ...). How many
// limits an identity may have, and each value's range, the API checks and says.
import { el, invalid } from './dom.js';
import { wholeNumber } from './fields.js';
import { state } from './state.js';

const PARTS = [
  ['name', 'Limit name'],
  ['limit', 'Requests'],
  ['window_seconds', 'Per (seconds)'],
];

// Each row's inputs get ids of their own, for their labels.
function input(part, id) {
  if (part === 'name') {
    return el('input', {
      id,
      class: 'mono',
      maxlength: '32',
      autocomplete: 'off',
      spellcheck: 'false',
      autocapitalize: 'off',
      placeholder: 'per_second',
      'data-part': part,
    });
  }
  const range = part === 'limit' ? { min: '1', max: '1000000' } : { min: '1', max: '86400' };
  return el('input', { id, type: 'number', step: '1', inputmode: 'numeric', autocomplete: 'off', 'data-part': part, ...range });
}

// Numbers the rows' remove buttons (their names say which row they remove).
function renumber(container) {
  [...container.children].forEach((row, i) => {
    row.querySelector('.remove-limit').setAttribute('aria-label', 'Remove limit ' + (i + 1));
  });
}

// A new empty row, focused; removing a row focuses the next one, or `addButton`.
export function addLimitRow(container, addButton) {
  state.limitRows += 1;
  const fields = PARTS.map(([part, label]) => {
    const id = 'limit-' + state.limitRows + '-' + part.replace('_', '-');
    return el('div', { class: 'field' }, [el('label', { for: id, text: label }), input(part, id)]);
  });
  const remove = el('button', { type: 'button', class: 'button small ghost remove-limit', text: 'Remove' });
  const row = el('div', { class: 'limits-row limit-row' }, [...fields, el('div', { class: 'field remove-field' }, [remove])]);
  remove.addEventListener('click', () => {
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    renumber(container);
    if (next) next.querySelector('input').focus();
    else addButton.focus();
  });
  container.append(row);
  renumber(container);
  row.querySelector('input').focus();
}

export function clearLimitRows(container) {
  container.replaceChildren();
}

// The rows as the API's `limits` (rows left wholly empty are skipped): { limits, rows } with
// the row of each limit, or { error, input }.
export function readLimitRows(container) {
  const limits = [];
  const rows = [];
  for (const row of container.children) {
    const [name, limit, per] = PARTS.map(([part]) => row.querySelector('[data-part="' + part + '"]'));
    const text = name.value.trim();
    const numbers = [limit, per].map(wholeNumber);
    if (!text && numbers.every((n) => n.empty)) continue;
    const at = 'Limit ' + (rows.length + 1) + ': ';
    if (!text) return { error: at + 'give it a name, such as per_second.', input: name };
    for (const [i, field] of [[0, limit], [1, per]]) {
      const words = i === 0 ? 'the number of requests' : 'the window in seconds';
      if (numbers[i].bad) return { error: at + 'enter ' + words + ' as a whole number.', input: field };
      if (numbers[i].empty) return { error: at + 'enter ' + words + ' too, or remove the limit.', input: field };
    }
    limits.push({ name: text, limit: numbers[0].value, window_seconds: numbers[1].value });
    rows.push(row);
  }
  return { limits, rows };
}

// Marks the input a 400's reason is about ("`limits[0].window_seconds` must be …"), if it
// names one of `rows`; whether it did.
export function markLimitError(message, rows, box) {
  const match = /`limits\[(\d+)\]\.(name|limit|window_seconds)`/.exec(message);
  const row = match && rows[Number(match[1])];
  if (!row) return false;
  invalid(row.querySelector('[data-part="' + match[2] + '"]'), box, message);
  return true;
}
