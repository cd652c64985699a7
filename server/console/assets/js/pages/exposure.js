// Exposure: the what-if form (selector, start, durations) posting
// SimulateOutage, a chart of owed credit against duration, and the top
// customers of the longest duration.

import {h, table, link, errorNote, unavailableNote} from '../dom.js';
import {post, unavailable} from '../api.js';
import {money, amount, viewerZone, parseDuration, durationLabel, causes, cause} from '../format.js';
import {creditCurve} from '../charts.js';

function list(v) { return String(v || '').split(',').map((x) => x.trim()).filter(Boolean); }

export async function render(main, _params, query, ctx, live) {
  const zone = viewerZone();
  main.append(h('h1', {}, 'Exposure: what if it went down now?'));
  // Probe: a simulation with no selector is refused as invalid by a server
  // that has the API, and "not found" by one that does not.
  try {
    await post('/v1/exposure:simulate', {});
  } catch (e) {
    if (unavailable(e)) { main.append(unavailableNote('What-if simulation')); return; }
  }
  if (!live()) return;
  const now = new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const form = h('form', {class: 'whatif', 'aria-label': 'What-if outage'},
    h('label', {}, 'Customers (ids, comma-separated; empty for all) ', h('input', {name: 'customers', value: query.customers || ''})),
    h('label', {}, 'Services (comma-separated) ', h('input', {name: 'services', value: query.services || ''})),
    h('label', {}, 'Labels (key=value, comma-separated) ', h('input', {name: 'labels', value: query.labels || ''})),
    h('label', {}, `Start (${zone}) `, h('input', {type: 'datetime-local', name: 'start', value: query.start || now, required: true})),
    h('label', {}, 'Durations (e.g. 15m, 1h, 4h, 1d) ', h('input', {name: 'durations', value: query.durations || '15m, 1h, 4h, 12h, 1d', required: true})),
    h('label', {}, 'Impact fraction ', h('input', {name: 'fraction', value: query.fraction || '1', inputmode: 'decimal'})),
    h('label', {}, 'Cause ', h('select', {name: 'cause'}, causes.map((c) => h('option', {value: c, selected: (query.cause || 'UNKNOWN') === c}, cause(c))))),
    h('label', {}, 'Top customers ', h('input', {name: 'top', value: query.top || '10', inputmode: 'numeric'})),
    h('button', {type: 'submit'}, 'Simulate'));
  const out = h('div', {id: 'whatif-result', 'aria-live': 'polite'});
  main.append(form, out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const k of ['customers', 'services', 'labels', 'start', 'durations', 'fraction', 'cause', 'top']) if (form.elements[k].value) q.set(k, form.elements[k].value);
    q.set('run', '1');
    ctx.go('/exposure?' + q);
  });
  if (!query.run) return;

  const durations = list(query.durations || form.elements.durations.value).map(parseDuration);
  if (durations.some((d) => !Number.isFinite(d) || d <= 0)) { out.append(errorNote(new Error('durations must look like 15m, 1h, 1d'))); return; }
  const labels = Object.fromEntries(list(query.labels).map((kv) => kv.split('=').map((x) => x.trim())));
  const start = new Date(query.start || form.elements.start.value); // the viewer's zone
  const body = {
    selector: {customerIds: list(query.customers), services: list(query.services), labels},
    startTime: start.toISOString(),
    durations: durations.map((d) => d + 's'),
    impactFraction: query.fraction || '1',
    cause: query.cause || 'UNKNOWN',
    topN: Number(query.top || 10),
  };
  let res;
  try {
    res = await post('/v1/exposure:simulate', body);
  } catch (err) {
    out.append(unavailable(err) ? unavailableNote('What-if simulation') : errorNote(err));
    return;
  }
  if (!live()) return;
  const results = res.results || res.simulationResults || [];
  const points = results.map((r, i) => {
    const t = r.reportingTotals || (r.totals || [])[0] || {currencyCode: '', slaCredits: '0'};
    return {seconds: durations[i], amount: t.slaCredits || '0', currency: t.currencyCode};
  });
  out.append(h('h2', {}, 'Owed credit by duration'), creditCurve(points),
    table('Totals by duration', ['Duration', 'Contracts', 'SLA credits', 'Lost revenue (net)', 'Churn exposure'],
      results.map((r, i) => {
        const t = r.reportingTotals || (r.totals || [])[0] || {};
        return [durationLabel(durations[i]), String(r.selectedContracts ?? '—'), amount(t.currencyCode, t.slaCredits),
          amount(t.currencyCode, t.lostRevenueNet), amount(t.currencyCode, t.churnExposure)];
      }), {class: 'data', id: 'whatif-totals'}));
  const last = results[results.length - 1];
  if (last) {
    out.append(h('h2', {}, `Top customers at ${durationLabel(durations[durations.length - 1])}`),
      table(null, ['Customer', 'Lost revenue (net)', 'Churn exposure', 'Marginal credits'],
        (last.top || []).map((c) => [link('/customers/' + encodeURIComponent(c.customerId), c.customerId),
          money(c.lostRevenue && c.lostRevenue.net), money(c.churnExposure),
          h('ul', {class: 'plain'}, (c.marginalCredits || c.credits || []).map((m) => h('li', {}, `${m.service}: ${money(m.marginal)} (${money(m.creditBefore)} → ${money(m.creditAfter)})`)))]),
        {class: 'data', id: 'whatif-top'}));
  }
}
