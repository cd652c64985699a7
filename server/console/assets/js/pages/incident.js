// An incident: totals, a timeline of its windows by customer and service,
// the affected customers (sorted and paged by the server through
// ListCustomerEstimates), the estimate's state with its reasons, and the
// revision history with each revision's differences from the one before.

import {h, table, link, errorNote, unavailableNote} from '../dom.js';
import {get, patch, path, estimateCustomers, ApiError} from '../api.js';
import {amount, money, instant, viewerZone, cause, seconds, sub, isZero, decimal} from '../format.js';
import {timeline} from '../charts.js';
import {totalsHeaders, totalsCells, creditsList, pager, stateBadge} from './common.js';

const columns = [
  ['customer_id', 'Customer'],
  ['impact_seconds', 'Impact'],
  ['lost_revenue_net', 'Lost revenue (net)'],
  ['recovery_cost', 'Recovery cost'],
  ['sla_credits', 'SLA credits'],
  ['churn_exposure', 'Churn exposure'],
];

export const pageSize = 25;

// largeEstimate is the number of customers above which the page reads whole
// estimates only when asked.
const largeEstimate = 5000;

export async function render(main, [id], query, ctx, live) {
  const zone = viewerZone();
  const base = `/v1/incidents/${path(id)}`;
  const inc = await get(base);
  if (!live()) return;
  main.append(h('h1', {}, inc.title || id), h('p', {class: 'sub'}, `Incident ${id} · ${cause(inc.cause)}`));

  if (ctx.can('editor')) {
    const input = h('input', {name: 'title', value: inc.title || '', id: 'edit-title', size: 40});
    const msg = h('span', {role: 'status'});
    const form = h('form', {class: 'write inline', 'aria-label': 'Edit title'},
      h('label', {for: 'edit-title'}, 'Title '), input, h('button', {type: 'submit'}, 'Save title'), msg);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const cur = await get(base);
        await patch(base, {title: input.value, etag: cur.etag});
        msg.textContent = ' Saved.';
        main.querySelector('h1').textContent = input.value || id;
      } catch (err) {
        msg.textContent = ' ' + err.message;
      }
    });
    main.append(form);
  }

  const summary = h('section', {'aria-labelledby': 'h-totals'}, h('h2', {id: 'h-totals'}, 'Totals'));
  const state = h('section', {'aria-labelledby': 'h-state'}, h('h2', {id: 'h-state'}, 'Estimate state'));
  const chart = h('section', {'aria-labelledby': 'h-timeline'}, h('h2', {id: 'h-timeline'}, 'Timeline'));
  const custs = h('section', {'aria-labelledby': 'h-customers'}, h('h2', {id: 'h-customers'}, 'Affected customers'));
  const history = h('section', {'aria-labelledby': 'h-history'}, h('h2', {id: 'h-history'}, 'Revision history'));
  main.append(summary, state, chart, custs, history);

  // Customers first: the table is what the page is for.
  // The default order is the largest net lost revenue first; for a large
  // estimate it is the stored order (by customer), which the server
  // streams without decoding the whole estimate; a click on a column sorts.
  let order = query.order || 'customer_id';
  const tokens = query.page ? query.page.split(',') : [];
  let list;
  try {
    list = await estimateCustomers(id, {pageSize, orderBy: order, pageToken: tokens[tokens.length - 1]});
    if (!query.order && list.totalSize <= largeEstimate) {
      order = 'lost_revenue_net desc';
      list = await estimateCustomers(id, {pageSize, orderBy: order});
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      summary.append(h('p', {}, 'This incident has no stored estimate yet.'));
      list = null;
    } else throw e;
  }
  if (!live()) return;
  if (list) {
    const tot = list.totals || [];
    const rows = tot.map((t) => [t.currencyCode, ...totalsCells(t)]);
    if (list.reportingTotals) rows.push([`${list.reportingTotals.currencyCode} (reporting)`, ...totalsCells(list.reportingTotals)]);
    summary.append(
      h('dl', {class: 'facts'},
        h('dt', {}, 'Customers affected'), h('dd', {}, String(list.totalSize)),
        h('dt', {}, 'First window'), h('dd', {}, list.startTime ? instant(list.startTime, zone) : '—', ' · ', list.startTime ? instant(list.startTime, 'UTC') : ''),
        h('dt', {}, 'Last window ends'), h('dd', {}, list.endTime ? instant(list.endTime, zone) : '—'),
        h('dt', {}, 'Revision'), h('dd', {}, `${list.revision}, computed ${instant(list.computeTime, zone)}`)),
      table('Totals per currency', ['Currency', ...totalsHeaders], rows, {class: 'data', id: 'totals-table'}));
    drawCustomers(custs, list, order, tokens, ctx, id);
  }

  // Then the rest, each on its own so one missing API hides nothing else.
  // The state and the history read whole estimates (every customer of
  // every revision shown): for a large incident they wait for a click.
  const lazy = list && list.totalSize > largeEstimate;
  const later = (sec, what, fn) => {
    if (!lazy) return fn().catch((e) => sec.append(errorNote(e)));
    const b = h('button', {type: 'button'}, `Load ${what} (reads the whole estimate: ${list.totalSize} customers)`);
    b.addEventListener('click', () => { b.remove(); fn().catch((e) => sec.append(errorNote(e))); });
    sec.append(b);
    return Promise.resolve();
  };
  await Promise.all([
    later(state, 'the estimate state', () => drawState(state, base)),
    drawTimeline(chart, base, zone).catch((e) => chart.append(errorNote(e))),
    later(history, 'the revision history', () => drawHistory(history, base, zone)),
  ]);
}

