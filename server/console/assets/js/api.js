// The JSON gateway, as any client calls it. The session cookie (when
// signed in) goes along by itself; writes carry the session's CSRF token.

let csrf = '';
export function setCSRF(token) { csrf = token || ''; }

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// unavailable tells an endpoint this server does not serve (an unknown
// route: 404 "Not Found", 405, 501) from a resource that does not exist.
export function unavailable(err) {
  if (!(err instanceof ApiError)) return false;
  if (err.status === 501 || err.status === 405) return true;
  if (err.status !== 404) return false;
  const msg = (err.body && err.body.message) || '';
  // A verb the server lacks can also reach GetContract as part of an id.
  return msg === 'Not Found' || msg === '' || /:[a-z]+[A-Za-z]* not found$/.test(msg);
}

export function path(...segments) {
  return segments.map((x) => encodeURIComponent(x)).join('/');
}

export async function call(method, url, {query, body} = {}) {
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
      else if (v !== undefined && v !== null && v !== '') q.set(k, v);
    }
    const qs = q.toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  const headers = {Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  const r = await fetch(url, {method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await r.text();
  let j = null;
  try { j = text ? JSON.parse(text) : null; } catch { j = null; }
  if (!r.ok) throw new ApiError(r.status, j);
  return j;
}

export const get = (url, query) => call('GET', url, {query});
export const post = (url, body, query) => call('POST', url, {body: body === undefined ? {} : body, query});
export const patch = (url, body, query) => call('PATCH', url, {body, query});
export const del = (url) => call('DELETE', url);

// estimateCustomers pages an incident's stored estimate by customer,
// sorted by the server (ImpactStatementService.ListCustomerEstimates, GET
// /v1/incidents/{incident}/estimate/customers). Every page calls it here,
// so a rename of the method touches one line.
export const estimateCustomers = (incidentId, query) => get(`/v1/incidents/${path(incidentId)}/estimate/customers`, query);

// optional runs an API call whose endpoint this server may lack: it
// resolves to {unavailable: true} instead of failing then.
export async function optional(promise) {
  try {
    return {value: await promise};
  } catch (e) {
    if (unavailable(e)) return {unavailable: true};
    throw e;
  }
}

// pool runs fn over items with at most n calls in flight.
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({length: Math.min(n, items.length)}, worker));
  return out;
}
