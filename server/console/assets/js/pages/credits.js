// Credits: every credit line by state and deadline, the claimable ones due
// within 7 days first, with the actions the signed-in role may take
// (editors claim; admins approve, reject and issue).

import {h, table, link, errorNote, unavailableNote} from '../dom.js';
import {get, post, path, unavailable} from '../api.js';
import {money, instant, viewerZone} from '../format.js';
import {stateBadge, pager} from './common.js';

const week = 7 * 86400000;
const order = ['CLAIMABLE', 'CLAIMED', 'APPROVED', 'ACCRUING', 'ISSUED', 'REJECTED', 'EXPIRED'];

export async function render(main, _params, query, ctx, live) {
  const zone = viewerZone();
  main.append(h('h1', {}, 'Credits'));
  const tokens = query.page ? query.page.split(',') : [];
  let page;
  try {
    page = await get('/v1/customers/-/contracts/-/creditLines', {pageSize: 200, pageToken: tokens[tokens.length - 1]});
  } catch (e) {
    if (unavailable(e)) { main.append(unavailableNote('The credit ledger')); return; }
    throw e;
  }
  if (!live()) return;
  const lines = page.creditLines || [];
  const now = Date.now();
  const due = lines.filter((l) => l.state === 'CLAIMABLE' && l.claimDeadline && Date.parse(l.claimDeadline) - now <= week)
    .sort((a, b) => a.claimDeadline.localeCompare(b.claimDeadline));
  const msg = h('p', {role: 'status', id: 'credit-msg'});
  main.append(msg);

  const row = (l) => {
    const [, cust, , contract, , period] = (l.name || '').split('/');
    return [link('/customers/' + encodeURIComponent(cust), cust), contract, period, stateBadge(l.state), money(l.amount),
      l.claimDeadline ? instant(l.claimDeadline, zone) : '—', actions(l, ctx, msg)];
  };
  const headers = ['Customer', 'Contract', 'Period', 'State', 'Amount', `Claim deadline (${zone})`, 'Actions'];
  main.append(h('section', {'aria-labelledby': 'h-due'}, h('h2', {id: 'h-due'}, 'Claimable, due within 7 days'),
    due.length ? table(null, headers, due.map(row), {class: 'data', id: 'due-table'}) : h('p', {}, 'None.')));
  for (const st of order) {
    const of = lines.filter((l) => l.state === st).sort((a, b) => (a.claimDeadline || '~').localeCompare(b.claimDeadline || '~'));
    if (!of.length) continue;
    main.append(h('section', {'aria-labelledby': 'h-' + st}, h('h2', {id: 'h-' + st}, st.replace(/_/g, ' ').toLowerCase().replace(/^./, (c) => c.toUpperCase())),
      table(null, headers, of.map(row), {class: 'data lines', 'data-state': st})));
  }
  const route = (toks) => '/credits' + (toks.length ? '?page=' + toks.join(',') : '');
  main.append(pager({label: 'Pages of credit lines', hasPrev: tokens.length > 0, hasNext: !!page.nextPageToken,
    onPrev: () => ctx.go(route(tokens.slice(0, -1))), onNext: () => ctx.go(route([...tokens, page.nextPageToken]))}));
}

function actions(l, ctx, msg) {
  const out = [];
  const act = (verb, label, need, fields = []) => {
    if (!ctx.can(need)) return;
    const inputs = fields.map(([name, text]) => {
      const idf = `f-${verb}-${(l.name || '').replace(/[^a-z0-9]/gi, '-')}-${name}`;
      return [h('label', {for: idf, class: 'sr'}, text), h('input', {id: idf, name, placeholder: text, size: 12})];
    });
    const form = h('form', {class: 'write inline', 'aria-label': `${label} ${l.name}`}, inputs, h('button', {type: 'submit', 'data-action': verb}, label));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = {etag: l.etag};
      for (const [name] of fields) body[name] = form.elements[name].value;
      try {
        await post(`/v1/${l.name.split('/').map(encodeURIComponent).join('/')}:${verb}`, body);
        msg.textContent = `${label}: ${l.name} done.`;
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      } catch (err) {
        msg.textContent = `${label} failed: ${err.message}`;
      }
    });
    out.push(form);
  };
  if (l.state === 'CLAIMABLE' || l.state === 'ACCRUING') act('claim', 'Claim', 'editor', [['reference', 'Claim reference']]);
  if (l.state === 'CLAIMED') {
    act('approve', 'Approve', 'admin');
    act('reject', 'Reject', 'admin', [['reason', 'Reason']]);
  }
  if (l.state === 'APPROVED') act('issue', 'Issue', 'admin', [['billingReference', 'Billing reference']]);
  return out.length ? out : '—';
}
