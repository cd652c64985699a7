// Incidents: cause, time, customers affected and totals in the reporting
// currency, newest first, filtered by time and cause. The list pages
// through ListIncidents; each row's totals and span come from the paged
// estimate (ListCustomerEstimates with one customer), its count from
// total_size.

import {h, table, link, errorNote} from '../dom.js';
import {get, path, pool, ApiError} from '../api.js';
import {amount, instant, viewerZone, cause, causes} from '../format.js';

export async function render(main, _params, query, ctx, live) {
  const zone = viewerZone();
  main.append(h('h1', {}, 'Incidents'));
  const form = h('form', {class: 'filters', 'aria-label': 'Filter incidents'},
    h('label', {}, 'Cause ', h('select', {name: 'cause'}, h('option', {value: ''}, 'Any cause'),
      causes.map((c) => h('option', {value: c, selected: query.cause === c}, cause(c))))),
    h('label', {}, `From (${zone}) `, h('input', {type: 'date', name: 'from', value: query.from || ''})),
    h('label', {}, `Until (${zone}) `, h('input', {type: 'date', name: 'until', value: query.until || ''})),
    h('button', {type: 'submit'}, 'Apply'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const k of ['cause', 'from', 'until']) if (form.elements[k].value) q.set(k, form.elements[k].value);
    ctx.go('/incidents' + (q.toString() ? '?' + q : ''));
  });
  main.append(form);
  const holder = h('div', {});
  const more = h('div', {});
  main.append(holder, more);

  const rows = [];
  let token = '';
  const from = query.from ? Date.parse(query.from + 'T00:00:00') : null;
  const until = query.until ? Date.parse(query.until + 'T00:00:00') + 86400000 : null;

  async function loadPage() {
    const page = await get('/v1/incidents', {pageSize: 50, pageToken: token});
    token = page.nextPageToken || '';
    const got = await pool(page.incidents || [], 6, async (inc) => {
      const row = {inc, summary: null};
      try {
        row.summary = await get(`/v1/incidents/${path(inc.incidentId)}/estimate/customers`, {pageSize: 1});
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        const ws = await get(`/v1/incidents/${path(inc.incidentId)}/windows`, {pageSize: 1000});
        const starts = (ws.outageWindows || ws.windows || []).map((w) => w.startTime).sort();
        row.start = starts[0];
      }
      row.start = row.start || (row.summary && row.summary.startTime) || '';
      return row;
    });
    if (!live()) return;
    rows.push(...got);
    draw();
  }

  function draw() {
    const shown = rows.filter(({inc, start}) => {
      if (query.cause && (inc.cause || 'UNKNOWN') !== query.cause) return false;
      const t = start ? Date.parse(start) : null;
      if (from !== null && (t === null || t < from)) return false;
      if (until !== null && (t === null || t >= until)) return false;
      return true;
    }).sort((a, b) => (b.start || '').localeCompare(a.start || '') || a.inc.incidentId.localeCompare(b.inc.incidentId));
    holder.replaceChildren(table(`${shown.length} of ${rows.length} incidents loaded, newest first; times in ${zone}`,
      ['Incident', 'Cause', 'Started', 'Customers affected', 'Lost revenue (net)', 'Recovery cost', 'SLA credits', 'Churn exposure'],
      shown.map(({inc, summary, start}) => {
        const t = summary && (summary.reportingTotals || (summary.totals || [])[0]);
        const several = summary && !summary.reportingTotals && (summary.totals || []).length > 1;
        const fig = (k) => (t ? amount(t.currencyCode, t[k]) + (several ? ' (+ other currencies)' : '') : 'not estimated');
        return [h('span', {}, link('/incidents/' + encodeURIComponent(inc.incidentId), inc.incidentId), inc.title ? h('br') : null, inc.title || ''),
          cause(inc.cause), start ? instant(start, zone) : '—', summary ? String(summary.totalSize) : '—',
          fig('lostRevenueNet'), fig('recoveryCost'), fig('slaCredits'), fig('churnExposure')];
      }), {class: 'data', id: 'incidents-table'}));
    more.replaceChildren(token ? h('button', {type: 'button', onclick: () => loadPage().catch((e) => more.append(errorNote(e)))}, 'Load more incidents') : '');
  }

  await loadPage();
}