function drawCustomers(sec, list, order, tokens, ctx, id) {
  const [field, dir] = order.split(' ');
  const route = (o, toks) => `/incidents/${encodeURIComponent(id)}?order=${encodeURIComponent(o)}` + (toks.length ? '&page=' + toks.join(',') : '');
  const headers = columns.map(([f, label]) => {
    const sorted = f === field;
    const next = sorted && dir !== 'desc' ? f + ' desc' : sorted ? f : f === 'customer_id' ? f : f + ' desc';
    return h('th', {scope: 'col', 'aria-sort': sorted ? (dir === 'desc' ? 'descending' : 'ascending') : 'none'},
      h('button', {type: 'button', class: 'sort', 'data-sort': f, onclick: () => ctx.go(route(next, []))},
        label, sorted ? (dir === 'desc' ? ' ▼' : ' ▲') : ''));
  });
  headers.push(h('th', {scope: 'col'}, 'Statement'));
  const first = tokens.length * pageSize + 1;
  const rows = (list.customers || []).map((c) => [
    link('/customers/' + encodeURIComponent(c.customerId), c.customerId),
    seconds(c.impactSeconds), money(c.lostRevenue && c.lostRevenue.net), money(c.recoveryCost),
    creditsList(c.slaCredits), money(c.churnExposure),
    link(`/statements/${encodeURIComponent(id)}/${encodeURIComponent(c.customerId)}`, 'Impact statement')]);
  sec.append(table(`Customers ${list.customers && list.customers.length ? first : 0}–${first - 1 + (list.customers || []).length} of ${list.totalSize}, sorted by ${order.replace(/_/g, ' ')}`,
    headers, rows, {class: 'data', id: 'customers-table'}));
  sec.append(pager({
    label: 'Pages of affected customers',
    hasPrev: tokens.length > 0, hasNext: !!list.nextPageToken,
    onPrev: () => ctx.go(route(order, tokens.slice(0, -1))),
    onNext: () => ctx.go(route(order, [...tokens, list.nextPageToken])),
  }));
}

async function drawState(sec, base) {
  // state and staleReasons are fields of the stored estimate; a server
  // without them has no freshness tracking.
  let est;
  try {
    est = await get(`${base}/estimate`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) { sec.append(h('p', {}, 'No stored estimate.')); return; }
    throw e;
  }
  if (!est.state) {
    sec.append(unavailableNote('Estimate state (current or stale)'));
    return;
  }
  sec.append(h('p', {id: 'estimate-state'}, 'The stored estimate is ', stateBadge(est.state),
    est.state === 'STALE' ? ': data it was computed from changed since.' : ': computed from the data stored now.'));
  if ((est.staleReasons || []).length) {
    sec.append(h('p', {}, 'Changed since:'), h('ul', {}, est.staleReasons.map((r) => h('li', {}, h('code', {}, r)))));
  }
}

async function drawTimeline(sec, base, zone) {
  const ws = await get(`${base}/windows`, {pageSize: 1000});
  const list = ws.outageWindows || [];
  const by = new Map();
  for (const w of list) {
    const key = `${w.customerId} · ${w.service}`;
    if (!by.has(key)) by.set(key, []);
    by.get(key).push({start: w.startTime, end: w.endTime, frac: w.impactFraction || '1'});
  }
  const rows = [...by.entries()].sort(([a], [b]) => a.localeCompare(b)).slice(0, 60).map(([label, spans]) => ({label, spans}));
  sec.append(timeline(rows, {zone, caption: 'Outage windows by customer and service'}));
  sec.append(h('p', {class: 'note'}, `${list.length} windows` + (ws.nextPageToken ? ' (the first 1,000)' : '') +
    (by.size > 60 ? `, the first 60 of ${by.size} customer·service rows` : '') + `; times in ${zone}. Lighter bars are partial impact.`));
}

async function drawHistory(sec, base, zone) {
  const revs = await get(`${base}/estimate:listRevisions`, {pageSize: 10});
  const list = revs.estimates || [];
  if (!list.length) { sec.append(h('p', {}, 'No revisions.')); return; }
  const rows = list.map((e, i) => {
    const prev = list[i + 1];
    return [String(e.revision), instant(e.computeTime, zone), e.source || '—', e.actor || '—', e.modelVersion || '—',
      prev ? differences(prev, e) : 'first estimate'];
  });
  sec.append(table('Revisions, newest first, with the change in each total from the revision before',
    ['Revision', 'Computed', 'Source', 'For', 'Model', 'Differences'], rows, {class: 'data', id: 'revisions-table'}));
}

const figures = [['lostRevenueGross', 'lost revenue gross'], ['lostRevenueNet', 'lost revenue net'],
  ['recoveryCost', 'recovery cost'], ['slaCredits', 'SLA credits'], ['churnExposure', 'churn exposure']];

// differences lists new − old of every total that moved, exactly.
function differences(old, neu) {
  const byCur = (e) => Object.fromEntries((e.totals || []).map((t) => [t.currencyCode, t]));
  const a = byCur(old), b = byCur(neu);
  const out = [];
  for (const cur of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    for (const [k, words] of figures) {
      const d = sub((b[cur] || {})[k] || '0', (a[cur] || {})[k] || '0');
      if (!isZero(d)) out.push(`${words} ${d.startsWith('-') ? '' : '+'}${amount(cur, d)}`);
    }
  }
  return out.length ? h('ul', {class: 'plain'}, out.map((x) => h('li', {}, x))) : 'no change in the totals';
}

export {decimal};
