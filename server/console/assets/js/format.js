// Formatting. Money and decimals stay strings from the API: digits are
// grouped and signs moved by string manipulation; arithmetic, where a page
// needs it (differences between revisions, chart scales), is exact on
// BigInt minor units. Nothing money-related becomes a float.

// group inserts thousands separators into a string of digits.
export function group(digits) {
  let out = '';
  for (let i = digits.length; i > 0; i -= 3) {
    const part = digits.slice(Math.max(0, i - 3), i);
    out = out ? part + ',' + out : part;
  }
  return out || '0';
}

// decimal formats a decimal string "-1234567.5" as "-1,234,567.5".
export function decimal(str) {
  if (str === undefined || str === null || str === '') return '—';
  let s = String(str);
  let sign = '';
  if (s[0] === '-' || s[0] === '+') {
    sign = s[0] === '-' ? '−' : '';
    s = s.slice(1);
  }
  const [int, frac] = s.split('.');
  return sign + group(int) + (frac !== undefined ? '.' + frac : '');
}

// amount formats a currency code and an amount string: "USD 1,234.57".
export function amount(code, amt) {
  if (amt === undefined || amt === null || amt === '') return '—';
  return `${code} ${decimal(amt)}`;
}

// money formats a Money message {currencyCode, amount}.
export function money(m) {
  if (!m) return '—';
  return amount(m.currencyCode, m.amount);
}

// Exact decimal arithmetic on strings through BigInt.
function parts(str) {
  let s = String(str || '0');
  let neg = false;
  if (s[0] === '-') { neg = true; s = s.slice(1); } else if (s[0] === '+') s = s.slice(1);
  const [int, frac = ''] = s.split('.');
  return {neg, int: int || '0', frac};
}

function toScaled(str, scale) {
  const p = parts(str);
  const v = BigInt(p.int + p.frac.padEnd(scale, '0'));
  return p.neg ? -v : v;
}

function fromScaled(v, scale) {
  const neg = v < 0n;
  let digits = (neg ? -v : v).toString().padStart(scale + 1, '0');
  const int = digits.slice(0, digits.length - scale);
  const frac = scale ? '.' + digits.slice(digits.length - scale) : '';
  return (neg ? '-' : '') + int + frac;
}

function scaleOf(...xs) {
  return Math.max(0, ...xs.map((x) => parts(x).frac.length));
}

// sub returns a − b exactly, with the larger number of decimals.
export function sub(a, b) {
  const k = scaleOf(a, b);
  return fromScaled(toScaled(a, k) - toScaled(b, k), k);
}

// add returns a + b exactly.
export function add(a, b) {
  const k = scaleOf(a, b);
  return fromScaled(toScaled(a, k) + toScaled(b, k), k);
}

// cmp compares two decimal strings.
export function cmp(a, b) {
  const k = scaleOf(a, b);
  const x = toScaled(a, k), y = toScaled(b, k);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isZero(a) {
  return cmp(a, '0') === 0;
}

// ratio is a / max as a whole number in [0, steps] for chart geometry,
// computed on BigInt.
export function ratio(a, max, steps) {
  const k = scaleOf(a, max);
  const x = toScaled(a, k), m = toScaled(max, k);
  if (m <= 0n) return 0;
  return Number((x * BigInt(steps)) / m);
}

// Time. Every instant is shown in a named zone, labelled with it.
export function viewerZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
}

const formatters = new Map();
function formatter(zone) {
  let f = formatters.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-GB', {timeZone: zone, year: 'numeric', month: 'short', day: '2-digit',
        hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'});
    } catch {
      f = new Intl.DateTimeFormat('en-GB', {timeZone: 'UTC', year: 'numeric', month: 'short', day: '2-digit',
        hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'});
    }
    formatters.set(zone, f);
  }
  return f;
}

// instant formats an RFC 3339 instant in zone: "14 Jul 2025, 15:05:00 Europe/Berlin".
export function instant(iso, zone) {
  if (!iso) return '—';
  return formatter(zone || 'UTC').format(new Date(iso)) + ' ' + (zone || 'UTC');
}

// seconds formats a decimal number of seconds with a readable length.
export function seconds(str) {
  if (str === undefined || str === null || str === '') return '—';
  const whole = parts(str).int;
  const n = Number(whole); // a count of seconds, not money
  let human = '';
  if (n >= 86400) human = `${Math.floor(n / 86400)} d ${Math.floor((n % 86400) / 3600)} h`;
  else if (n >= 3600) human = `${Math.floor(n / 3600)} h ${Math.floor((n % 3600) / 60)} min`;
  else if (n >= 60) human = `${Math.floor(n / 60)} min ${n % 60 ? (n % 60) + ' s' : ''}`.trim();
  return `${decimal(str)} s` + (human ? ` (${human})` : '');
}

// percent formats a decimal percentage string.
export function percent(str) {
  if (str === undefined || str === null || str === '') return '—';
  return `${str} %`;
}

const causeWords = {
  HARDWARE_FAILURE: 'Hardware failure', SOFTWARE_DEFECT: 'Software defect', CYBERATTACK: 'Cyberattack',
  NATURAL_DISASTER: 'Natural disaster', POWER_FAILURE: 'Power failure', NETWORK_FAILURE: 'Network failure',
  CUSTOMER_CAUSED: 'Customer caused', UNKNOWN: 'Unknown', CAUSE_UNSPECIFIED: 'Unknown',
};
export const causes = Object.keys(causeWords).filter((c) => c !== 'CAUSE_UNSPECIFIED');
export function cause(c) {
  return causeWords[c] || c || 'Unknown';
}

// duration parses "90s", "15m", "1h30m", "2d" into whole seconds.
export function parseDuration(text) {
  const t = String(text).trim();
  if (/^\d+$/.test(t)) return Number(t);
  const re = /(\d+)\s*(d|h|m|s)/g;
  let total = 0, m, used = '';
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * {d: 86400, h: 3600, m: 60, s: 1}[m[2]];
    used += m[0];
  }
  if (!total || used.replace(/\s/g, '') !== t.replace(/\s/g, '')) return NaN;
  return total;
}

export function durationLabel(secs) {
  const n = Number(secs);
  if (n % 86400 === 0) return `${n / 86400} d`;
  if (n % 3600 === 0) return `${n / 3600} h`;
  if (n % 60 === 0) return `${n / 60} min`;
  return `${n} s`;
}
