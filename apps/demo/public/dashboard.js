/*
 * Reservoir live dashboard. Plain browser JavaScript, no build step. Charts by uPlot, served by the
 * demo from node_modules/uplot/dist.
 *
 * Data arrives over Server-Sent Events from /dashboard/stream:
 *   event "history": the server's recent samples (all of them on first connect, only the missed ones
 *                    after a reconnect, using the Last-Event-ID header EventSource sends by itself);
 *   event "sample":  one new sample per second, with the full snapshot for the cards and tables.
 * Points are merged by sequence number, so a reconnect neither duplicates nor loses points.
 */
(function () {
  'use strict';

  var MAX_POINTS = 600;
  var points = []; // { seq, t, u, inUse, pending, p95, p99 }, sorted by seq
  var seen = new Set();
  var boot = null; // server process id: sequence numbers restart with it
  var thresholds = { degraded: 0.7, unhealthy: 1 };
  var last = null; // latest full snapshot
  var utilPlot = null;
  var waitPlot = null;

  function $(id) {
    return document.getElementById(id);
  }

  function fmtMs(ms) {
    if (ms === undefined || ms === null || isNaN(ms)) return '–';
    if (ms >= 1000) return (ms / 1000).toFixed(2) + ' s';
    if (ms >= 10) return Math.round(ms) + ' ms';
    return ms.toFixed(1) + ' ms';
  }

  function pct(x) {
    return (Math.round(x * 1000) / 10).toFixed(1) + ' %';
  }

  function text(el, value) {
    if (el && el.textContent !== String(value)) el.textContent = String(value);
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function cell(tr, value) {
    var td = document.createElement('td');
    td.textContent = value;
    tr.appendChild(td);
    return td;
  }

  /** A restarted server numbers its points from 1 again: start the charts over. */
  function checkBoot(b) {
    if (b === boot) return;
    boot = b;
    points = [];
    seen = new Set();
  }

  function addPoints(list) {
    var added = false;
    for (var i = 0; i < list.length; i++) {
      var p = list[i];
      if (seen.has(p.seq)) continue;
      seen.add(p.seq);
      points.push(p);
      added = true;
    }
    if (!added) return;
    points.sort(function (a, b) {
      return a.seq - b.seq;
    });
    while (points.length > MAX_POINTS) seen.delete(points.shift().seq);
    redraw();
  }

  function chartWidth(id) {
    var el = $(id);
    return Math.max(300, el.clientWidth || 600);
  }

  function makePlots() {
    var axis = { stroke: '#8b98a5', grid: { stroke: '#26313d' }, ticks: { stroke: '#26313d' } };
    var timeAxis = Object.assign({}, axis, {
      space: 70,
      values: function (u, vals) {
        return vals.map(function (v) {
          return new Date(v * 1000).toLocaleTimeString([], { hour12: false });
        });
      },
    });
    utilPlot = new window.uPlot(
      {
        width: chartWidth('util-chart'),
        height: 240,
        scales: { x: { time: true }, y: { range: [0, 110] } },
        axes: [
          timeAxis,
          Object.assign({}, axis, {
            size: 56,
            values: function (u, vals) {
              return vals.map(function (v) {
                return v + ' %';
              });
            },
          }),
        ],
        series: [
          {},
          { label: 'utilization %', stroke: '#4c9aff', width: 2, fill: 'rgba(76,154,255,0.15)' },
          { label: 'DEGRADED', stroke: '#e0a526', width: 1, dash: [6, 4], points: { show: false } },
          { label: 'UNHEALTHY', stroke: '#e5484d', width: 1, dash: [6, 4], points: { show: false } },
        ],
      },
      [[], [], [], []],
      $('util-chart'),
    );
    waitPlot = new window.uPlot(
      {
        width: chartWidth('wait-chart'),
        height: 200,
        scales: { x: { time: true } },
        axes: [
          timeAxis,
          Object.assign({}, axis, {
            size: 64,
            values: function (u, vals) {
              return vals.map(function (v) {
                return v + ' ms';
              });
            },
          }),
        ],
        series: [
          {},
          { label: 'p95', stroke: '#22a861', width: 2 },
          { label: 'p99', stroke: '#e5484d', width: 2 },
        ],
      },
      [[], [], []],
      $('wait-chart'),
    );
    window.addEventListener('resize', function () {
      utilPlot.setSize({ width: chartWidth('util-chart'), height: 240 });
      waitPlot.setSize({ width: chartWidth('wait-chart'), height: 200 });
    });
  }

  function redraw() {
    if (!utilPlot) return;
    var xs = [];
    var u = [];
    var deg = [];
    var unh = [];
    var p95 = [];
    var p99 = [];
    for (var i = 0; i < points.length; i++) {
      var p = points[i];
      xs.push(p.t / 1000);
      u.push(Math.round(p.u * 1000) / 10);
      deg.push(thresholds.degraded * 100);
      unh.push(thresholds.unhealthy * 100);
      p95.push(p.p95);
      p99.push(p.p99);
    }
    utilPlot.setData([xs, u, deg, unh]);
    waitPlot.setData([xs, p95, p99]);
    $('util-chart').setAttribute('data-points', String(points.length));
  }

  function renderSnapshot(s) {
    last = s;
    text($('db-kind'), s.database + ' database');
    var m = s.main;
    if (m) {
      thresholds = m.thresholds;
      var badge = $('health-badge');
      badge.setAttribute('data-state', m.health.state);
      text(badge, m.health.state);
      text(
        $('pool-name'),
        'pool "' + m.name + '" · thresholds ' + pct(thresholds.degraded) + ' / ' + pct(thresholds.unhealthy),
      );
      text($('c-size'), m.size);
      text($('c-idle'), m.idle);
      text($('c-inuse'), m.inUse);
      text($('c-pending'), m.pending);
      text($('c-max'), m.max);
      text($('c-util'), pct(m.utilization));
      text($('c-p95'), fmtMs(m.acquireWaitMs.p95));
      text($('c-p99'), fmtMs(m.acquireWaitMs.p99));
      var arrow =
        { rising: '↗ rising', falling: '↘ falling', stable: '→ stable' }[m.trend.direction] ||
        m.trend.direction;
      text($('c-trend'), arrow);
      $('c-trend').title =
        'slope ' +
        m.trend.slope.toFixed(4) +
        '/s' +
        (m.trend.timeToSaturationMs !== null ? ', saturation in ~' + fmtMs(m.trend.timeToSaturationMs) : '');
      text($('c-timeouts'), m.timeouts);
      var reasons = $('reasons');
      clear(reasons);
      var list = m.health.reasons.length ? m.health.reasons : [];
      if (!list.length) {
        var li0 = document.createElement('li');
        li0.className = 'none';
        li0.textContent = 'no health concerns';
        reasons.appendChild(li0);
      }
      list.forEach(function (r) {
        var li = document.createElement('li');
        li.textContent = r;
        reasons.appendChild(li);
      });
      renderTenants(m.tenants);
      text(
        $('tenant-cap'),
        'each organisation holds at most ' + m.maxPerTenant + ' of ' + m.max + ' connections (maxPerTenant)',
      );
    }
    renderLazy(s.lazy);
    renderPools(s.pools);
    if (s.load) {
      text(
        $('load-status'),
        s.load.running ? 'load running: ' + s.load.completed + ' ops, ' + s.load.failed + ' failed' : '',
      );
    }
  }

  function renderTenants(tenants) {
    var el = $('tenants');
    clear(el);
    if (!tenants.length) {
      var p = document.createElement('p');
      p.className = 'muted';
      p.textContent = 'no leases yet';
      el.appendChild(p);
      return;
    }
    tenants.forEach(function (t) {
      var row = document.createElement('div');
      row.className = 'row';
      row.setAttribute('data-organisation', t.organisationId);
      var name = document.createElement('span');
      name.textContent = t.organisationId;
      var track = document.createElement('div');
      track.className = 'track';
      var fill = document.createElement('div');
      fill.className = 'fill';
      fill.style.width = (t.share * 100).toFixed(1) + '%';
      track.appendChild(fill);
      var val = document.createElement('span');
      val.className = 'pct';
      val.textContent = pct(t.share);
      val.title = t.acquired + ' leases, ' + t.inUse + ' in use now';
      row.appendChild(name);
      row.appendChild(track);
      row.appendChild(val);
      el.appendChild(row);
    });
  }

  function renderLazy(lazy) {
    if (!lazy) return;
    text($('lazy-hit'), pct(lazy.hitRatio));
    var body = $('lazy').querySelector('tbody');
    clear(body);
    lazy.resources.forEach(function (r) {
      var tr = document.createElement('tr');
      cell(tr, r.resource);
      cell(tr, pct(r.hitRatio));
      cell(tr, r.loads);
      cell(tr, fmtMs(r.lastLoadMs));
      cell(tr, fmtMs(r.p95LoadMs));
      cell(tr, r.version === null ? '–' : 'v' + r.version);
      body.appendChild(tr);
    });
  }

  function renderPools(pools) {
    var body = $('pools').querySelector('tbody');
    clear(body);
    pools.forEach(function (p) {
      var tr = document.createElement('tr');
      cell(tr, p.name);
      var st = cell(tr, '');
      var pill = document.createElement('span');
      pill.className = 'pill';
      pill.setAttribute('data-state', p.health.state);
      pill.textContent = p.health.state;
      st.appendChild(pill);
      cell(tr, p.inUse + ' / ' + p.max);
      cell(tr, p.idle);
      cell(tr, p.pending);
      cell(tr, p.created);
      body.appendChild(tr);
    });
  }

  function connect() {
    var conn = $('conn');
    var es = new EventSource('/dashboard/stream');
    es.addEventListener('open', function () {
      conn.setAttribute('data-state', 'live');
      text(conn, 'live');
    });
    es.addEventListener('error', function () {
      // EventSource reconnects by itself (the server asks for retry: 1000 ms) and then sends
      // Last-Event-ID, so the server replays only what we missed.
      conn.setAttribute('data-state', 'reconnecting');
      text(conn, 'reconnecting…');
    });
    es.addEventListener('history', function (ev) {
      var h = JSON.parse(ev.data);
      checkBoot(h.boot);
      if (h.snapshot) renderSnapshot(h.snapshot);
      addPoints(h.points);
    });
    es.addEventListener('sample', function (ev) {
      var s = JSON.parse(ev.data);
      checkBoot(s.boot);
      renderSnapshot(s.snapshot);
      addPoints([s.point]);
    });
    window.reservoirDashboard.source = es;
  }

  function wireLoadForm() {
    var form = $('load-form');
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = {};
      ['tenants', 'concurrency', 'durationMs'].forEach(function (k) {
        body[k] = Number(form.elements[k].value);
      });
      text($('load-status'), 'starting…');
      fetch('/demo/load', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
        .then(function (r) {
          return r.json().then(function (j) {
            text(
              $('load-status'),
              r.ok
                ? 'load started: ' + j.concurrency + ' workers for ' + j.durationMs + ' ms'
                : j.message || 'failed',
            );
          });
        })
        .catch(function (e) {
          text($('load-status'), String(e));
        });
    });
  }

  /** A small read-only API for the browser test and for curious visitors' consoles. */
  window.reservoirDashboard = {
    source: null,
    points: function () {
      return points.length;
    },
    state: function () {
      return last && last.main ? last.main.health.state : null;
    },
    /** Highest utilization among points newer than `sinceMs` (epoch ms). */
    maxUtilization: function (sinceMs) {
      var max = 0;
      points.forEach(function (p) {
        if (p.t >= sinceMs && p.u > max) max = p.u;
      });
      return max;
    },
  };

  makePlots();
  wireLoadForm();
  connect();
})();
