// Usage charts: how often one key, one identity's keys or the whole deployment was verified,
// by outcome, over the last 24 hours (by hour) or the last 30 days (by day), from GET
// api/usage. The chart stacks the outcomes; beside it, a table of the period's totals is both
// its legend and the same data as text (a canvas says nothing to a screen reader). Buckets
// are UTC hours and days, as the API counts them, so the chart's times are UTC too.
//
// The chart is drawn by uPlot, vendored unchanged as uplot.iife.min.js (MIT): the page loads
// it as a classic script, which defines the global `uPlot`. It draws on a canvas and sizes
// its elements through the CSSOM (element.style), which the CSP's `style-src 'self'` leaves
// alone, and never writes HTML, so the Trusted Types rule holds too.
//
// Each place that shows usage is a panel, an element of the page that this module fills on
// first use: the period buttons, the chart and the totals. The chart element carries what it
// was drawn from as data attributes (data-granularity, data-from, data-to, data-counts and
// data-totals, the API's own values), which the browser test reads back against the API.
//
// The Usage view's panel also ranks keys, below the chart: the keys verified most and the
// keys refused most over the chart's period, from GET api/usage/top. The API ranks whole UTC
// days (today included) from the counts folded into DynamoDB, so the lists cover the period
// in days (the last 24 hours fall within today and yesterday), and are as of the last fold,
// a minute behind at most, where the chart counts a verification at once. Each list carries
// what it shows as data attributes too (data-days, data-from and data-keys).
import { api, usageTopUrl, usageUrl } from './client.js';
import { openDetails } from './details.js';
import { $, el, setMessage, show } from './dom.js';
import { count } from './format.js';
import { handleError } from './session.js';
import { ui } from './ui.js';

// The outcomes, as the API names them, from the bottom of the stack up. Each one's colour is
// the CSS variable --usage-<name> (app.css), for the chart and the table's swatches alike.
const OUTCOMES = [
  { name: 'valid', label: 'Valid' },
  { name: 'rate_limited', label: 'Rate limited' },
  { name: 'quota_exhausted', label: 'Quota exhausted' },
  { name: 'missing_scope', label: 'Missing scope' },
  { name: 'revoked', label: 'Revoked' },
  { name: 'expired', label: 'Expired' },
];

// `days`: the UTC days, today included, that the rankings add up for the period.
const PERIODS = {
  hour: { label: 'Last 24 hours', span: 'in the last 24 hours', unit: 'hour', seconds: 3600, days: 2, ranked: 'today and yesterday' },
  day: { label: 'Last 30 days', span: 'in the last 30 days', unit: 'day', seconds: 86400, days: 30, ranked: 'the last 30 days' },
};

// The rankings of the Usage view, each the first RANKED keys.
const RANKINGS = [
  {
    by: 'volume',
    title: 'Top keys by volume',
    column: 'Verifications',
    what: 'verifications',
    empty: 'No verifications folded yet.',
    hint: 'A key verified in this period shows here once its counts are folded, a minute later at most.',
  },
  {
    by: 'refusals',
    title: 'Top keys by refusals',
    column: 'Refusals',
    what: 'refusals',
    empty: 'No refusals folded yet.',
    hint: 'A key refused in this period (rate limited, out of quota, lacking a scope, revoked or expired) shows here once its counts are folded, a minute later at most.',
  },
];
const RANKED = 10;

// The chart's height in CSS pixels, axes included. app.css gives its box the same height, so
// that drawing the chart never resizes the box its ResizeObserver watches.
const HEIGHT = 200;

// Hour labels every 1, 2, 3, ... hours, day labels every 1, 2, 5, ... days: the first that
// leaves a label this many pixels.
const LABEL_PX = 48;
const HOUR_STEPS = [1, 2, 3, 4, 6, 12, 24];
const DAY_STEPS = [1, 2, 5, 7, 10, 15, 30];
// Tick increments of the count axis: whole numbers only.
const COUNT_STEPS = [1, 2, 5].flatMap((m) => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((e) => m * 10 ** e)).sort((a, b) => a - b);

