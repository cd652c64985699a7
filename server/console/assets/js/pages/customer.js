// A customer: contracts; this period's headroom per contract (uptime bar
// against the tier ladder, seconds to the next tier); statements by
// period; credit lines with state and deadline; incidents that touched it.

import {h, table, link, errorNote, unavailableNote} from '../dom.js';
import {get, path, optional, pool} from '../api.js';
import {money, amount, instant, viewerZone, seconds, percent, decimal} from '../format.js';
import {uptimeBar} from '../charts.js';
import {stateBadge} from './common.js';

export async function render(main, [id], _query, ctx, live) {
  scanned = null;
  const zone = viewerZone();
  const base = `/v1/customers/${path(id)}`;
  const [cust, ks] = await Promise.all([get(base), get(`${base}/contracts`, {pageSize: 1000})]);
  if (!live()) return;
  const contracts = ks.contracts || [];
  main.append(h('h1', {}, cust.displayName || id),
    h('dl', {class: 'facts'},
      h('dt', {}, 'Customer'), h('dd', {}, id),
      h('dt', {}, 'Currency'), h('dd', {}, cust.currencyCode),
      h('dt', {}, 'Time zone'), h('dd', {}, cust.timeZone || 'UTC'),
      cust.labels && Object.keys(cust.labels).length ? [h('dt', {}, 'Labels'), h('dd', {}, Object.entries(cust.labels).map(([k, v]) => `${k}=${v}`).join(', '))] : null));

  main.append(h('section', {'aria-labelledby': 'h-contracts'}, h('h2', {id: 'h-contracts'}, 'Contracts'),
    table(null, ['Service', 'Fee', 'Billing', 'Time zone', 'Credit tiers', 'Claim policy'],
      contracts.map((k) => [k.service, amount(cust.currencyCode, k.monthlyFee) + ' a month',
        k.billingPeriod === 'QUARTERLY' ? 'quarterly' : 'monthly', k.timeZone || 'UTC',
        (k.tiers || []).map((t) => `${t.inclusive ? '≤' : '<'} ${t.uptimeBelow} % → ${t.creditPercent} %`).join('; ') || 'none',
        k.claimPolicy ? claimPolicy(k.claimPolicy) : '—']), {class: 'data', id: 'contracts-table'})));

  const head = h('section', {'aria-labelledby': 'h-headroom'}, h('h2', {id: 'h-headroom'}, 'This period’s headroom'));
  const stm = h('section', {'aria-labelledby': 'h-statements'}, h('h2', {id: 'h-statements'}, 'Statements by period'));
  const lines = h('section', {'aria-labelledby': 'h-lines'}, h('h2', {id: 'h-lines'}, 'Credit lines'));
  const incs = h('section', {'aria-labelledby': 'h-incidents'}, h('h2', {id: 'h-incidents'}, 'Incidents that touched this customer'));
  main.append(head, stm, lines, incs);

  const touched = new Set();
  await Promise.all([
    drawHeadroom(head, base, contracts, cust).catch((e) => head.append(errorNote(e))),
    drawStatements(stm, base, contracts, touched, zone).catch((e) => stm.append(errorNote(e))),
    drawLines(lines, base, contracts, zone).catch((e) => lines.append(errorNote(e))),
  ]);
  await drawIncidents(incs, id, touched).catch((e) => incs.append(errorNote(e)));
}

function claimPolicy(p) {
  if (p.mode === 'ON_REQUEST') {
    const rule = p.deadlineDays ? `${p.deadlineDays} days after the period` : p.deadlineBillingPeriods ? `end of the ${p.deadlineBillingPeriods}. billing period after` : '';
    return `on request${rule ? ', ' + rule : ''}`;
  }
  return p.mode === 'AUTOMATIC' ? 'automatic' : (p.mode || '—');
}

async function drawHeadroom(sec, base, contracts, cust) {
  const got = await pool(contracts, 4, (k) => optional(get(`${base}/contracts/${path(k.service)}:headroom`)));
  if (got.some((g) => g.unavailable)) { sec.append(unavailableNote('Headroom')); return; }
  got.forEach(({value: hr}, i) => {
    const k = contracts[i];
    const tiers = hr.tiers || [];
    const next = tiers.find((t) => t.reachable && t.additionalDowntimeSeconds !== undefined && t.additionalDowntimeSeconds !== '');
    sec.append(h('article', {class: 'headroom'},
      h('h3', {}, `${k.service} · period ${hr.period}`),
      uptimeBar(hr.uptimePercent, tiers.length ? tiers : (k.tiers || []), {label: `${k.service} uptime`}),
      h('p', {}, `Uptime ${hr.uptimePercent} % this period (${seconds(hr.downtimeSeconds)} down of ${decimal(hr.periodSeconds)} s); credit ${percent(hr.creditPercent)}, ${money(hr.creditAmount)}. `,
        next ? `Next tier (${next.inclusive ? '≤' : '<'} ${next.uptimeBelow} % → ${next.creditPercent} %, ${money(next.creditAmount)}) after ${seconds(next.additionalDowntimeSeconds)} more downtime.` : 'No further tier is reachable this period.')));
  });
}

