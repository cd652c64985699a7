// Customers, paged through ListCustomers.

import {h, table, link} from '../dom.js';
import {get} from '../api.js';
import {pager} from './common.js';

export async function render(main, _params, query, ctx, live) {
  const tokens = query.page ? query.page.split(',') : [];
  const page = await get('/v1/customers', {pageSize: 50, pageToken: tokens[tokens.length - 1]});
  if (!live()) return;
  const route = (toks) => '/customers' + (toks.length ? '?page=' + toks.join(',') : '');
  main.append(h('h1', {}, 'Customers'),
    table('Customers by id', ['Customer', 'Name', 'Currency', 'Time zone'],
      (page.customers || []).map((c) => [link('/customers/' + encodeURIComponent(c.customerId), c.customerId),
        c.displayName || '—', c.currencyCode, c.timeZone || 'UTC']), {class: 'data', id: 'customers-list'}),
    pager({label: 'Pages of customers', hasPrev: tokens.length > 0, hasNext: !!page.nextPageToken,
      onPrev: () => ctx.go(route(tokens.slice(0, -1))), onNext: () => ctx.go(route([...tokens, page.nextPageToken]))}));
}