const pad = (n) => String(n).padStart(2, '0');
const DAY = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });
const FULL_DAY = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
const COMPACT = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

function newPanel(root, top) {
  // granularity: the period shown; subject: whose usage ({ key_id }, { identity_id }, or {}
  // for the deployment); generation: bumped on every load, so that a slow answer to an older
  // one is dropped; shown: what the chart draws; plot: the uPlot chart; top: where the
  // rankings go (the Usage view's panel only).
  return { root, top: top || null, granularity: 'hour', subject: null, generation: 0, shown: null, plot: null, parts: null };
}

// The three panels: a key's details, an identity's details and the Usage view (with the
// rankings, in the section below it).
export const USAGE = {
  key: newPanel(ui.keyUsage),
  identity: newPanel(ui.identityUsage),
  overview: newPanel(ui.usageOverview, $('usage-top')),
};

// Shows the usage of `subject` in `panel`, over the period the panel shows.
export function showUsage(panel, subject) {
  if (JSON.stringify(subject) !== JSON.stringify(panel.subject)) blank(panel);
  panel.subject = subject;
  load(panel);
}

// Forgets what the panel shows (a dialog closed, or signing out), back to the last 24 hours.
export function clearUsage(panel) {
  panel.generation += 1;
  panel.subject = null;
  panel.granularity = 'hour';
  blank(panel);
  if (panel.parts) {
    pressed(panel);
    setMessage(panel.parts.status, '');
  }
}

// Builds the panel's elements, once.
function build(panel) {
  if (panel.parts) return panel.parts;
  const buttons = Object.entries(PERIODS).map(([granularity, period]) => {
    const button = el('button', { type: 'button', class: 'button small', 'aria-pressed': 'false', 'data-granularity': granularity, text: period.label });
    button.addEventListener('click', () => {
      if (panel.granularity === granularity || !panel.subject) return;
      panel.granularity = granularity;
      load(panel);
    });
    return button;
  });
  const caption = el('caption', { class: 'visually-hidden' });
  const rows = el('tbody');
  const all = el('td');
  const table = el('table', { class: 'usage-totals' }, [
    caption,
    el('thead', null, [el('tr', null, [el('th', { scope: 'col', text: 'Outcome' }), el('th', { scope: 'col', text: 'Verifications' })])]),
    rows,
    el('tfoot', null, [el('tr', null, [el('th', { scope: 'row', text: 'All' }), all])]),
  ]);
  const chart = el('div', { class: 'usage-chart', role: 'img' });
  const point = el('p', { class: 'hint usage-point' });
  const status = el('p', { class: 'notice', role: 'status', hidden: '' });
  panel.root.append(
    el('div', { class: 'usage-periods', role: 'group', 'aria-label': 'Period' }, buttons),
    el('div', { class: 'usage-body' }, [chart, table]),
    point,
    status,
  );
  panel.parts = { buttons, caption, rows, all, table, chart, point, status, ranked: panel.top ? buildRankings(panel.top) : null };
  // The chart follows its box's width (the dialog, the window); a chart loaded while its box
  // had no width yet is drawn once it has one.
  new ResizeObserver(() => {
    const width = Math.floor(chart.clientWidth);
    if (width === 0) return;
    if (!panel.plot) draw(panel);
    else if (width !== panel.plot.width) panel.plot.setSize({ width, height: HEIGHT });
  }).observe(chart);
  return panel.parts;
}

function pressed(panel) {
  for (const button of panel.parts.buttons) {
    button.setAttribute('aria-pressed', String(button.dataset.granularity === panel.granularity));
  }
}

async function load(panel) {
  const parts = build(panel);
  const generation = ++panel.generation;
  const granularity = panel.granularity;
  pressed(panel);
  // Until the answer, the chart carries no data attributes: they always describe what is drawn.
  forget(parts.chart);
  panel.root.setAttribute('aria-busy', 'true');
  setMessage(parts.status, 'Loading…');
  if (parts.ranked) for (const list of parts.ranked.lists) loadRanking(panel, list, generation, granularity);
  try {
    const report = await api(usageUrl({ ...panel.subject, granularity }));
    if (generation !== panel.generation) return;
    render(panel, report);
  } catch (err) {
    if (generation === panel.generation) handleError(err, parts.status);
  } finally {
    if (generation === panel.generation) panel.root.setAttribute('aria-busy', 'false');
  }
}

