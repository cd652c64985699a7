// The console's entry: session, navigation and hash routes. Every page is
// a function (params, query, ctx) that fills <main>; its URL is the hash
// route, so a page can be shared or bookmarked.

import {h, clear, errorNote} from './dom.js';
import {get, call, setCSRF} from './api.js';
import * as incidents from './pages/incidents.js';
import * as incident from './pages/incident.js';
import * as customers from './pages/customers.js';
import * as customer from './pages/customer.js';
import * as exposure from './pages/exposure.js';
import * as credits from './pages/credits.js';
import * as statement from './pages/statement.js';
import * as signin from './pages/signin.js';

const ranks = {viewer: 1, editor: 2, admin: 3};

export const ctx = {
  session: {auth: false, signedIn: false},
  // can tells whether the signed-in role may call methods of role need.
  can(need) { return (ranks[this.session.role] || 0) >= ranks[need]; },
  go(route) { location.hash = '#' + route; },
  async refreshSession() {
    this.session = await get('/console/session');
    setCSRF(this.session.csrfToken);
    renderWho();
  },
  async signOut() {
    await call('DELETE', '/console/session');
    await this.refreshSession();
    this.go('/signin');
  },
};

const routes = [
  [/^\/incidents$/, incidents, 'incidents'],
  [/^\/incidents\/([^/]+)$/, incident, 'incidents'],
  [/^\/customers$/, customers, 'customers'],
  [/^\/customers\/([^/]+)$/, customer, 'customers'],
  [/^\/exposure$/, exposure, 'exposure'],
  [/^\/credits$/, credits, 'credits'],
  [/^\/statements\/([^/]+)\/([^/]+)$/, statement, 'incidents'],
  [/^\/signin$/, signin, ''],
];

function renderWho() {
  const el = document.getElementById('who');
  clear(el);
  const sn = ctx.session;
  if (!sn.auth) {
    el.append(h('span', {}, 'Open console (no sign-in: impactd runs without --auth-tokens)'));
  } else if (sn.signedIn) {
    el.append(h('span', {}, `Signed in as ${sn.name} (${sn.role})`), ' ',
      h('button', {type: 'button', class: 'link', onclick: () => ctx.signOut()}, 'Sign out'));
  } else {
    el.append(h('a', {href: '#/signin'}, 'Sign in'));
  }
}

let generation = 0;

async function render() {
  const main = document.getElementById('main');
  const raw = location.hash.replace(/^#/, '') || '/incidents';
  const [pathPart, queryPart = ''] = raw.split('?');
  const query = Object.fromEntries(new URLSearchParams(queryPart));
  if (ctx.session.auth && !ctx.session.signedIn && pathPart !== '/signin') {
    ctx.go('/signin');
    return;
  }
  const gen = ++generation;
  delete main.dataset.ready;
  for (const [re, page, nav] of routes) {
    const m = pathPart.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    clear(main);
    main.setAttribute('aria-busy', 'true');
    try {
      await page.render(main, m.slice(1).map(decodeURIComponent), query, ctx, () => gen === generation);
    } catch (e) {
      if (e && e.status === 401 && ctx.session.auth) {
        // The session ended (expired, signed out elsewhere, impactd
        // restarted): sign in again.
        await ctx.refreshSession().catch(() => {});
        ctx.go('/signin');
        return;
      }
      if (gen === generation) main.append(errorNote(e));
    } finally {
      if (gen === generation) {
        main.removeAttribute('aria-busy');
        const h1 = main.querySelector('h1');
        document.title = (h1 ? h1.textContent + ' · ' : '') + 'impact console';
        main.dataset.ready = raw;
      }
    }
    return;
  }
  clear(main).append(h('h1', {}, 'Not found'), h('p', {}, 'No page at ', h('code', {}, raw), '.'));
  main.dataset.ready = raw;
}

window.addEventListener('hashchange', render);
// The skip link moves the focus to the page's content; as a plain link it
// would change the hash, which is the route.
document.querySelector('a.skip').addEventListener('click', (e) => {
  e.preventDefault();
  document.getElementById('main').focus();
});
(async () => {
  try {
    await ctx.refreshSession();
  } catch (e) {
    document.getElementById('main').append(errorNote(e));
    return;
  }
  if (!location.hash) history.replaceState(null, '', '#/incidents');
  render();
})();
