// Incidents: cause, time, customers affected and totals in the reporting
// currency, newest first, filtered by cause and by time. The server
// filters, orders and pages (ListIncidents with filter and order_by); the
// filters and the page are in the URL, so a view can be shared. Each row's
// totals and count come from the stored estimate's first page
// (estimateCustomers with one customer: totals and total_size).

import {h, table, link} from '../dom.js';
import {get, estimateCustomers, pool, ApiError} from '../api.js';
import {amount, instant, viewerZone, cause, causes} from '../format.js';
import {pager} from './common.js';

export const pageSize = 25;

// dayStart is local midnight of a "YYYY-MM-DD" date in the viewer's zone,
// plus days.
function dayStart(date, days = 0) {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}

export async function render(main, _params, query, ctx, live) {
  const zone = viewerZone();
  main.append(h('h1', {}, 'Incidents'));
  const form = h('form', {class: 'filters', 'aria-label': 'Filter incidents'},
    h('label', {}, 'Cause ', h('select', {name: 'cause'}, h('option', {value: ''}, 'Any cause'),
      causes.map((c) => h('option', {value: c, selected: query.cause === c}, cause(c))))),
    h('label', {}, `From (${zone}) `, h('input', {type: 'date', name: 'from', value: query.from || ''})),
    h('label', {}, `Until (${zone}, inclusive) `, h('input', {type: 'date', name: 'until', value: query.until || ''})),
    h('button', {type: 'submit'}, 'Apply'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const k of ['cause', 'from', 'until']) if (form.elements[k].value) q.set(k, form.elements[k].value);
    ctx.go('/incidents' + (q.toString() ? '?' + q : ''));
  });
  main.append(form);

  // The incidents overlapping [from, until + 1 day) in the viewer's zone.
  const terms = [];
  if (query.cause) terms.push(`cause = ${query.cause}`);
  if (/^\d{4}-\d\d-\d\d$/.test(query.from || '')) terms.push(`end_time > "${dayStart(query.from)}"`);
  if (/^\d{4}-\d\d-\d\d$/.test(query.until || '')) terms.push(`start_time < "${dayStart(query.until, 1)}"`);
  const tokens = query.page ? query.page.split(',') : [];
  const page = await get('/v1/incidents', {pageSize, filter: terms.join(' AND '), orderBy: 'start_time desc', pageToken: tokens[tokens.length - 1]});
  if (!live()) return;
  const rows = await pool(page.incidents || [], 6, async (inc) => {
    try {
      return {inc, summary: await estimateCustomers(inc.incidentId, {pageSize: 1})};
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return {inc, summary: null};
      throw e;
    }
  });
  if (!live()) return;
  const first = tokens.length * pageSize + 1;
  const filtered = terms.length ? ' matching the filter' : '';
  main.append(table(rows.length ? `Incidents ${first}–${first + rows.length - 1}${filtered}, newest first; times in ${zone}` : `No incidents${filtered}.`,
    ['Incident', 'Cause', 'Started', 'Customers affected', 'Lost revenue (net)', 'Recovery cost', 'SLA credits', 'Churn exposure'],
    rows.map(({inc, summary}) => {
      const t = summary && (summary.reportingTotals || (summary.totals || [])[0]);
      const several = summary && !summary.reportingTotals && (summary.totals || []).length > 1;
      const fig = (k) => (t ? amount(t.currencyCode, t[k]) + (several ? ' (+ other currencies)' : '') : 'not estimated');
      return [h('span', {}, link('/incidents/' + encodeURIComponent(inc.incidentId), inc.incidentId), inc.title ? h('br') : null, inc.title || ''),
        cause(inc.cause), inc.startTime ? instant(inc.startTime, zone) : 'no windows yet', summary ? String(summary.totalSize) : '—',
        fig('lostRevenueNet'), fig('recoveryCost'), fig('slaCredits'), fig('churnExposure')];
    }), {class: 'data', id: 'incidents-table'}));
  const route = (toks) => {
    const q = new URLSearchParams();
    for (const k of ['cause', 'from', 'until']) if (query[k]) q.set(k, query[k]);
    if (toks.length) q.set('page', toks.join(','));
    return '/incidents' + (q.toString() ? '?' + q : '');
  };
  main.append(pager({label: 'Pages of incidents', hasPrev: tokens.length > 0, hasNext: !!page.nextPageToken,
    onPrev: () => ctx.go(route(tokens.slice(0, -1))), onNext: () => ctx.go(route([...tokens, page.nextPageToken]))}));
}
