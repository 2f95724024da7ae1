// The admin API client: every call the page makes goes through `api`, to this page's own
// API (relative URLs, same origin), with the admin credential as an Authorization header
// only (no cookies, no redirects followed). A 401 throws an AuthError (sign in again); any
// other refusal, a 403 for a role too low included, throws the API's own `detail`.
import { state } from './state.js';

export class AuthError extends Error {}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: 'Bearer ' + state.token, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
  } catch (err) {
    throw new Error('Could not reach the admin API. Check your connection and try again.');
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (response.status === 401) {
    throw new AuthError((data && data.detail) || 'The admin credential was not accepted.');
  }
  if (!response.ok) {
    const detail = data && typeof data.detail === 'string' ? data.detail : '';
    throw new Error(detail || 'The admin API answered ' + response.status + '.');
  }
  return data;
}

export function keysUrl(cursor, limit) {
  const params = new URLSearchParams();
  params.set('limit', String(limit));
  if (state.filters.status) params.set('status', state.filters.status);
  if (state.filters.q) params.set('q', state.filters.q);
  if (state.filters.unused_days) params.set('unused_days', state.filters.unused_days);
  if (cursor) params.set('cursor', cursor);
  return 'api/keys?' + params.toString();
}

export const keyUrl = (id) => 'api/keys/' + encodeURIComponent(id);

export function auditUrl({ key_id, actor_id, action, cursor, limit }) {
  const params = new URLSearchParams();
  params.set('limit', String(limit));
  if (key_id) params.set('key_id', key_id);
  if (actor_id) params.set('actor_id', actor_id);
  if (action) params.set('action', action);
  if (cursor) params.set('cursor', cursor);
  return 'api/audit?' + params.toString();
}

export const adminUrl = (id) => 'api/admins/' + encodeURIComponent(id);

export function identitiesUrl({ q, cursor, limit }) {
  const params = new URLSearchParams();
  params.set('limit', String(limit));
  if (q) params.set('q', q);
  if (cursor) params.set('cursor', cursor);
  return 'api/identities?' + params.toString();
}

export const identityUrl = (id) => 'api/identities/' + encodeURIComponent(id);

// GET api/usage for one key (`key_id`), one identity (`identity_id`) or, with neither, the
// whole deployment; `granularity` hour (the last 24 hours) or day (the last 30 days).
export function usageUrl({ key_id, identity_id, granularity }) {
  const params = new URLSearchParams();
  if (key_id) params.set('key_id', key_id);
  if (identity_id) params.set('identity_id', identity_id);
  params.set('granularity', granularity);
  return 'api/usage?' + params.toString();
}

// GET api/usage/top: the keys with the most verifications (`by` volume) or refusals (`by`
// refusals) over the last `days` UTC days, today included, at most `limit` of them.
export function usageTopUrl({ by, days, limit }) {
  const params = new URLSearchParams();
  params.set('by', by);
  params.set('days', String(days));
  params.set('limit', String(limit));
  return 'api/usage/top?' + params.toString();
}
