// Exposure: the what-if form (selector, start, durations) posting
// ExposureService.SimulateOutage, a chart of the owed (marginal) credit
// against duration with one mark per duration, the totals per duration
// and the top customers; and, for the same selector, the contracts
// closest to their next credit tier this period (ListContractHeadroom).
// Every parameter is in the URL, so a what-if can be shared.

import {h, table, link} from '../dom.js';
import {get, post} from '../api.js';
import {money, amount, instant, viewerZone, parseDuration, durationLabel, causes, cause, seconds, percent} from '../format.js';
import {creditCurve} from '../charts.js';

function list(v) { return String(v || '').split(',').map((x) => x.trim()).filter(Boolean); }

// localInput is an instant as a datetime-local value in the viewer's zone.
function localInput(ms) {
  return new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function selectorOf(query) {
  const labels = Object.fromEntries(list(query.labels).map((kv) => kv.split('=').map((x) => x.trim())));
  return {customerIds: list(query.customers), services: list(query.services), labels};
}

export async function render(main, _params, query, ctx, live) {
  const zone = viewerZone();
  main.append(h('h1', {}, 'Exposure: what if it went down?'));
  const now = Date.parse(ctx.session.now) || Date.now();
  const field = (name, text, attrs = {}) => {
    const id = 'x-' + name;
    return h('label', {for: id}, text, h('input', {...attrs, id, name, value: query[name] || attrs.value || ''}));
  };
  const form = h('form', {class: 'whatif', 'aria-label': 'What-if outage', id: 'whatif-form'},
    field('customers', 'Customers (ids, comma-separated; empty: all)'),
    field('services', 'Services (comma-separated)'),
    field('labels', 'Labels (key=value, comma-separated)'),
    field('start', `Start (${zone})`, {type: 'datetime-local', value: localInput(now), required: true}),
    field('durations', 'Durations (e.g. 15m, 1h, 4h, 1d; at most 10)', {value: '15m, 1h, 4h, 12h, 1d', required: true}),
    field('fraction', 'Impact fraction (0–1]', {value: '1', inputmode: 'decimal'}),
    h('label', {for: 'x-cause'}, 'Cause', h('select', {id: 'x-cause', name: 'cause'},
      causes.map((c) => h('option', {value: c, selected: (query.cause || 'UNKNOWN') === c}, cause(c))))),
    field('top', 'Top customers', {value: '10', inputmode: 'numeric'}),
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

  const headroom = h('section', {'aria-labelledby': 'h-headroom'}, h('h2', {id: 'h-headroom'}, 'Closest to the next credit tier this period'));
  if (query.run) {
    const durations = list(query.durations || form.elements.durations.value).map(parseDuration);
    if (!durations.length || durations.some((d) => !Number.isFinite(d) || d <= 0)) throw new Error('durations must look like 15m, 1h, 1d');
    const start = new Date(query.start || form.elements.start.value); // the viewer's zone
    const res = await post('/v1/exposure:simulate', {
      selector: selectorOf(query),
      startTime: start.toISOString(),
      durations: durations.map((d) => d + 's'),
      impactFraction: query.fraction || '1',
      cause: query.cause || 'UNKNOWN',
      topN: Number(query.top || 10),
    });
    if (!live()) return;
    drawSimulation(out, res.results || [], durations, start, zone);
  }
  main.append(headroom);
  await drawHeadroom(headroom, query);
}

// drawSimulation: one chart (reporting currency, else each currency) with
// a mark per duration, the totals per duration and currency, and the top
// customers of each duration.
function drawSimulation(out, results, durations, start, zone) {
  const first = results[0] || {};
  out.append(h('p', {id: 'whatif-scope'}, `An outage starting ${instant(start.toISOString(), zone)} of `,
    `${first.selectedContracts || 0} contracts of ${first.selectedCustomers || 0} customers.`));
  const series = first.reportingTotals ? [first.reportingTotals.currencyCode] : (first.totals || []).map((t) => t.currencyCode);
  const totalsOf = (r, cur) => (r.reportingTotals && r.reportingTotals.currencyCode === cur ? r.reportingTotals
    : (r.totals || []).find((t) => t.currencyCode === cur)) || {currencyCode: cur, marginalCredit: '0'};
  out.append(h('h2', {}, 'Owed credit by duration'));
  for (const cur of series) {
    out.append(creditCurve(results.map((r, i) => ({seconds: durations[i], amount: totalsOf(r, cur).marginalCredit || '0', currency: cur})),
      {caption: `Owed SLA credit (${cur}${first.reportingTotals ? ', reporting currency' : ''}) by outage duration`}));
  }
  const rows = [];
  results.forEach((r, i) => {
    const all = [...(r.totals || []), ...(r.reportingTotals ? [{...r.reportingTotals, reporting: true}] : [])];
    for (const t of all) {
      const c = t.currencyCode;
      rows.push([durationLabel(durations[i]), c + (t.reporting ? ' (reporting)' : ''), amount(c, t.marginalCredit),
        amount(c, t.lostRevenueGross), amount(c, t.lostRevenueNet), amount(c, t.churnExposure)]);
    }
  });
  out.append(table('Totals by duration and currency: sums of the rounded per-customer figures',
    ['Duration', 'Currency', 'Owed SLA credit', 'Lost revenue (gross)', 'Lost revenue (net)', 'Churn exposure'], rows, {class: 'data', id: 'whatif-totals'}));
  results.forEach((r, i) => {
    const top = r.top || [];
    out.append(h('h3', {}, `Top customers at ${durationLabel(durations[i])}`),
      top.length ? table(`The ${top.length} customers owed the most credit, then losing the most revenue`,
        ['Customer', 'Owed SLA credit', 'Per contract and period', 'Lost revenue (net)', 'Churn exposure'],
        top.map((c) => [link('/customers/' + encodeURIComponent(c.customerId), c.customerId), money(c.marginalCredit),
          h('ul', {class: 'plain'}, (c.marginalCredits || []).map((m) => h('li', {}, `${m.service} ${m.period}: ${money(m.marginal)} (${money(m.creditBefore)} → ${money(m.creditAfter)})`))),
          money(c.lostRevenue && c.lostRevenue.net), money(c.churnExposure)]),
        {class: 'data whatif-top', 'data-duration': String(durations[i])}) : h('p', {}, 'No customer selected.'));
  });
}

async function drawHeadroom(sec, query) {
  const sel = selectorOf(query);
  const q = {pageSize: 10, 'selector.customerIds': sel.customerIds, 'selector.services': sel.services};
  for (const [k, v] of Object.entries(sel.labels)) q[`selector.labels[${k}]`] = v;
  const page = await get('/v1/exposure/headroom', q);
  const hs = page.headroom || [];
  if (!hs.length) { sec.append(h('p', {}, 'No contract selected.')); return; }
  sec.append(table('Contracts by the seconds of one further full outage that reach their next tier, fewest first',
    ['Contract', 'Period', 'Uptime', 'Credit now', 'Next tier', 'Further downtime to reach it', 'Credit there'],
    hs.map((x) => {
      const next = (x.tiers || []).find((t) => t.reachable);
      const tier = next ? `${next.inclusive ? '≤' : '<'} ${next.uptimeBelow} % → ${next.creditPercent} %` : 'none reachable this period';
      return [link('/customers/' + encodeURIComponent(x.contract.split('/')[1]), x.contract.replace(/^customers\//, '').replace('/contracts/', ' · ')),
        x.period, percent(x.uptimePercent), `${money(x.creditAmount)} (${percent(x.creditPercent)})`, tier,
        next ? seconds(next.additionalDowntimeSeconds) : '—', next ? money(next.creditAmount) : '—'];
    }), {class: 'data', id: 'headroom-table'}));
}
