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
  var stateLog = []; // { t, state }: every change of the badge, for the browser test and the console
  var loadRequest = false; // a POST /demo/load is in flight
  var startedRun = null; // startedAt of the run we started, until a snapshot shows it
  // #load-error shows a 409: 'shown' until a sample shows that run going ('seen'), cleared when a
  // later sample shows it over. Samples can lag the 409 by up to a second, so "not running" alone
  // right after the 409 says nothing.
  var conflict = null;
  var limitsApplied = false;

  function $(id) {
    return document.getElementById(id);
  }

  function fmtMs(ms) {
    if (ms === undefined || ms === null || isNaN(ms)) return '–';
    if (ms >= 1000) return (ms / 1000).toFixed(2) + ' s';
    if (ms >= 10) return Math.round(ms) + ' ms';
    return ms.toFixed(1) + ' ms';
  }

  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }

  /** One time format for axes and legends: local HH:MM:SS, 24 h. `sec` is epoch seconds. */
  function fmtTime(sec) {
    if (sec === undefined || sec === null || isNaN(sec)) return '–';
    var d = new Date(sec * 1000);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }

  /** "10 s" for a window of 10 000 ms. */
  function fmtWindow(ms) {
    return ms % 1000 === 0 ? ms / 1000 + ' s' : fmtMs(ms);
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

  /** The chart's container width: charts never make the page wider than the screen. */
  function chartWidth(id) {
    var el = $(id);
    return Math.max(160, el.clientWidth || 300);
  }

  function makePlots() {
    var axis = { stroke: '#8b98a5', grid: { stroke: '#26313d' }, ticks: { stroke: '#26313d' } };
    var timeAxis = Object.assign({}, axis, {
      space: 70,
      values: function (u, vals) {
        return vals.map(fmtTime);
      },
    });
    // The legend's time is formatted like the axis (uPlot's default legend format differs).
    var timeSeries = {
      label: 'time',
      value: function (u, v) {
        return fmtTime(v);
      },
    };
    var msValue = function (u, v) {
      return v === null || v === undefined ? 'no data' : fmtMs(v);
    };
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
          timeSeries,
          { label: 'utilization %', stroke: '#4c9aff', width: 2, fill: 'rgba(76,154,255,0.15)' },
          { label: 'DEGRADED', stroke: '#e0a526', width: 1, dash: [6, 4], points: { show: false } },
          { label: 'UNHEALTHY', stroke: '#e5484d', width: 1, dash: [6, 4], points: { show: false } },
          limitSeries(),
        ],
      },
      [[], [], [], [], []],
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
          timeSeries,
          { label: 'p95', stroke: '#22a861', width: 2, value: msValue },
          { label: 'p99', stroke: '#e5484d', width: 2, value: msValue },
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

  /** The auto-sizing limit as a line on the utilisation chart (percent of max; gaps while it is off). */
  function limitSeries() {
    return {
      label: 'auto-size limit % of max',
      stroke: '#8e4ec6',
      width: 2,
      dash: [2, 3],
      points: { show: false },
      value: function (u, v) {
        return v === null || v === undefined ? 'off' : v + ' %';
      },
    };
  }

  function limitPercent(p) {
    return p.limit === null || p.limit === undefined ? null : Math.round(p.limit * 1000) / 10;
  }

  /** The effective limit while auto-sizing is on, else the Little's-law recommendation. */
  function renderSizing(sizing) {
    var el = $('sizing');
    if (!el || !sizing) return;
    var a = sizing.autoSize;
    var r = sizing.recommendation;
    el.setAttribute('data-mode', a ? 'auto' : 'advice');
    if (a) {
      text(
        el,
        'auto-sizing on: limit ' +
          a.limit +
          ' (target ' +
          a.target +
          ', ' +
          a.reason +
          ', ' +
          a.adjustments +
          ' adjustments)',
      );
      return;
    }
    text(
      el,
      r.recommended === null
        ? 'auto-sizing off: no recommendation yet (needs a window with enough leases)'
        : 'auto-sizing off: recommended size ' +
            r.recommended +
            ' (' +
            r.arrivalRatePerSec +
            ' acquires/s x ' +
            r.baselineHoldMs +
            ' ms baseline hold = ' +
            r.concurrency +
            ' in use on average)',
    );
  }

  function redraw() {
    if (!utilPlot) return;
    var xs = [];
    var u = [];
    var deg = [];
    var unh = [];
    var p95 = [];
    var p99 = [];
    var lim = [];
    for (var i = 0; i < points.length; i++) {
      var p = points[i];
      xs.push(p.t / 1000);
      u.push(Math.round(p.u * 1000) / 10);
      deg.push(thresholds.degraded * 100);
      unh.push(thresholds.unhealthy * 100);
      p95.push(p.p95);
      p99.push(p.p99);
      lim.push(limitPercent(p));
    }
    utilPlot.setData([xs, u, deg, unh, lim]);
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
      if (badge.getAttribute('data-state') !== m.health.state) {
        stateLog.push({ t: Date.now(), state: m.health.state });
      }
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
      renderSizing(m.sizing);
      // Percentiles of the last window only; a window without acquires has no data (not the last p99).
      var win = 'last ' + fmtWindow(m.waitWindow.windowMs);
      document.querySelectorAll('.win').forEach(function (el) {
        text(el, win);
      });
      var waits = m.acquireWaitMs;
      ['p95', 'p99'].forEach(function (k) {
        var el = $('c-' + k);
        text(el, waits ? fmtMs(waits[k]) : 'no data');
        el.setAttribute('data-empty', waits ? 'false' : 'true');
        el.title = waits ? m.waitWindow.acquires + ' acquires in the ' + win : 'no acquires in the ' + win;
      });
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
      text(
        $('tenant-cap'),
        m.maxPerTenant === null
          ? 'no per-organisation cap: one organisation may hold all ' + m.max + ' connections'
          : 'each organisation holds at most ' +
              m.maxPerTenant +
              ' of ' +
              m.max +
              ' connections (maxPerTenant)',
      );
      renderTenants(m.tenants, m.maxPerTenant);
    }
    renderLazy(s.lazy);
    renderShared(s.shared);
    renderPools(s.pools);
    if (s.loadLimits) applyLimits(s.loadLimits);
    if (s.load) renderLoad(s.load);
  }

  /** Bounds and placeholders of the form from the server's LOAD_LIMITS (defaults live there only). */
  function applyLimits(limits) {
    if (limitsApplied) return;
    limitsApplied = true;
    var form = $('load-form');
    Object.keys(limits).forEach(function (k) {
      var input = form.elements[k];
      if (!input) return;
      input.min = limits[k][0];
      input.placeholder = limits[k][1];
      input.max = limits[k][2];
    });
  }

  function renderLoad(load) {
    if (startedRun !== null && load.startedAt === startedRun) startedRun = null;
    // Until a sample shows the run we just started, it is running as far as the button goes.
    var running = load.running || startedRun !== null;
    var button = $('load-start');
    button.disabled = loadRequest || running;
    button.title = load.running ? 'a run is in progress until ' + load.endsAt : '';
    if (conflict === 'shown' && load.running) conflict = 'seen';
    if (!load.running) {
      if (!loadRequest && startedRun === null) text($('load-status'), '');
      // The run the 409 was about is over: Start works again, so the message has done its job.
      if (conflict === 'seen' && !loadRequest) {
        conflict = null;
        text($('load-error'), '');
      }
      return;
    }
    var stage = 0;
    var elapsed = Date.now() - Date.parse(load.startedAt);
    (load.ramp || []).forEach(function (st, i) {
      if (elapsed >= st.atMs) stage = i;
    });
    text(
      $('load-status'),
      'running: stage ' +
        (stage + 1) +
        '/' +
        (load.ramp || []).length +
        ', ' +
        load.workers +
        ' workers, ' +
        load.completed +
        ' ops, ' +
        load.failed +
        ' failed',
    );
  }

  function renderTenants(tenants, cap) {
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
      val.title = t.acquired + ' leases since start';
      // In use now against the per-organisation cap: a tenant at its cap waits, the others do not.
      var held = document.createElement('span');
      held.className = 'held';
      held.textContent = t.inUse + (cap === null ? '' : ' / ' + cap);
      held.setAttribute('data-at-cap', cap !== null && t.inUse >= cap ? 'true' : 'false');
      held.title = cap === null ? 'connections in use now (no per-organisation cap)' : 'in use now / cap';
      row.appendChild(name);
      row.appendChild(track);
      row.appendChild(val);
      row.appendChild(held);
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

  // The shared lazy tier panel: shown only when the server runs with REDIS_URL (snapshot.shared).
  function renderShared(shared) {
    var panel = $('shared');
    panel.hidden = !shared;
    if (!shared) return;
    var st = $('shared-state');
    st.setAttribute('data-state', shared.state);
    text(st, shared.state);
    text($('shared-lag'), fmtMs(shared.busLagMs.p50) + ' / ' + fmtMs(shared.busLagMs.p99));
    text($('shared-joined'), shared.fleetLoadsJoined);
    text($('shared-l2'), shared.l2Hits + ' / ' + shared.l2Misses);
    text($('shared-inval'), shared.invalidationsPublished + ' / ' + shared.invalidationsReceived);
    text($('shared-queued'), shared.queuedInvalidations);
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
      cell(tr, p.timeouts);
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
      if (loadRequest) return;
      var body = {};
      ['tenants', 'concurrency', 'durationMs'].forEach(function (k) {
        var v = form.elements[k].value;
        if (v !== '') body[k] = Number(v);
      });
      loadRequest = true;
      $('load-start').disabled = true;
      conflict = null;
      text($('load-error'), '');
      text($('load-status'), 'starting…');
      fetch('/demo/load', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
        .then(function (r) {
          return r
            .json()
            .catch(function () {
              return {};
            })
            .then(function (j) {
              if (r.ok) {
                startedRun = j.startedAt;
                text(
                  $('load-status'),
                  'started: ' +
                    j.ramp
                      .map(function (st) {
                        return st.workers;
                      })
                      .join(' → ') +
                    ' workers over ' +
                    fmtMs(j.durationMs),
                );
                return;
              }
              // 409: another run (another tab, curl) is in progress; 400: a value out of bounds.
              text($('load-status'), '');
              conflict = r.status === 409 ? 'shown' : null;
              text($('load-error'), r.status + ' ' + (j.error || r.statusText) + ': ' + (j.message || ''));
            });
        })
        .catch(function (e) {
          text($('load-error'), String(e));
        })
        .then(function () {
          loadRequest = false;
          if (last && last.load) renderLoad(last.load);
          else $('load-start').disabled = false;
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
    /** The server process the points come from (changes when the page re-syncs with a restarted server). */
    boot: function () {
      return boot;
    },
    /** Badge changes since the page loaded: [{ t, state }]. */
    stateLog: function () {
      return stateLog.slice();
    },
    /** The time format of the charts' axes and legends. */
    formatTime: fmtTime,
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
