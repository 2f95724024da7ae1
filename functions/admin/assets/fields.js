// The fields the issue form and the edit dialog share: scopes, metadata, and the rate limit
// and quota inputs (read, filled, compared, and marked when the API names one). The new
// identity form uses the metadata and quota ones too.
import { invalid, setMessage } from './dom.js';

// "orders:read, orders:write" or "orders:read orders:write" as a list; the server checks
// each scope's form and reports the first bad one by name.
export function parseScopes(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

// The metadata textarea: empty is none, otherwise it must be a JSON object. Returns
// { value } or { error }.
export function parseMeta(text) {
  const trimmed = text.trim();
  if (!trimmed) return { value: null };
  let value;
  try {
    value = JSON.parse(trimmed);
  } catch (err) {
    return { error: 'Metadata is not valid JSON (' + err.message + '). Write an object such as {"plan": "pro"}, or leave it empty.' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: 'Metadata must be a JSON object, in braces, such as {"plan": "pro"}.' };
  }
  return { value };
}

// The refill amount only means something with a refill.
export function syncRefill(inputs) {
  inputs.amount.disabled = !inputs.every.value;
}

export function fillLimits(inputs, key) {
  const rate = key.rate_limit;
  const quota = key.quota;
  const refill = quota && quota.refill;
  inputs.limit.value = rate ? String(rate.limit) : '';
  inputs.window.value = rate ? String(rate.window_seconds) : '';
  inputs.remaining.value = quota ? String(quota.remaining) : '';
  inputs.every.value = refill ? refill.every : '';
  inputs.amount.value = refill ? String(refill.amount) : '';
  syncRefill(inputs);
}

// A whole-number input: { value }, { empty: true } or { bad: true }. A number input holds
// '' for text it cannot read, so that counts as bad rather than empty. (Also an identity's
// named limits, in limitrows.js.)
export function wholeNumber(input) {
  const text = input.value.trim();
  if (input.validity.badInput || (text && !/^[0-9]+$/.test(text))) return { bad: true };
  return text ? { value: Number(text) } : { empty: true };
}

// Whole numbers of a form's limit inputs, named in `names`; the refill amount only with a
// refill. { numbers } or { error, input } for the first input that is not a whole number.
const NUMBER_LABELS = [
  ['limit', 'Rate limit requests'],
  ['window', 'Rate limit window'],
  ['remaining', 'Quota calls left'],
  ['amount', 'Quota refill amount'],
];

function readNumbers(inputs, names) {
  const numbers = {};
  for (const [name, label] of NUMBER_LABELS) {
    if (!names.includes(name) || (name === 'amount' && !inputs.every.value)) continue;
    numbers[name] = wholeNumber(inputs[name]);
    if (numbers[name].bad) return { error: label + ': enter a whole number.', input: inputs[name] };
  }
  return { numbers };
}

// The quota of read numbers: { quota } (null when left empty) or { error, input }.
function quotaOf(inputs, { remaining, amount }) {
  const every = inputs.every.value;
  if (remaining.empty && !every) return { quota: null };
  if (remaining.empty) {
    return { error: 'Quota: enter the calls left, or choose Refills: Never and leave it empty for no quota.', input: inputs.remaining };
  }
  if (every && amount.empty) {
    return { error: 'Quota: enter the refill amount, or choose Refills: Never.', input: inputs.amount };
  }
  const quota = { remaining: remaining.value };
  if (every) quota.refill = { every, amount: amount.value };
  return { quota };
}

// The limits a form asks for, as the API takes them: { rate_limit, quota }, each null when
// left empty, or { error, input } naming the first input that cannot be used. The API
// checks the ranges, and names the field when one is out of them.
export function readLimits(inputs) {
  const read = readNumbers(inputs, ['limit', 'window', 'remaining', 'amount']);
  if (read.error) return read;
  const { limit, window: per } = read.numbers;
  let rateLimit = null;
  if (!limit.empty || !per.empty) {
    if (limit.empty) {
      return { error: 'Rate limit: enter the number of requests too, or empty both fields for no rate limit.', input: inputs.limit };
    }
    if (per.empty) {
      return { error: 'Rate limit: enter the window in seconds too, or empty both fields for no rate limit.', input: inputs.window };
    }
    rateLimit = { limit: limit.value, window_seconds: per.value };
  }
  const quota = quotaOf(inputs, read.numbers);
  if (quota.error) return quota;
  return { rate_limit: rateLimit, quota: quota.quota };
}

// A quota alone (an identity's): inputs { remaining, every, amount }. { quota } or
// { error, input }, as readLimits.
export function readQuota(inputs) {
  const read = readNumbers(inputs, ['remaining', 'amount']);
  if (read.error) return read;
  return quotaOf(inputs, read.numbers);
}

// The input a 400's detail is about ("`rate_limit.limit` must be …"), if it is a limit's.
function limitInput(detail, inputs) {
  const match = /`(rate_limit\.limit|rate_limit\.window_seconds|quota\.remaining|quota\.refill\.amount)`/.exec(detail);
  if (!match) return null;
  return {
    'rate_limit.limit': inputs.limit,
    'rate_limit.window_seconds': inputs.window,
    'quota.remaining': inputs.remaining,
    'quota.refill.amount': inputs.amount,
  }[match[1]];
}

// Shows a failed save's reason, on the limit input it names if there is one.
export function showSaveError(err, box, inputs) {
  const input = limitInput(err.message, inputs);
  if (input) invalid(input, box, err.message);
  else setMessage(box, err.message);
}

export function limitInputs(inputs) {
  return [inputs.limit, inputs.window, inputs.remaining, inputs.amount];
}

export const sameRate = (a, b) => (a && b ? a.limit === b.limit && a.window_seconds === b.window_seconds : a === b);
const sameRefill = (a, b) => (a && b ? a.every === b.every && a.amount === b.amount : a === b);
export const sameQuota = (a, b) =>
  a && b ? a.remaining === b.remaining && sameRefill(a.refill || null, b.refill || null) : a === b;
