// Credits: the ledger's credit lines (ListCreditLines of every customer,
// or of one), filtered by state and by claim deadline on the server, with
// the transitions the signed-in role may make: editors claim ON_REQUEST
// lines; admins approve or reject claims and record what billing issued.
// "Claimable, due within 7 days" is measured from impactd's clock (the one
// that decides the lines' states), not the browser's.

import {h, table, link} from '../dom.js';
import {get, post, path} from '../api.js';
import {money, instant, viewerZone} from '../format.js';
import {stateBadge, pager} from './common.js';

export const states = ['ACCRUING', 'CLAIMABLE', 'CLAIMED', 'APPROVED', 'REJECTED', 'ISSUED', 'EXPIRED'];
const stateWords = {
  ACCRUING: 'accruing (the period has not ended)', CLAIMABLE: 'claimable (awaiting the customer’s claim)',
  CLAIMED: 'claimed (awaiting approval)', APPROVED: 'approved (to be issued by billing)', REJECTED: 'rejected',
  ISSUED: 'issued', EXPIRED: 'expired (not claimed in time)',
};
const day = 86400000;
export const pageSize = 50;

// The outcome of the last action, shown after the page redraws.
let flash = '';

function requestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

// left says how long until a deadline, from impactd's now.
function left(deadline, now) {
  const ms = Date.parse(deadline) - now;
  if (ms <= 0) return 'passed';
  const d = Math.floor(ms / day), hrs = Math.floor((ms % day) / 3600000);
  return d ? `${d} d ${hrs} h left` : `${hrs} h ${Math.floor((ms % 3600000) / 60000)} min left`;
}

export async function render(main, _params, query, ctx, live) {
  const zone = viewerZone();
  const now = Date.parse(ctx.session.now) || Date.now();
  main.append(h('h1', {}, 'Credits'));

  const form = h('form', {class: 'filters', 'aria-label': 'Filter credit lines'},
    h('label', {}, 'State ', h('select', {name: 'state'}, h('option', {value: ''}, 'Any state'),
      states.map((st) => h('option', {value: st, selected: query.state === st}, st.toLowerCase())))),
    h('label', {}, 'Customer ', h('input', {name: 'customer', value: query.customer || '', size: 16, placeholder: 'every customer'})),
    h('label', {}, h('input', {type: 'checkbox', name: 'due', value: '7', checked: query.due === '7'}), ' Claimable, due within 7 days'),
    h('button', {type: 'submit'}, 'Apply'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (form.elements.state.value) q.set('state', form.elements.state.value);
    if (form.elements.customer.value.trim()) q.set('customer', form.elements.customer.value.trim());
    if (form.elements.due.checked) q.set('due', '7');
    ctx.go('/credits' + (q.toString() ? '?' + q : ''));
  });
  const msg = h('p', {role: 'status', id: 'credit-msg'}, flash);
  flash = '';
  main.append(form, msg);

  // The server filters (AIP-160 subset of ListCreditLines).
  const terms = [];
  if (query.due === '7') {
    terms.push('state = CLAIMABLE', `claim_deadline < "${new Date(now + 7 * day).toISOString()}"`);
  } else if (query.state) {
    terms.push(`state = ${query.state}`);
  }
  const parent = query.customer ? `customers/${path(query.customer)}` : 'customers/-';
  const tokens = query.page ? query.page.split(',') : [];
  const page = await get(`/v1/${parent}/creditLines`, {pageSize, filter: terms.join(' AND '), pageToken: tokens[tokens.length - 1]});
  if (!live()) return;
  const lines = page.creditLines || [];

  // Each contract's zone, for its deadlines and periods.
  const zones = new Map();
  await Promise.all([...new Set(lines.map((l) => `${l.customerId}/${l.contract}`))].map(async (key) => {
    const [c, k] = key.split('/');
    try {
      zones.set(key, (await get(`/v1/customers/${path(c)}/contracts/${path(k)}`)).timeZone || 'UTC');
    } catch {
      zones.set(key, 'UTC');
    }
  }));
  if (!live()) return;

  const title = query.due === '7' ? 'Claimable, due within 7 days' : query.state ? `Credit lines ${query.state.toLowerCase()}` : 'Credit lines';
  const caption = (query.due === '7' ? `Claimable lines whose claim window closes before ${instant(new Date(now + 7 * day).toISOString(), zone)}` :
    'By customer, contract and period') + (query.customer ? `, of ${query.customer}` : '') + `; deadlines in the contract’s zone, then yours (${zone})`;
  const rows = lines.map((l) => {
    const kz = zones.get(`${l.customerId}/${l.contract}`) || 'UTC';
    const dl = l.claimDeadline ? h('span', {}, instant(l.claimDeadline, kz), h('br'), instant(l.claimDeadline, zone),
      ['CLAIMABLE', 'ACCRUING'].includes(l.state) ? h('br') : null, ['CLAIMABLE', 'ACCRUING'].includes(l.state) ? `(${left(l.claimDeadline, now)})` : null) : 'none (automatic)';
    return [link('/customers/' + encodeURIComponent(l.customerId), l.customerId), l.contract, l.period,
      h('span', {}, stateBadge(l.state), h('br'), h('small', {}, stateWords[l.state] || '')),
      money(l.amount), l.claimMode === 'ON_REQUEST' ? 'on request' : 'automatic', dl, history(l, zone), actions(l, ctx)];
  });
  main.append(h('section', {'aria-labelledby': 'h-lines'}, h('h2', {id: 'h-lines'}, title),
    rows.length ? table(caption, ['Customer', 'Contract', 'Period', 'State', 'Amount', 'Claim mode', 'Claim deadline', 'Record', 'Actions'],
      rows, {class: 'data', id: 'lines-table'}) : h('p', {id: 'no-lines'}, 'No credit lines match.')));
  const route = (toks) => {
    const q = new URLSearchParams();
    for (const k of ['state', 'customer', 'due']) if (query[k]) q.set(k, query[k]);
    if (toks.length) q.set('page', toks.join(','));
    return '/credits' + (q.toString() ? '?' + q : '');
  };
  main.append(pager({label: 'Pages of credit lines', hasPrev: tokens.length > 0, hasNext: !!page.nextPageToken,
    onPrev: () => ctx.go(route(tokens.slice(0, -1))), onNext: () => ctx.go(route([...tokens, page.nextPageToken]))}));
}

