// Rendering helpers: timestamps, statuses, scopes, durations, counts, limits and actors as
// text or small elements, for the lists, the details and the dialogs.
import { el } from './dom.js';

const pad = (n) => String(n).padStart(2, '0');

// A timestamp as a <time>: compact and unambiguous in local time (2026-01-31 14:05), the
// exact UTC value in its tooltip. Date and time may wrap apart on narrow tables.
export function time(iso, empty) {
  if (!iso) return el('span', { class: 'muted', text: empty });
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return el('span', { text: iso });
  const day = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  const clock = pad(d.getHours()) + ':' + pad(d.getMinutes());
  return el('time', { datetime: iso, title: iso + ' (UTC)' }, [
    el('span', { class: 'nowrap', text: day }),
    ' ',
    el('span', { class: 'nowrap', text: clock }),
  ]);
}

// The id, and the prefix the secret itself starts with, stacked: one column for both
// leaves room for the limits at 1280 px. Keys and admin credentials alike.
export function idCell(item) {
  return el('span', { class: 'id-cell' }, [
    el('code', { text: item.id }),
    el('code', { class: 'prefix', title: 'Prefix', text: item.prefix }),
  ]);
}

export function badge(status) {
  return el('span', { class: 'badge badge-' + status, text: status });
}

export function scopeList(scopes, max) {
  if (!scopes || scopes.length === 0) return el('span', { class: 'muted', text: 'none' });
  const shown = max ? scopes.slice(0, max) : scopes;
  const list = el('span', { class: 'chips', title: scopes.join(' ') });
  for (const scope of shown) list.append(el('code', { class: 'chip', text: scope }));
  if (shown.length < scopes.length) {
    list.append(el('span', { class: 'muted more-count', text: '+' + (scopes.length - shown.length) }));
  }
  return list;
}


// Who did something, as the audit API and the admin list name it: "alice (adm_…)",
// "bootstrap token", "key key_…" (a key holder's own revoke or rotate), "system: <reason>".
// The older string forms ("admin", "key:<id>") read the same.
export function actorText(actor) {
  if (!actor) return '—';
  if (typeof actor === 'string') {
    if (actor === 'admin') return 'bootstrap token';
    return actor.startsWith('key:') ? 'key ' + actor.slice(4) : actor;
  }
  switch (actor.type) {
    case 'admin':
      return (actor.name || 'admin') + ' (' + actor.id + ')';
    case 'bootstrap':
      return 'bootstrap token';
    case 'key':
      return 'key ' + actor.id;
    case 'system':
      return 'system: ' + (actor.reason || 'unknown');
    default:
      return String(actor.type);
  }
}

// A duration in words, for grace periods.
export function duration(seconds) {
  if (seconds === 0) return 'no time';
  const parts = [];
  for (const [size, unit] of [[86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']]) {
    const n = Math.floor(seconds / size);
    if (n > 0) parts.push(n + ' ' + unit + (n === 1 ? '' : 's'));
    seconds -= n * size;
  }
  return parts.slice(0, 2).join(' ');
}

export function localTime(date) {
  return (
    date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) + ' ' +
    pad(date.getHours()) + ':' + pad(date.getMinutes())
  );
}

// A count as the administrator's locale writes it (1,000,000 in English).
export const count = (n) => Number(n).toLocaleString();

// Shorter for the list from 100,000 up (123.4K, 1M, 1T in English), rounded down so that
// calls left are never overstated; the tooltip and the details have the exact count.
const COMPACT = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1, roundingMode: 'floor' });
const shortCount = (n) => (n < 100000 ? count(n) : COMPACT.format(n));

const REFILL_WORDS = { day: 'daily', month: 'monthly' };

// For the list: "100 / 60 s".
export function rateText(rate) {
  return shortCount(rate.limit) + ' / ' + rate.window_seconds + ' s';
}

// For the list: "quota 950 left, refills 1,000 monthly". The list's count is the stored
// one, up to a minute behind; the details show the live one.
export function quotaText(quota) {
  return 'quota ' + quotaLeft(quota);
}

// For a Quota column: "950 left, refills 1,000 monthly".
export function quotaLeft(quota) {
  let text = shortCount(quota.remaining) + ' left';
  if (quota.refill) text += ', refills ' + shortCount(quota.refill.amount) + ' ' + REFILL_WORDS[quota.refill.every];
  return text;
}

// A named limit for a list: "per_second: 10 / 1 s".
export function limitText(limit) {
  return limit.name + ': ' + rateText(limit);
}

// For the details and tooltips: "100 requests per 60 seconds (1 minute)".
export function rateDetail(rate) {
  const seconds = rate.window_seconds;
  let text =
    count(rate.limit) + (rate.limit === 1 ? ' request' : ' requests') +
    ' per ' + seconds + (seconds === 1 ? ' second' : ' seconds');
  if (seconds >= 60) text += ' (' + duration(seconds) + ')';
  return text;
}

export function quotaDetail(quota) {
  let text = count(quota.remaining) + (quota.remaining === 1 ? ' call left' : ' calls left');
  if (!quota.refill) return text + ', no refill';
  const when = quota.refill.every === 'day' ? 'at 00:00 UTC each day' : 'on the 1st of each month, 00:00 UTC';
  return text + ', refills to ' + count(quota.refill.amount) + ' ' + when;
}