function forget(chart) {
  for (const name of ['granularity', 'from', 'to', 'counts', 'totals']) delete chart.dataset[name];
}

// Empties the chart and the table, for another subject or none.
function blank(panel) {
  destroy(panel);
  panel.shown = null;
  if (!panel.parts) return;
  const { chart, rows, all, caption, point } = panel.parts;
  forget(chart);
  chart.removeAttribute('aria-label');
  rows.replaceChildren();
  all.textContent = '';
  caption.textContent = '';
  point.textContent = '';
  if (panel.parts.ranked) blankRankings(panel.parts.ranked);
}

function destroy(panel) {
  if (panel.plot) panel.plot.destroy();
  panel.plot = null;
}

function render(panel, report) {
  const parts = panel.parts;
  const period = PERIODS[report.granularity];
  const counts = { start: report.buckets.map((bucket) => bucket.start) };
  for (const { name } of OUTCOMES) counts[name] = report.buckets.map((bucket) => bucket[name]);
  panel.shown = { granularity: report.granularity, from: report.from, to: report.to, counts };
  Object.assign(parts.chart.dataset, {
    granularity: report.granularity,
    from: report.from,
    to: report.to,
    counts: JSON.stringify(counts),
    totals: JSON.stringify(report.totals),
  });
  const all = OUTCOMES.reduce((sum, { name }) => sum + report.totals[name], 0);
  parts.rows.replaceChildren(
    ...OUTCOMES.map(({ name, label }) =>
      el('tr', { 'data-outcome': name }, [
        el('th', { scope: 'row' }, [el('span', { class: 'swatch swatch-' + name, 'aria-hidden': 'true' }), label]),
        el('td', { text: count(report.totals[name]) }),
      ]),
    ),
  );
  parts.all.textContent = count(all);
  parts.caption.textContent = 'Verifications by outcome, ' + period.span;
  parts.chart.setAttribute(
    'aria-label',
    'Chart of the verifications ' + period.span + ', by ' + period.unit + ' (UTC) and outcome; the table beside it has the totals.',
  );
  parts.point.textContent = pointHint(period);
  setMessage(parts.status, all === 0 ? 'No verifications ' + period.span + '.' : '');
  draw(panel);
}

function pointHint(period) {
  return 'Point at the chart for one ' + period.unit + "'s counts. Times are UTC.";
}

// Draws the chart afresh from `panel.shown`, at its box's width (none while the box is
// hidden: the ResizeObserver draws it when it shows).
function draw(panel) {
  destroy(panel);
  const shown = panel.shown;
  const { chart, status } = panel.parts;
  const width = Math.floor(chart.clientWidth);
  if (!shown || width === 0) return;
  const uPlot = globalThis.uPlot;
  if (!uPlot) {
    setMessage(status, 'The chart could not be drawn (its script did not load); the table has the totals.');
    return;
  }
  const period = PERIODS[shown.granularity];
  const step = period.seconds;
  // Each bar sits in the middle of its hour or day.
  const xs = shown.counts.start.map((start) => Date.parse(start) / 1000 + step / 2);
  // Stacked: each outcome's series is its count plus those of every outcome below it, and
  // the tallest is drawn first, so that each outcome shows as its own band of the bar.
  let running = xs.map(() => 0);
  const stacked = OUTCOMES.map(({ name }) => (running = running.map((sum, i) => sum + shown.counts[name][i])));
  const topDown = OUTCOMES.map((_, i) => i).reverse();
  const style = getComputedStyle(panel.root);
  const css = (name) => style.getPropertyValue(name).trim();
  const bars = uPlot.paths.bars({ size: [0.8, 40], gap: 1 });
  const axis = {
    stroke: css('--muted'),
    grid: { stroke: css('--border'), width: 1 },
    ticks: { stroke: css('--border'), width: 1, size: 4 },
  };
  const range = [Date.parse(shown.from) / 1000, Date.parse(shown.to) / 1000];
  panel.plot = new uPlot(
    {
      width,
      height: HEIGHT,
      legend: { show: false },
      cursor: { y: false, drag: { x: false, y: false, setScale: false }, points: { show: false } },
      scales: {
        x: { time: true, range: () => [range[0], range[1]] },
        y: { range: (u, min, max) => [0, niceCeiling(max)] },
      },
      axes: [
        {
          ...axis,
          splits: (u) => timeSplits(u, shown.granularity, range, xs),
          values: (u, splits) => splits.map((t) => timeLabel(t, shown.granularity)),
        },
        {
          ...axis,
          size: 44,
          incrs: COUNT_STEPS,
          values: (u, splits) => splits.map((n) => (n < 10000 ? count(n) : COMPACT.format(n))),
        },
      ],
      series: [
        {},
        ...topDown.map((i) => {
          const color = css('--usage-' + OUTCOMES[i].name);
          return { label: OUTCOMES[i].label, fill: color, stroke: color, width: 0, paths: bars, points: { show: false } };
        }),
      ],
      hooks: { setCursor: [(u) => describePoint(panel, u.cursor.idx)] },
    },
    [xs, ...topDown.map((i) => stacked[i])],
    chart,
  );
}

