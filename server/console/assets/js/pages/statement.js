// The customer impact statement: GetImpactStatement as a printable page in
// plain language — what happened, when, to which services; the downtime
// counted under the contract; uptime; the credit and how it is applied or
// claimed, by when; each exclusion with its reason.

import {h, table, link} from '../dom.js';
import {get, path} from '../api.js';
import {money, instant, seconds, cause, percent} from '../format.js';
import {timeline} from '../charts.js';

const reasons = {
  NO_CONTRACT: 'No contract', CAUSE_EXCLUDED: 'Cause excluded', OUTSIDE_DEPLOYED_RANGE: 'Outside the contract’s active range',
  MAINTENANCE_WINDOW: 'Maintenance window', BELOW_DOWNTIME_THRESHOLD: 'Below the downtime threshold',
  SHORTER_THAN_MIN_DOWNTIME: 'Shorter than the minimum downtime',
};

function howApplied(p, zone) {
  if (p.belowMinimum) return 'Below the contract’s minimum credit: not owed.';
  if (!p.creditAmount || /^[0.]*$/.test(p.creditAmount.amount)) return 'No credit is owed.';
  if (p.claimMode === 'ON_REQUEST') {
    if (!p.claimDeadline) return 'You must claim it.';
    const there = instant(p.claimDeadline, p.contractTimeZone);
    return h('span', {class: 'claim'}, 'On request: claim it before ', h('strong', {}, there),
      p.contractTimeZone !== zone ? ` (${instant(p.claimDeadline, zone)})` : '', '; an unclaimed credit lapses.');
  }
  return `Automatic: credited without a claim once the period has ended (${instant(p.periodEnd, p.contractTimeZone)}).`;
}

export async function render(main, [incident, customer], _query, _ctx, live) {
  const st = await get(`/v1/incidents/${path(incident)}/impactStatements/${path(customer)}`);
  if (!live()) return;
  const zone = st.customerTimeZone || 'UTC';
  const services = (st.services || []).map((s) => s.service);
  main.append(h('article', {class: 'statement', id: 'statement'},
    h('header', {},
      h('p', {class: 'kicker'}, 'Service impact statement'),
      h('h1', {}, st.title || `Incident ${st.incidentId}`),
      h('p', {}, `For ${st.customerDisplayName || st.customerId} (${st.customerId}) · incident ${st.incidentId}`),
      h('p', {class: 'noprint'}, h('button', {type: 'button', id: 'print', onclick: () => window.print()}, 'Print this statement'), ' ',
        link('/incidents/' + encodeURIComponent(st.incidentId), 'Back to the incident'))),

    h('section', {'aria-labelledby': 's-what'}, h('h2', {id: 's-what'}, 'What happened'),
      h('p', {}, (st.summary || [])[0] || ''),
      h('dl', {class: 'facts'},
        h('dt', {}, 'Cause'), h('dd', {}, `${cause(st.cause)} (${st.causeDescription})`),
        h('dt', {}, 'Services affected'), h('dd', {}, services.join(', ') || '—'),
        h('dt', {}, 'From'), h('dd', {}, instant(st.startTime, zone), ' · ', instant(st.startTime, 'UTC')),
        h('dt', {}, 'Until'), h('dd', {}, instant(st.endTime, zone), ' · ', instant(st.endTime, 'UTC')))),

    h('section', {'aria-labelledby': 's-when'}, h('h2', {id: 's-when'}, 'Timeline'),
      timeline((st.services || []).map((s) => ({label: s.service, spans: (s.windows || []).map((w) => ({start: w.startTime, end: w.endTime, frac: w.impactFraction}))})),
        {zone, caption: 'Outage windows by service'}),
      table(`Outage windows (times in ${zone}, your zone on file)`, ['Service', 'From', 'Until', 'Impact'],
        (st.services || []).flatMap((s) => (s.windows || []).map((w) => [s.service, instant(w.startTime, zone), instant(w.endTime, zone),
          w.impactFraction === '1' ? 'full outage' : `partial (${w.impactFraction} of the service)`])), {class: 'data', id: 'windows-table'})),

    h('section', {'aria-labelledby': 's-counted'}, h('h2', {id: 's-counted'}, 'Downtime counted under your contract'),
      (st.periods || []).length ? table(null, ['Service', 'Billing period', 'Counted downtime', 'Of it this incident', 'Uptime', 'Credit tier', 'Credit for the period', 'Of it this incident', 'How it reaches you'],
        st.periods.map((p) => [p.service,
          `${p.period} (${instant(p.periodStart, p.contractTimeZone)} to ${instant(p.periodEnd, p.contractTimeZone)})`,
          seconds(p.downtimeSeconds), seconds(p.incidentDowntimeSeconds), percent(p.uptimePercent), p.tier,
          `${money(p.creditAmount)} (${percent(p.creditPercent)} of the fee)`, money(p.incidentCredit), howApplied(p, zone)]),
        {class: 'data', id: 'periods-table'}) : h('p', {}, 'None of your contracts counted downtime from this incident.'),
      (st.summary || []).slice(1, 1 + (st.periods || []).length).map((x) => h('p', {}, x))),

    h('section', {'aria-labelledby': 's-excluded'}, h('h2', {id: 's-excluded'}, 'What did not count, and why'),
      (st.exclusions || []).length ? table(null, ['Service', 'From', 'Until', 'Length', 'Reason'],
        st.exclusions.map((e) => [e.service, instant(e.startTime, zone), instant(e.endTime, zone), seconds(e.seconds),
          `${reasons[e.reason] || e.reason}: ${e.description}`]), {class: 'data', id: 'exclusions-table'})
        : h('p', {}, 'Every minute of the outage counted under your contract.')),

    h('section', {'aria-labelledby': 's-cost'}, h('h2', {id: 's-cost'}, 'Our estimate of the impact on you'),
      st.estimate ? h('dl', {class: 'facts'},
        h('dt', {}, 'Revenue at risk during the outage'), h('dd', {}, money(st.estimate.lostRevenue && st.estimate.lostRevenue.gross)),
        h('dt', {}, 'Of it, not expected to be recovered later'), h('dd', {}, money(st.estimate.lostRevenue && st.estimate.lostRevenue.net))) : null),

    h('footer', {}, h('p', {class: 'note'}, `Figures computed by ${st.modelVersion} from the stored data (${st.inputsDigest}). Times are shown in ${zone} and UTC; billing periods in each contract’s zone.`))));
}