async function drawStatements(sec, base, contracts, touched, zone) {
  const got = await pool(contracts, 4, (k) => optional(get(`${base}/contracts/${path(k.service)}/statements`, {pageSize: 24})));
  if (got.some((g) => g.unavailable)) {
    sec.append(unavailableNote('The list of every statement by period'));
    await statementsOfIncidents(sec, base, contracts, touched);
    return;
  }
  const rows = [];
  got.forEach(({value}, i) => {
    for (const st of value.slaStatements || value.statements || []) {
      for (const sh of st.incidents || []) touched.add(sh.incidentId);
      rows.push([contracts[i].service, (st.name || '').split('/').pop(), seconds(st.downtimeSeconds), `${st.uptimePercent} %`,
        percent(st.creditPercent), money(st.creditAmount) + (st.belowMinimum ? ' (below the minimum, not owed)' : '')]);
    }
  });
  sec.append(rows.length ? table(null, ['Service', 'Period', 'Downtime', 'Uptime', 'Credit %', 'Credit'], rows, {class: 'data', id: 'statements-table'})
    : h('p', {}, 'No statements.'));
}

// statementsOfIncidents shows the statements of the periods the
// customer's incidents touched (GetContractStatement, named by each impact
// statement), with the period's uptime against the tier ladder.
async function statementsOfIncidents(sec, base, contracts, touched) {
  const id = decodeURIComponent(base.split('/').pop());
  await findIncidents(id, touched);
  const names = new Set();
  await pool([...touched], 4, async (inc) => {
    const st = await get(`/v1/incidents/${path(inc)}/impactStatements/${path(id)}`);
    for (const p of st.periods || []) names.add(p.statement);
  });
  const byService = Object.fromEntries(contracts.map((k) => [k.service, k]));
  const sts = await pool([...names].sort(), 4, (n) => get('/v1/' + n.split('/').map(encodeURIComponent).join('/')));
  if (!sts.length) { sec.append(h('p', {}, 'No statements.')); return; }
  sec.append(h('p', {}, 'The periods its incidents touched:'));
  sec.append(table(null, ['Service', 'Period', 'Downtime', 'Uptime against the tiers', 'Credit %', 'Credit'],
    sts.map((st) => [st.service, st.name.split('/').pop(), seconds(st.downtimeSeconds),
      h('div', {}, `${st.uptimePercent} %`, uptimeBar(st.uptimePercent, (byService[st.service] || {}).tiers || [], {label: `${st.service} ${st.name.split('/').pop()} uptime`})),
      percent(st.creditPercent), money(st.creditAmount) + (st.belowMinimum ? ' (below the minimum, not owed)' : '')]),
    {class: 'data', id: 'statements-table'}));
}

async function drawLines(sec, base, contracts, zone) {
  const got = await pool(contracts, 4, (k) => optional(get(`${base}/contracts/${path(k.service)}/creditLines`, {pageSize: 100})));
  if (got.some((g) => g.unavailable)) { sec.append(unavailableNote('Credit lines')); return; }
  const rows = [];
  got.forEach(({value}, i) => {
    for (const l of value.creditLines || []) {
      rows.push([contracts[i].service, (l.name || '').split('/').pop(), stateBadge(l.state), money(l.amount),
        l.claimDeadline ? instant(l.claimDeadline, contracts[i].timeZone || 'UTC') + ' · ' + instant(l.claimDeadline, zone) : '—']);
    }
  });
  sec.append(rows.length ? table(null, ['Service', 'Period', 'State', 'Amount', 'Claim deadline (contract zone · yours)'], rows, {class: 'data', id: 'lines-table'})
    : h('p', {}, 'No credit lines.'));
}

let scanned = null;

// findIncidents adds the incidents with a window of the customer, looking
// through the first 50 incidents, once per page view.
async function findIncidents(id, touched) {
  if (!scanned) {
    scanned = (async () => {
      const incs = await get('/v1/incidents', {pageSize: 50});
      const hits = await pool(incs.incidents || [], 6, async (inc) => {
        const ws = await get(`/v1/incidents/${path(inc.incidentId)}/windows`, {pageSize: 1, filter: `customer_id="${id}"`});
        return (ws.outageWindows || []).length ? inc.incidentId : null;
      });
      return {hits: hits.filter(Boolean), more: !!incs.nextPageToken};
    })();
  }
  const r = await scanned;
  r.hits.forEach((x) => touched.add(x));
  return r.more;
}

async function drawIncidents(sec, id, touched) {
  let note = '';
  if (!touched.size || scanned) {
    // Without the statement list, look through the first incidents for
    // windows of this customer.
    if (await findIncidents(id, touched)) note = 'Looked through the first 50 incidents.';
  }
  const ids = [...touched].sort();
  sec.append(ids.length ? h('ul', {id: 'customer-incidents'}, ids.map((x) => h('li', {},
    link('/incidents/' + encodeURIComponent(x), x), ' — ',
    link(`/statements/${encodeURIComponent(x)}/${encodeURIComponent(id)}`, 'impact statement')))) : h('p', {}, 'None.'));
  if (note) sec.append(h('p', {class: 'note'}, note));
}
