// Small DOM helpers. Data always goes in as text nodes or attributes,
// never as HTML, so nothing from the API can inject markup.

const SVG = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h('a', {href: '#/x'}, 'text', child, ...)
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s('rect', {x: 1}) builds an SVG element.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A notice for a part whose API this server does not offer.
export function unavailableNote(what) {
  return h('p', {class: 'notice unavailable', role: 'note'},
    `${what}: not available on this server (its API answered "not found"). `,
    'It appears once impactd serves that API.');
}

export function errorNote(err) {
  return h('p', {class: 'notice error', role: 'alert'}, 'Error: ', err && err.message ? err.message : String(err));
}

// A table with a caption, headers and rows of cells (nodes or text).
export function table(caption, headers, rows, attrs = {}) {
  return h('table', attrs,
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => (x instanceof Node ? x : h('th', {scope: 'col'}, x))))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => (i === 0 ? h('th', {scope: 'row'}, c) : h('td', {}, c)))))));
}

// link to a hash route
export function link(route, text) {
  return h('a', {href: '#' + route}, text);
}
