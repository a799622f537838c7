/**
 * The server-status page: one self-contained HTML document (inline CSS, inline script, SVG
 * charts drawn by the script; nothing fetched from elsewhere). It shows the snapshot it was
 * served with, then fetches ?json every 1.5 seconds and redraws.
 */
import type { StatusSnapshot } from './status-report';

/** JSON that can sit inside a <script> element: no "</script>" or "<!--" can end or confuse it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export function renderStatusPage(snapshot: StatusSnapshot): string {
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    // An empty inline icon, so browsers do not ask the server for /favicon.ico.
    '<link rel="icon" href="data:,">\n' +
    `<title>Server status: ${escapeHtml(snapshot.server.name)}</title>\n` +
    `<style>${STYLE}</style>\n</head><body>\n${BODY}\n` +
    `<script id="initial-status" type="application/json">${scriptJson(snapshot)}</script>\n` +
    `<script>${SCRIPT}</script>\n</body></html>\n`
  );
}

const STYLE = String.raw`
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#687083; --line:#e3e6ec; --accent:#2f6fdf;
  --idle:#cfe8d6; --reading:#6aa8ff; --running:#f29d38; --finishing:#a37ee8; --starting:#f4d35e; --closed:#eceef2; --bad:#d64545; }
* { box-sizing:border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; background:var(--bg); color:var(--ink); }
header { padding:16px 24px 8px; display:flex; flex-wrap:wrap; align-items:baseline; gap:6px 18px; }
header h1 { margin:0; font-size:20px; font-weight:650; }
header .meta { color:var(--muted); }
#live { margin-left:auto; color:var(--muted); font-variant-numeric:tabular-nums; }
#live::before { content:""; display:inline-block; width:8px; height:8px; border-radius:50%; background:#3cb371; margin-right:6px; vertical-align:middle; }
#live.stale::before { background:var(--bad); }
main { padding:0 24px 32px; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit,minmax(128px,1fr)); gap:10px; margin:8px 0 14px; }
.tile { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.tile .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.tile .value { font-size:22px; font-weight:600; font-variant-numeric:tabular-nums; }
.tile .sub { color:var(--muted); font-size:12px; }
.charts { display:grid; grid-template-columns:repeat(auto-fit,minmax(380px,1fr)); gap:10px; margin-bottom:16px; }
figure { margin:0; background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px 6px; }
figcaption { display:flex; justify-content:space-between; color:var(--muted); font-size:12px; }
figcaption b { color:var(--ink); font-weight:600; }
.legend span { margin-left:10px; white-space:nowrap; }
.legend i { display:inline-block; width:10px; height:3px; vertical-align:middle; margin-right:4px; }
svg.chart { width:100%; height:150px; display:block; }
svg.chart text { font-size:10px; fill:var(--muted); }
svg.chart .grid { stroke:var(--line); stroke-width:1; }
section.group { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; margin-bottom:14px; }
section.group h2 { margin:0 0 4px; font-size:16px; }
section.group h2 code { font-size:15px; }
.groupmeta { color:var(--muted); margin-bottom:8px; }
.groupmeta b { color:var(--ink); font-weight:600; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th { text-align:left; color:var(--muted); font-weight:500; font-size:12px; border-bottom:1px solid var(--line); padding:4px 8px 4px 0; }
td { border-bottom:1px solid var(--line); padding:5px 8px 5px 0; vertical-align:top; }
td.url { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; font-size:12px; word-break:break-all; }
.threads { display:flex; flex-wrap:wrap; gap:3px; }
.t { width:14px; height:14px; border-radius:3px; background:var(--closed); }
.t.idle { background:var(--idle); } .t.reading { background:var(--reading); } .t.running { background:var(--running); }
.t.finishing { background:var(--finishing); } .t.starting { background:var(--starting); }
.state { display:inline-block; padding:0 6px; border-radius:10px; font-size:12px; background:var(--closed); }
.state.ready { background:var(--idle); } .state.starting { background:var(--starting); } .state.draining { background:var(--finishing); color:#fff; }
.key { color:var(--muted); font-size:12px; margin:6px 0 0; }
.key .t { display:inline-block; vertical-align:middle; margin:0 3px 0 10px; }
h3 { font-size:13px; margin:12px 0 4px; color:var(--muted); font-weight:600; }
.empty { color:var(--muted); font-style:italic; }
.bad { color:var(--bad); }
footer { color:var(--muted); font-size:12px; padding:0 24px 24px; }
footer a { color:var(--accent); }
`;

const BODY = String.raw`<header><h1 id="title">Server status</h1><span class="meta" id="meta"></span><span id="live">loading</span></header>
<main>
<div class="tiles" id="tiles"></div>
<div class="charts">
<figure><figcaption><span><b>Requests per second</b>, last 5 minutes</span><span class="legend" id="legend-requests"></span></figcaption><svg class="chart" id="chart-requests" viewBox="0 0 600 150" preserveAspectRatio="none" data-sum="0"></svg></figure>
<figure><figcaption><span><b>Latency</b> (ms), last 5 minutes</span><span class="legend" id="legend-latency"></span></figcaption><svg class="chart" id="chart-latency" viewBox="0 0 600 150" preserveAspectRatio="none" data-points="0"></svg></figure>
</div>
<div id="groups"></div>
<p class="key">Threads: <span class="t idle"></span>idle <span class="t reading"></span>reading the request body <span class="t running"></span>running the application <span class="t finishing"></span>finishing in a process that is being replaced <span class="t starting"></span>starting <span class="t"></span>not connected</p>
</main>
<footer>The same data: <a id="link-json" href="?json">?json</a> · <a id="link-auto" href="?auto">?auto</a> (mod_status's machine format). The page refreshes itself every 1.5 seconds.</footer>`;

const SCRIPT = String.raw`
(function () {
  'use strict';
  var REFRESH_MS = 1500;
  var COLORS = ['#2f6fdf', '#e8712a', '#2e9e6a', '#a246c9', '#c9a227', '#d64545', '#4aa3b5'];
  var SVGNS = 'http://www.w3.org/2000/svg';
  var updates = 0;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) { if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]); }
    (children || []).forEach(function (c) { node.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c); });
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    return node;
  }
  function num(n, digits) { return n === null || n === undefined ? '-' : Number(n).toFixed(digits === undefined ? 1 : digits); }
  function ms(n) { return n === null || n === undefined ? '-' : n >= 1000 ? (n / 1000).toFixed(2) + ' s' : n >= 100 ? Math.round(n) + ' ms' : n.toFixed(1) + ' ms'; }
  function bytes(n) {
    if (!n) return '-';
    var units = ['B', 'KiB', 'MiB', 'GiB']; var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }
  function duration(s) {
    s = Math.floor(s);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }
  function sum(list) { var t = 0; for (var i = 0; i < list.length; i++) t += list[i] || 0; return t; }
  function lastSeconds(list, n) { return list.slice(Math.max(0, list.length - n)); }
  function replace(node, children) { while (node.firstChild) node.removeChild(node.firstChild); children.forEach(function (c) { node.appendChild(c); }); }

  function tile(label, value, sub) {
    return el('div', { 'class': 'tile' }, [el('div', { 'class': 'label' }, [label]), el('div', { 'class': 'value' }, [value]), el('div', { 'class': 'sub' }, [sub || ''])]);
  }

  /** Draws series (arrays with nulls for gaps) into an SVG chart with a y axis from 0 to a round maximum. */
  function drawChart(node, series, unit) {
    var W = 600, H = 150, top = 8, bottom = 16, left = 0;
    var max = 0, points = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && v > max) max = v; if (v !== null) points++; }); });
    var nice = niceMax(max);
    var children = [];
    [0.5, 1].forEach(function (f) {
      var y = H - bottom - (H - top - bottom) * f;
      children.push(svg('line', { 'class': 'grid', x1: 0, x2: W, y1: y, y2: y }));
    });
    children.push(svg('line', { 'class': 'grid', x1: 0, x2: W, y1: H - bottom, y2: H - bottom }));
    series.forEach(function (s) {
      var n = s.values.length; if (n < 2) return;
      var d = '', pen = false;
      for (var i = 0; i < n; i++) {
        var v = s.values[i];
        if (v === null) { pen = false; continue; }
        var x = left + (W - left) * i / (n - 1);
        var y = H - bottom - (H - top - bottom) * (nice > 0 ? v / nice : 0);
        d += (pen ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1);
        pen = true;
      }
      if (s.fill && d) {
        var area = svg('path', { d: d + 'L' + W + ' ' + (H - bottom) + 'L0 ' + (H - bottom) + 'Z', fill: s.color, 'fill-opacity': '0.10', stroke: 'none' });
        children.push(area);
      }
      children.push(svg('path', { d: d, fill: 'none', stroke: s.color, 'stroke-width': s.width || 1.6, 'stroke-linejoin': 'round', 'class': 'series', 'data-name': s.name }));
    });
    var label = svg('text', { x: 4, y: top + 9 }); label.textContent = nice > 0 ? fmtAxis(nice) + ' ' + unit : 'no requests';
    var mid = svg('text', { x: 4, y: top + (H - top - bottom) / 2 + 4 }); mid.textContent = nice > 0 ? fmtAxis(nice / 2) : '';
    var from = svg('text', { x: 4, y: H - 3 }); from.textContent = '5 min ago';
    var to = svg('text', { x: W - 4, y: H - 3, 'text-anchor': 'end' }); to.textContent = 'now';
    children.push(label, mid, from, to);
    replace(node, children);
    node.setAttribute('data-points', String(points));
    node.setAttribute('data-max', String(max));
  }
  function niceMax(v) {
    if (v <= 0) return 0;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }
  function fmtAxis(v) { return v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2); }
  function legend(node, items) {
    replace(node, items.map(function (it) { return el('span', null, [el('i', { style: 'background:' + it.color }), it.name]); }));
  }

  function render(s) {
    updates++;
    document.getElementById('title').textContent = 'Server status: ' + s.server.name;
    document.title = 'Server status: ' + s.server.name;
    document.getElementById('meta').textContent = s.server.software + ' · pid ' + s.server.pid + ' (' + bytes(s.server.rssBytes) + ') · up ' + duration(s.server.uptimeSeconds) +
      ' · configuration generation ' + s.server.generation + ' · listening on ' + (s.server.listeners.join(', ') || '-');
    var live = document.getElementById('live');
    live.className = '';
    live.textContent = 'updated ' + new Date(s.server.currentTime).toLocaleTimeString();
    live.setAttribute('data-updates', String(updates));

    var h = s.history;
    var last5 = sum(lastSeconds(h.requests, 5)) / 5;
    var capacity = 0; s.groups.forEach(function (g) { capacity += g.capacity; });
    replace(document.getElementById('tiles'), [
      tile('Requests / s', num(last5, 1), 'last 5 s; ' + num(s.recent.reqPerSec, 1) + ' over 1 min'),
      tile('Latency p50', ms(s.recent.p50Ms), 'last minute'),
      tile('Latency p95', ms(s.recent.p95Ms), 'p99 ' + ms(s.recent.p99Ms)),
      tile('Busy threads', s.workers.busy + ' / ' + capacity, s.workers.idle + ' idle'),
      tile('Queue', String(s.workers.queued), s.recent.queueMeanMs === null ? 'no waits' : 'mean wait ' + ms(s.recent.queueMeanMs)),
      tile('Errors (5xx)', String(s.recent.errors), 'last minute'),
      tile('Connections', String(s.server.connections), s.server.activeRequests + ' in progress'),
      tile('Requests', String(s.totals.accesses), 'since start')
    ]);

    var reqSeries = [{ name: 'all', values: h.requests, color: '#1d2330', width: 1.2, fill: true }];
    s.groups.forEach(function (g, i) { if (g.history) reqSeries.push({ name: g.name, values: g.history.requests, color: COLORS[i % COLORS.length] }); });
    var chartRequests = document.getElementById('chart-requests');
    drawChart(chartRequests, reqSeries, 'req/s');
    chartRequests.setAttribute('data-sum', String(sum(h.requests)));
    legend(document.getElementById('legend-requests'), reqSeries);
    var latSeries = [
      { name: 'p50', values: h.p50, color: '#2f6fdf' },
      { name: 'p95', values: h.p95, color: '#e8712a' }
    ];
    drawChart(document.getElementById('chart-latency'), latSeries, 'ms');
    legend(document.getElementById('legend-latency'), latSeries);

    replace(document.getElementById('groups'), s.groups.map(renderGroup));
  }

  function renderGroup(g, i) {
    var color = COLORS[i % COLORS.length];
    var recent = g.recent || {};
    var meta = el('div', { 'class': 'groupmeta' }, [
      el('b', null, [String(g.processes.length)]), g.processes.length === 1 ? ' process × ' : ' processes × ', el('b', null, [String(g.threadsPerProcess)]), g.threadsPerProcess === 1 ? ' thread · ' : ' threads · ',
      el('b', null, [String(g.busy)]), ' busy, ', el('b', null, [String(g.idle)]), ' idle · queue ',
      el('b', { 'class': g.queueLength > 0 ? 'bad' : null, 'data-queue': String(g.queueLength) }, [String(g.queueLength)]),
      ' (', el('b', { 'data-sent-ahead': String(g.sentAhead) }, [String(g.sentAhead)]), ' sent ahead so far) · ', el('b', null, [num(recent.reqPerSec, 1)]), ' req/s, p95 ', el('b', null, [ms(recent.p95Ms)]), ' over the last minute · ',
      el('b', null, [String(g.accesses)]), ' requests served'
    ]);
    var rows = g.processes.map(function (p) {
      var boxes = el('div', { 'class': 'threads' }, p.threads.map(function (t) {
        var tip = 'thread ' + t.index + ': ' + t.state + (t.url ? ' ' + t.method + ' ' + t.url + ' for ' + num(t.seconds, 1) + ' s' : '');
        return el('span', { 'class': 't ' + t.state, title: tip, 'data-state': t.state });
      }));
      return el('tr', { 'class': 'process', 'data-pid': String(p.pid) }, [
        el('td', null, [String(p.number)]),
        el('td', null, [String(p.pid)]),
        el('td', null, [el('span', { 'class': 'state ' + p.state }, [p.state + (p.retiring ? ' (' + p.retiring + ')' : '')])]),
        el('td', null, [duration(p.ageSeconds)]),
        el('td', null, [String(p.requests)]),
        el('td', null, [bytes(p.rssBytes)]),
        el('td', null, [boxes])
      ]);
    });
    var table = el('table', { 'class': 'processes' }, [
      el('thead', null, [el('tr', null, ['#', 'PID', 'State', 'Age', 'Requests', 'RSS', 'Threads'].map(function (t) { return el('th', null, [t]); }))]),
      el('tbody', null, rows.length ? rows : [el('tr', null, [el('td', { colspan: '7', 'class': 'empty' }, ['no processes running'])])])
    ]);
    var busy = [];
    g.processes.forEach(function (p) { p.threads.forEach(function (t) { if (t.url !== undefined) busy.push({ p: p, t: t }); }); });
    busy.sort(function (a, b) { return (b.t.seconds || 0) - (a.t.seconds || 0); });
    var busyTable = busy.length === 0 ? el('p', { 'class': 'empty' }, ['No request is running.']) : el('table', { 'class': 'busy' }, [
      el('thead', null, [el('tr', null, ['Process · thread', 'State', 'Request', 'Running for', 'Client', 'Request id'].map(function (t) { return el('th', null, [t]); }))]),
      el('tbody', null, busy.map(function (b) {
        return el('tr', { 'class': 'running-request' }, [
          el('td', null, [b.p.pid + ' · ' + b.t.index]),
          el('td', null, [b.t.state]),
          el('td', { 'class': 'url' }, [b.t.method + ' ' + b.t.url]),
          el('td', { 'class': b.t.seconds > 5 ? 'bad' : null }, [num(b.t.seconds, 2) + ' s']),
          el('td', null, [b.t.client || '']),
          el('td', { 'class': 'url' }, [b.t.requestId || ''])
        ]);
      }))
    ]);
    var restarts = g.restarts.length === 0 ? el('p', { 'class': 'empty' }, ['No restarts.']) : el('table', { 'class': 'restarts' }, [
      el('thead', null, [el('tr', null, ['When', 'PID', 'Reason'].map(function (t) { return el('th', null, [t]); }))]),
      el('tbody', null, g.restarts.map(function (r) {
        return el('tr', null, [el('td', null, [new Date(r.at).toLocaleTimeString()]), el('td', null, [String(r.pid)]), el('td', null, [r.reason])]);
      }))
    ]);
    return el('section', { 'class': 'group', 'data-group': g.name }, [
      el('h2', null, [el('span', { style: 'color:' + color }, ['■ ']), 'Process group ', el('code', null, [g.name])]),
      meta, table,
      el('h3', null, ['Running requests']), busyTable,
      el('h3', null, ['Recent restarts (' + g.restartCount + ' in all)']), restarts
    ]);
  }

  var base = location.pathname;
  document.getElementById('link-json').setAttribute('href', base + '?json');
  document.getElementById('link-auto').setAttribute('href', base + '?auto');
  render(JSON.parse(document.getElementById('initial-status').textContent));

  function refresh() {
    fetch(base + '?json', { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(render)
      .catch(function (err) {
        var live = document.getElementById('live');
        live.className = 'stale';
        live.textContent = 'cannot refresh (' + err.message + '); retrying';
      })
      .then(function () { setTimeout(refresh, REFRESH_MS); });
  }
  setTimeout(refresh, REFRESH_MS);
})();
`;