// history is what the line records: claim, approval, rejection, issue.
function history(l, zone) {
  const out = [];
  if (l.claimTime) out.push(`claimed ${instant(l.claimTime, zone)} by ${l.claimedBy || '—'}` + (l.claimReference ? `, ref. ${l.claimReference}` : ''));
  if (l.approveTime) out.push(`approved ${instant(l.approveTime, zone)} by ${l.approvedBy || '—'}`);
  if (l.rejectTime) out.push(`rejected ${instant(l.rejectTime, zone)} by ${l.rejectedBy || '—'}: ${l.rejectReason || ''}`);
  if (l.issueTime) out.push(`issued ${money(l.issuedAmount)} ${instant(l.issueTime, zone)} by ${l.issuedBy || '—'}, billing ref. ${l.billingReference || '—'}`);
  return out.length ? h('ul', {class: 'plain'}, out.map((x) => h('li', {}, x))) : '—';
}

// actions are the forms of the transitions the role may make on l. Each
// posts the line's etag (ABORTED if it changed since read) and a request
// id (a retry records once).
function actions(l, ctx) {
  const out = [];
  const slug = (l.name || '').replace(/[^a-z0-9]/gi, '-');
  const act = (verb, label, need, fields = []) => {
    if (!ctx.can(need)) return;
    const inputs = fields.map(([name, text, value, required]) => {
      const idf = `f-${verb}-${slug}-${name}`;
      return [h('label', {for: idf, class: 'sr'}, `${text} (${l.name})`),
        h('input', {id: idf, name, placeholder: text, size: 12, value: value || '', required: !!required})];
    });
    const form = h('form', {class: 'write inline', 'aria-label': `${label} ${l.name}`, 'data-line': l.name},
      inputs, h('button', {type: 'submit', 'data-action': verb}, label));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = {etag: l.etag, requestId: requestId()};
      for (const [name] of fields) body[name] = form.elements[name].value;
      if (verb === 'issue') body.issuedAmount = {currencyCode: l.amount.currencyCode, amount: body.issuedAmount};
      const st = document.getElementById('credit-msg');
      try {
        const got = await post(`/v1/${l.name.split('/').map(encodeURIComponent).join('/')}:${verb}`, body);
        flash = `${label}: ${l.name} is now ${got.state}.`;
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      } catch (err) {
        st.textContent = `${label} ${l.name} failed: ${err.message}`;
      }
    });
    out.push(form);
  };
  if (l.claimMode === 'ON_REQUEST' && (l.state === 'CLAIMABLE' || l.state === 'ACCRUING')) {
    act('claim', 'Claim', 'editor', [['reference', 'Claim reference']]);
  }
  if (l.state === 'CLAIMED') {
    act('approve', 'Approve', 'admin');
    act('reject', 'Reject', 'admin', [['reason', 'Reason', '', true]]);
  }
  if (l.state === 'APPROVED') {
    act('issue', 'Record issue', 'admin', [['issuedAmount', `Issued amount (${l.amount.currencyCode})`, l.amount.amount, true],
      ['billingReference', 'Billing reference', '', true]]);
  }
  return out.length ? out : '—';
}
