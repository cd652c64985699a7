// Pieces shared by pages.

import {h} from '../dom.js';
import {amount, money} from '../format.js';

// totalsCells are the five figures of a CurrencyTotals.
export const totalsHeaders = ['Lost revenue (gross)', 'Lost revenue (net)', 'Recovery cost', 'SLA credits', 'Churn exposure'];
export function totalsCells(t) {
  const c = t.currencyCode;
  return [amount(c, t.lostRevenueGross), amount(c, t.lostRevenueNet), amount(c, t.recoveryCost),
    amount(c, t.slaCredits), amount(c, t.churnExposure)];
}

// credits lists attributed credits as text lines.
export function creditsList(list) {
  if (!list || !list.length) return '—';
  return h('ul', {class: 'plain'}, list.map((c) => h('li', {}, `${money(c.credit)} (${c.service})`)));
}

// pager renders Previous/Next buttons over a stack of page tokens.
export function pager({hasPrev, hasNext, onPrev, onNext, label}) {
  return h('nav', {class: 'pager', 'aria-label': label || 'Pages'},
    h('button', {type: 'button', disabled: !hasPrev, onclick: onPrev, 'data-page': 'prev'}, '← Previous'),
    h('button', {type: 'button', disabled: !hasNext, onclick: onNext, 'data-page': 'next'}, 'Next →'));
}

// stateText is a credit line's or estimate's state in words with its code,
// so that colour never carries it alone.
export function stateBadge(state) {
  return h('span', {class: 'badge state-' + String(state || 'unknown').toLowerCase()}, String(state || 'UNKNOWN').replace(/_/g, ' '));
}