// The smallest 1, 2 or 5 times a power of ten above the tallest bar: room above it, and a
// scale of whole numbers even when nothing was counted.
function niceCeiling(max) {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max * 1.05));
  for (const m of [1, 2, 5, 10]) if (m * power >= max * 1.05) return m * power;
  return 10 * power;
}

// Where the time axis has labels: hour boundaries every few hours (a bar starts at its
// label), or the middle of every few days counted back from the last (today is labelled).
function timeSplits(u, granularity, range, xs) {
  const plotWidth = u.bbox.width / (globalThis.devicePixelRatio || 1);
  const perBucket = plotWidth / Math.max(xs.length, 1);
  const steps = granularity === 'hour' ? HOUR_STEPS : DAY_STEPS;
  const every = steps.find((n) => n * perBucket >= LABEL_PX) || steps[steps.length - 1];
  if (granularity === 'day') return xs.filter((_, i) => (xs.length - 1 - i) % every === 0);
  const splits = [];
  const size = every * 3600;
  for (let t = Math.ceil(range[0] / size) * size; t <= range[1]; t += size) splits.push(t);
  return splits;
}

function timeLabel(seconds, granularity) {
  const date = new Date(seconds * 1000);
  if (granularity === 'day' || date.getUTCHours() === 0) return DAY.format(date);
  return pad(date.getUTCHours()) + ':00';
}

// Under the chart: the counts of the hour or day under the pointer.
function describePoint(panel, idx) {
  const shown = panel.shown;
  if (!shown || !panel.parts) return;
  const period = PERIODS[shown.granularity];
  if (idx == null || idx < 0 || idx >= shown.counts.start.length) {
    panel.parts.point.textContent = pointHint(period);
    return;
  }
  const start = new Date(shown.counts.start[idx]);
  const when =
    shown.granularity === 'hour'
      ? FULL_DAY.format(start) + ', ' + pad(start.getUTCHours()) + ':00 to ' + pad((start.getUTCHours() + 1) % 24) + ':00 UTC'
      : FULL_DAY.format(start) + ' (UTC)';
  const counted = OUTCOMES.filter(({ name }) => shown.counts[name][idx] > 0).map(
    ({ name, label }) => count(shown.counts[name][idx]) + ' ' + label.toLowerCase(),
  );
  panel.parts.point.textContent = when + ': ' + (counted.length ? counted.join(', ') : 'no verifications') + '.';
}

// ------------------------------------------------------------------ the rankings

