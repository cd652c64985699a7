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
// The axis runs from the lowest tier bound less a margin to 100 %.
export function uptimeBar(uptime, tiers, {label = 'Uptime'} = {}) {
  const width = 560, height = 64, left = 10, right = 10;
  const bounds = tiers.map((t) => t.uptimeBelow);
  // The scale is in millionths of a percent on BigInt-free integers of
  // the 6-decimal uptime; bounds have at most a few decimals.
  const micro = (p) => {
    const [i, f = ''] = String(p).split('.');
    return Number(i) * 1e6 + Number((f + '000000').slice(0, 6));
  };
  const lowest = Math.min(micro(uptime), ...bounds.map(micro));
  const lo = Math.max(0, lowest - (100e6 - lowest) * 0.25 - 1);
  const x = (v) => left + ((micro(v) - lo) / (100e6 - lo)) * (width - left - right);
  const svg = s('svg', {class: 'chart uptime', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${label}: ${uptime} % against tiers ${tiers.map((t) => (t.inclusive ? '≤ ' : '< ') + t.uptimeBelow + ' % → ' + t.creditPercent + ' %').join(', ') || 'none'}`});
  svg.append(s('rect', {x: left, y: 20, width: width - left - right, height: 16, class: 'track'}));
  svg.append(s('rect', {x: left, y: 20, width: Math.max(1, x(uptime) - left).toFixed(1), height: 16, class: 'mark fill'},
    s('title', {}, `uptime ${uptime} %`)));
  for (const t of tiers) {
    const a = x(t.uptimeBelow);
    svg.append(s('line', {x1: a.toFixed(1), x2: a.toFixed(1), y1: 14, y2: 42, class: 'tier'}));
    svg.append(s('text', {x: a.toFixed(1), y: 56, class: 'axis', 'text-anchor': 'middle'}, `${t.inclusive ? '≤' : '<'}${t.uptimeBelow} %: ${t.creditPercent} %`));
  }
  svg.append(s('text', {x: width - right, y: 12, class: 'axis', 'text-anchor': 'end'}, '100 %'));
  return svg;
}
