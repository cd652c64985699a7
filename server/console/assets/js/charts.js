// Inline SVG charts. Every data point is one element of class "mark" with a
// <title> saying what it is, so the chart reads without colour and tests
// can count marks.

import {s, h} from './dom.js';
import {ratio, cmp, instant, durationLabel, amount} from './format.js';

// timeline draws rows of spans: rows [{label, spans: [{start, end, frac, title}]}].
export function timeline(rows, {zone = 'UTC', caption = 'Timeline'} = {}) {
  const spans = rows.flatMap((r) => r.spans);
  if (!spans.length) return h('p', {}, 'No outage windows.');
  const t0 = Math.min(...spans.map((x) => Date.parse(x.start)));
  const t1 = Math.max(...spans.map((x) => Date.parse(x.end)));
  const labelW = 220, width = 900, rowH = 22, top = 24;
  const plotW = width - labelW - 10;
  const x = (t) => labelW + ((t - t0) / Math.max(1, t1 - t0)) * plotW;
  const height = top + rows.length * rowH + 10;
  const svg = s('svg', {class: 'chart timeline', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${caption}: ${spans.length} outage windows in ${rows.length} rows, from ${instant(new Date(t0).toISOString(), zone)} to ${instant(new Date(t1).toISOString(), zone)}`});
  svg.append(s('text', {x: labelW, y: 14, class: 'axis'}, instant(new Date(t0).toISOString(), zone)));
  svg.append(s('text', {x: width - 10, y: 14, class: 'axis', 'text-anchor': 'end'}, instant(new Date(t1).toISOString(), zone)));
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    svg.append(s('text', {x: labelW - 6, y: y + 15, class: 'label', 'text-anchor': 'end'}, r.label));
    svg.append(s('line', {x1: labelW, x2: width - 10, y1: y + rowH / 2, y2: y + rowH / 2, class: 'grid'}));
    for (const sp of r.spans) {
      const a = x(Date.parse(sp.start)), b = x(Date.parse(sp.end));
      const partial = sp.frac && sp.frac !== '1';
      svg.append(s('rect', {x: a.toFixed(1), y: y + 3, width: Math.max(2, b - a).toFixed(1), height: rowH - 6,
        class: 'mark' + (partial ? ' partial' : '')},
      s('title', {}, sp.title || `${r.label}: ${instant(sp.start, zone)} to ${instant(sp.end, zone)}` + (partial ? `, impact ${sp.frac}` : ''))));
    }
  });
  return svg;
}

// creditCurve draws owed credit against duration: points [{seconds, amount, currency}].
export function creditCurve(points, {caption = 'Owed credit by outage duration'} = {}) {
  const width = 640, height = 260, left = 110, bottom = 40, top = 16, right = 16;
  const max = points.reduce((m, p) => (cmp(p.amount, m) > 0 ? p.amount : m), '0');
  const maxSecs = Math.max(...points.map((p) => p.seconds), 1);
  const svg = s('svg', {class: 'chart curve', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${caption}: ${points.length} durations`});
  const plotH = height - top - bottom, plotW = width - left - right;
  svg.append(s('line', {x1: left, x2: left, y1: top, y2: top + plotH, class: 'axisline'}));
  svg.append(s('line', {x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH, class: 'axisline'}));
  const cur = points.length ? points[0].currency : '';
  svg.append(s('text', {x: left - 6, y: top + 10, class: 'axis', 'text-anchor': 'end'}, amount(cur, max)));
  svg.append(s('text', {x: left - 6, y: top + plotH, class: 'axis', 'text-anchor': 'end'}, amount(cur, '0')));
  const xy = points.map((p) => [left + (p.seconds / maxSecs) * plotW, top + plotH - (ratio(p.amount, max, 1000) / 1000) * plotH]);
  if (xy.length > 1) svg.append(s('polyline', {points: xy.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' '), class: 'line'}));
  points.forEach((p, i) => {
    const [a, b] = xy[i];
    svg.append(s('circle', {cx: a.toFixed(1), cy: b.toFixed(1), r: 5, class: 'mark'},
      s('title', {}, `${durationLabel(p.seconds)}: ${amount(p.currency, p.amount)}`)));
    svg.append(s('text', {x: a.toFixed(1), y: height - bottom + 18, class: 'axis', 'text-anchor': 'middle'}, durationLabel(p.seconds)));
  });
  return svg;
}

// uptimeBar draws a period's uptime against its tier ladder: tiers
// [{uptimeBelow, creditPercent, inclusive}], uptime a 6-decimal string.
// The axis is logarithmic in the downtime share (100 % − uptime), so that
// 99.99 and 99.9 are as far apart as 99.9 and 99; it ends at 99.9999 %.
// (Percentages, not money: geometry may use floating point.)
export function uptimeBar(uptime, tiers, {label = 'Uptime'} = {}) {
  const width = 560, height = 70, left = 10, right = 40;
  const down = (p) => Math.max(1e-4, 100 - Number(p));
  const worst = Math.max(down(uptime), ...tiers.map((t) => down(t.uptimeBelow))) * 3;
  const x = (p) => left + ((Math.log10(worst) - Math.log10(down(p))) / (Math.log10(worst) + 4)) * (width - left - right);
  const svg = s('svg', {class: 'chart uptime', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${label}: ${uptime} % against tiers ${tiers.map((t) => (t.inclusive ? '≤ ' : '< ') + t.uptimeBelow + ' % → ' + t.creditPercent + ' %').join(', ') || 'none'}`});
  svg.append(s('rect', {x: left, y: 24, width: width - left - right, height: 14, class: 'track'}));
  svg.append(s('rect', {x: left, y: 24, width: Math.max(1, x(uptime) - left).toFixed(1), height: 14, class: 'mark fill'},
    s('title', {}, `uptime ${uptime} %`)));
  tiers.forEach((t, i) => {
    const a = x(t.uptimeBelow);
    const above = i % 2 === 1;
    svg.append(s('line', {x1: a.toFixed(1), x2: a.toFixed(1), y1: 18, y2: 44, class: 'tier'}));
    svg.append(s('text', {x: a.toFixed(1), y: above ? 13 : 58, class: 'axis', 'text-anchor': 'middle'},
      `${t.inclusive ? '≤' : '<'}${t.uptimeBelow} %: ${t.creditPercent} %`));
  });
  svg.append(s('text', {x: width - right + 4, y: 35, class: 'axis'}, '100 %'));
  return svg;
}