// Builds the rankings' elements in `top`, once: a heading and a table for each, with the
// key ids that open their key's details, and what shows when a ranking has no key.
function buildRankings(top) {
  const span = el('p', { class: 'hint usage-top-span' });
  const lists = RANKINGS.map((ranking) => {
    const id = 'usage-top-' + ranking.by;
    const caption = el('caption', { class: 'visually-hidden' });
    const rows = el('tbody');
    const table = el('table', { class: 'usage-ranking', hidden: '' }, [
      caption,
      el('thead', null, [
        el('tr', null, [
          el('th', { scope: 'col', class: 'rank' }, [el('span', { 'aria-hidden': 'true', text: '#' }), el('span', { class: 'visually-hidden', text: 'Rank' })]),
          el('th', { scope: 'col', class: 'key', text: 'Key' }),
          el('th', { scope: 'col', class: 'count', text: ranking.column }),
        ]),
      ]),
      rows,
    ]);
    const empty = el('div', { class: 'empty usage-top-empty', hidden: '' }, [
      el('p', { class: 'empty-title', text: ranking.empty }),
      el('p', { class: 'muted', text: ranking.hint }),
    ]);
    const status = el('p', { class: 'notice', role: 'status', hidden: '' });
    const root = el('section', { id, class: 'usage-top-list', 'data-by': ranking.by, 'aria-labelledby': id + '-title' }, [
      el('h3', { id: id + '-title', text: ranking.title }),
      table,
      empty,
      status,
    ]);
    return { ranking, root, caption, rows, table, empty, status };
  });
  top.append(span, el('div', { class: 'usage-top-lists' }, lists.map((list) => list.root)));
  return { span, lists };
}

function forgetRanking(root) {
  for (const name of ['days', 'from', 'keys']) delete root.dataset[name];
}

function blankRankings(ranked) {
  ranked.span.textContent = '';
  for (const list of ranked.lists) {
    forgetRanking(list.root);
    list.root.setAttribute('aria-busy', 'false');
    list.rows.replaceChildren();
    list.caption.textContent = '';
    show(list.table, false);
    show(list.empty, false);
    setMessage(list.status, '');
  }
}

async function loadRanking(panel, list, generation, granularity) {
  const period = PERIODS[granularity];
  // Until the answer, the list keeps the rows it shows, without the attributes that say
  // what they are.
  forgetRanking(list.root);
  list.root.setAttribute('aria-busy', 'true');
  try {
    const answer = await api(usageTopUrl({ by: list.ranking.by, days: period.days, limit: RANKED }));
    if (generation !== panel.generation) return;
    renderRanking(panel.parts.ranked, list, answer, period);
    setMessage(list.status, '');
  } catch (err) {
    if (generation !== panel.generation) return;
    list.rows.replaceChildren();
    show(list.table, false);
    show(list.empty, false);
    handleError(err, list.status);
  } finally {
    if (generation === panel.generation) list.root.setAttribute('aria-busy', 'false');
  }
}

function renderRanking(ranked, list, answer, period) {
  const since = FULL_DAY.format(new Date(answer.from)) + ', 00:00 UTC';
  Object.assign(list.root.dataset, { days: String(answer.days), from: answer.from, keys: JSON.stringify(answer.keys) });
  ranked.span.textContent = 'Ranked over ' + period.ranked + ' (UTC days), since ' + since + ', as of the last fold.';
  list.caption.textContent = 'Keys with the most ' + list.ranking.what + ' since ' + since + ', highest first';
  list.rows.replaceChildren(...answer.keys.map((key, i) => rankRow(key, i + 1)));
  show(list.table, answer.keys.length > 0);
  show(list.empty, answer.keys.length === 0);
}

// One ranked key: its place, its id (which opens its details, as the key list's Details
// button does) and its count.
function rankRow(key, rank) {
  const open = el('button', { type: 'button', class: 'link', 'aria-label': 'Details of the key ' + key.key_id }, [
    el('code', { text: key.key_id }),
  ]);
  open.addEventListener('click', () => openDetails(key.key_id, open));
  return el('tr', { 'data-key-id': key.key_id }, [
    el('td', { class: 'rank', text: count(rank) }),
    el('th', { scope: 'row', class: 'key' }, [open]),
    el('td', { class: 'count', text: count(key.count) }),
  ]);
}
