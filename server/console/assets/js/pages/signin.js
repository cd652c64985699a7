// Sign-in: a bearer token in, a session cookie out (the token itself stays
// on the server).

import {h} from '../dom.js';
import {call, ApiError} from '../api.js';

export async function render(main, _params, _query, ctx) {
  main.append(h('h1', {}, 'Sign in'));
  if (!ctx.session.auth) {
    main.append(h('p', {}, 'This impactd runs without --auth-tokens: the console is open on loopback, no sign-in needed. ', h('a', {href: '#/incidents'}, 'Go to incidents')));
    return;
  }
  if (ctx.session.signedIn) {
    main.append(h('p', {}, `Signed in as ${ctx.session.name} (${ctx.session.role}).`));
    return;
  }
  const input = h('input', {type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true, size: 48});
  const msg = h('p', {role: 'alert', id: 'signin-msg'});
  // method=post: should the form ever submit natively, the token goes in
  // a body (which the server refuses), never into a URL.
  const form = h('form', {class: 'signin', id: 'signin-form', method: 'post', action: '/console/session'},
    h('label', {for: 'token'}, 'Access token'), input,
    h('p', {class: 'note'}, 'The token your administrator listed in impactd’s tokens file. It is kept on the server for this session; your browser holds only a session cookie.'),
    h('button', {type: 'submit'}, 'Sign in'), msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await call('POST', '/console/session', {body: {token: input.value}});
      input.value = '';
      await ctx.refreshSession();
      ctx.go('/incidents');
    } catch (err) {
      msg.textContent = err instanceof ApiError && err.status === 401 ? 'That token is not valid.' : err.message;
    }
  });
  main.append(form);
  input.focus();
}
