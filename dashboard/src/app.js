/*
 * app.js - rcached's dashboard. Served from the admin port with a strict
 * CSP (no inline script, same-origin only). The admin token is asked for,
 * kept in sessionStorage (never in a URL, never logged) and sent as a
 * bearer header. Keys are user data: they are only ever put in the page
 * with textContent, never as HTML.
 */
'use strict';
(function () {
  const TOKEN_KEY = 'rcache-admin-token';
  const HISTORY_MAX = 3600;
  const $ = (id) => document.getElementById(id);
  let timer = null, slowTimer = null, lastT = 0, cursor = '0';
  const charts = {};
  const hist = { t: [] };

  // ---- token and API -------------------------------------------------
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

  function setStatus(text, bad) {
    const s = $('status');
    s.textContent = text;
    s.className = bad ? 'error' : '';
  }

  class AuthError extends Error {}

  async function api(path, opts) {
    const o = Object.assign({ headers: {} }, opts || {});
    o.headers = Object.assign({}, o.headers, { Authorization: 'Bearer ' + token() });
    o.cache = 'no-store';
    o.credentials = 'omit';
    const r = await fetch(path, o);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401 || r.status === 403) {
      setStatus((r.status === 401 ? '401 Unauthorized: no token given' : '403 Forbidden: wrong token') +
                ' — paste the admin token above.', true);
      stop();
      throw new AuthError(String(r.status));
    }
    if (!r.ok) throw new Error((body && body.error) || ('HTTP ' + r.status));
    return body;
  }

  // ---- formatting ----------------------------------------------------
  function fmtBytes(n) {
    if (n == null) return '∞';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(Math.round(n))) + ' ' + u[i];
  }
  function fmtNum(n) {
    if (n == null) return '–';
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(2) + 'M';
    if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    return Number.isInteger(n) ? String(n) : n.toFixed(1);
  }
  function fmtSecs(s) {
    if (s == null) return 'none';
    if (s < 120) return s.toFixed(0) + ' s';
    if (s < 7200) return (s / 60).toFixed(0) + ' min';
    return (s / 3600).toFixed(1) + ' h';
  }
  function pct(x) { return (x * 100).toFixed(1) + '%'; }

  // Text-only cell: user data never becomes HTML.
  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function keyText(o, field) {
    const k = o[field || 'key'];
    const enc = o[(field || 'key') + '_encoding'];
    return enc === 'base64' ? 'base64:' + k : k;
  }
  function clearBody(id) {
    const tb = $(id).tBodies[0];
    while (tb.firstChild) tb.removeChild(tb.firstChild);
    return tb;
  }

  // ---- charts --------------------------------------------------------
  const SERIES = {
    'ch-ops': [['ops/s', 'ops_per_s', '#2b6cb0'], ['hits/s', 'hits_per_s', '#2f855a'], ['misses/s', 'misses_per_s', '#c53030']],
    'ch-ratio': [['hit ratio', 'hit_ratio', '#2f855a']],
    'ch-mem': [['bytes', 'bytes', '#2b6cb0'], ['limit', 'max_bytes', '#c53030']],
    'ch-ev': [['evicted (max items)/s', 'evictions_items_per_s', '#dd6b20'], ['evicted (max memory)/s', 'evictions_bytes_per_s', '#c53030'], ['expired/s', 'expirations_per_s', '#6b46c1']],
    'ch-items': [['items', 'items', '#2b6cb0'], ['clients', 'clients', '#718096']],
    'ch-saved': [['compute saved s/s', 'compute_saved_s_per_s', '#2f855a']],
  };

  function chartWidth(el) { return Math.max(300, el.clientWidth || 400); }

  function makeChart(id) {
    const el = $(id);
    if (!window.uPlot) { el.textContent = 'Charting library not bundled in this build.'; return null; }
    const series = [{}].concat(SERIES[id].map(([label, , stroke]) => ({ label, stroke, width: 1.5 })));
    const axes = [{}, { size: id === 'ch-mem' ? 85 : 60, values: id === 'ch-mem' ? (u, v) => v.map(fmtBytes) : undefined }];
    const data = [[]].concat(SERIES[id].map(() => []));
    return new window.uPlot({ width: chartWidth(el), height: 200, series, axes,
      scales: { x: { time: true } } }, data, el);
  }

  function pushHistory(s) {
    const n = s.t_ms.length;
    if (!n) return;
    for (let i = 0; i < n; i++) hist.t.push(s.t_ms[i] / 1000);
    for (const k of Object.keys(s)) {
      if (k === 't_ms') continue;
      hist[k] = (hist[k] || []).concat(s[k]);
    }
    const extra = hist.t.length - HISTORY_MAX;
    if (extra > 0) for (const k of Object.keys(hist)) hist[k].splice(0, extra);
    lastT = s.t_ms[n - 1];
    for (const id of Object.keys(SERIES)) {
      if (!charts[id]) charts[id] = makeChart(id);
      const el = $(id);
      el.dataset.points = String(hist.t.length);
      el.dataset.last = JSON.stringify(SERIES[id].map(([, f]) => (hist[f] || [])[hist.t.length - 1]));
      if (charts[id]) charts[id].setData([hist.t].concat(SERIES[id].map(([, f]) => hist[f] || [])));
    }
  }

  // ---- panels --------------------------------------------------------
  function card(parent, label, value) {
    const d = document.createElement('div');
    d.className = 'card';
    const v = document.createElement('div'); v.className = 'v'; v.textContent = value;
    const k = document.createElement('div'); k.className = 'k'; k.textContent = label;
    d.append(v, k);
    parent.appendChild(d);
  }

  async function loadStats() {
    const r = await api('/api/cache/stats');
    const s = r.stats, c = $('cards');
    while (c.firstChild) c.removeChild(c.firstChild);
    card(c, 'hit ratio', s.hit_rate_percent.toFixed(1) + '%');
    card(c, 'items / max', fmtNum(s.current_items) + ' / ' + (s.max_items == null ? '∞' : fmtNum(s.max_items)));
    card(c, 'memory / limit', fmtBytes(s.current_memory_bytes) + ' / ' + fmtBytes(s.max_memory_bytes));
    card(c, 'evictions', fmtNum(s.evictions));
    card(c, 'expirations', fmtNum(s.expirations));
    card(c, 'compute saved', fmtSecs(s.compute_saved_seconds));
    card(c, 'uptime', fmtSecs(s.uptime_seconds));
    renderTier(s.tier);
  }

  // ---- second tier (--l2) ----------------------------------------------
  // From stats.tier (null without --l2): one row per figure, data-field
  // names it and data-value holds a counter's raw number (the browser test
  // reads them); the panel's data-state is
  // connected / reconnecting / connecting, or none.
  const TIER_STATE = {
    connected: 'Connected',
    reconnecting: 'Disconnected: reconnecting (L1 cleared, serving without L2)',
    connecting: 'Not connected yet: connecting',
  };
  const CLEAR_REASON = {
    bus_lost: 'invalidation connection lost', data_lost: 'data connection lost',
    resync: 'reconnected (tracking re-enabled)', flushall: 'FLUSHALL/FLUSHDB on L2',
  };

  function renderTier(t) {
    const panel = $('tier-panel'), tb = clearBody('tier');
    if (!t) {
      panel.dataset.state = 'none';
      $('tier-state').textContent = 'No L2 configured (start rcached with --l2 redis://host:port).';
      $('tier-error').textContent = '';
      return;
    }
    panel.dataset.state = t.state || (t.connected ? 'connected' : 'reconnecting');
    $('tier-state').textContent = (TIER_STATE[panel.dataset.state] || panel.dataset.state) +
      (t.address ? ' — ' + t.address : '');
    const row = (label, field, value) => {
      const tr = document.createElement('tr');
      tr.dataset.field = field;
      if (typeof t[field] === 'number') tr.dataset.value = String(t[field]);
      cell(tr, label);
      cell(tr, value, 'num');
      tb.appendChild(tr);
    };
    const looked = t.l1_hits + t.l2_hits + t.misses;
    row('L1 hits', 'l1_hits', fmtNum(t.l1_hits));
    row('L2 hits (L1 misses served by L2)', 'l2_hits', fmtNum(t.l2_hits));
    row('misses (neither tier)', 'misses', fmtNum(t.misses));
    row('hit ratio, both tiers', 'hit_ratio', looked ? pct((t.l1_hits + t.l2_hits) / looked) : '–');
    row('L2 errors', 'l2_errors', fmtNum(t.l2_errors));
    row('L2 round trips (avg / max)', 'rtt', fmtNum(t.l2_roundtrips) + ' (' + t.l2_rtt_avg_us + ' / ' +
      t.l2_rtt_max_us + ' µs)');
    row('invalidations received', 'invalidations', fmtNum(t.invalidations));
    const clears = t.l1_clears || {};
    const parts = Object.keys(CLEAR_REASON).filter((k) => clears[k]).map((k) => CLEAR_REASON[k] + ': ' + clears[k]);
    const total = Object.keys(clears).reduce((n, k) => n + clears[k], 0);
    row('L1 clears', 'l1_clears', String(total) + (parts.length ? ' (' + parts.join(', ') + ')' : ''));
    row('last L1 clear', 'last_l1_clear', t.last_l1_clear
      ? (CLEAR_REASON[t.last_l1_clear.reason] || t.last_l1_clear.reason) + ', ' +
        fmtSecs(t.last_l1_clear.age_seconds) + ' ago' : 'none');
    row('reconnects', 'reconnects', fmtNum(t.reconnects));
    row('leases taken / waits / takeovers', 'leases', t.lease_acquired + ' / ' + t.lease_waits + ' / ' +
      t.lease_takeovers);
    row('L2 replies not installed (raced)', 'installs_dropped', fmtNum(t.installs_dropped));
    $('tier-error').textContent = t.last_error
      ? 'Last error (' + fmtSecs(t.last_error_age_seconds) + ' ago): ' + t.last_error : 'No L2 error since start.';
  }

  async function loadHistory() {
    const r = await api('/api/cache/history?since=' + encodeURIComponent(String(lastT)));
    pushHistory(r.series);
  }

  let mrcChart = null;
  async function loadMrc() {
    const el = $('ch-mrc');
    let r;
    try { r = await api('/api/cache/mrc'); } catch (e) {
      if (e instanceof AuthError) throw e;
      $('mrc-readout').textContent = 'Miss-ratio curve unavailable: ' + e.message;
      return;
    }
    const xs = r.points.map((p) => p.factor), ys = r.points.map((p) => p.hit_ratio_items),
      yb = r.points.map((p) => p.hit_ratio_bytes);
    el.dataset.points = String(xs.length);
    if (window.uPlot) {
      const data = [xs, ys, yb];
      if (!mrcChart) {
        mrcChart = new window.uPlot({
          width: chartWidth(el), height: 240,
          scales: { x: { time: false, distr: 3 }, y: { range: [0, 1] } },
          series: [{ label: '× current size' },
            { label: 'hit ratio (items)', stroke: '#2b6cb0', width: 2 },
            { label: 'hit ratio (bytes)', stroke: '#2f855a', width: 1.5, dash: [5, 3] }],
          axes: [{ label: 'cache size, × current' }, { size: 60, values: (u, v) => v.map(pct) }],
          hooks: { draw: [(u) => { // the current size
            const x = u.valToPos(1, 'x', true), ctx = u.ctx;
            ctx.save(); ctx.strokeStyle = '#c53030'; ctx.setLineDash([4, 4]);
            ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
            ctx.restore();
          }] },
        }, data, el);
      } else mrcChart.setData(data);
    }
    const ro = r.readout;
    $('mrc-readout').textContent = 'Now (' + fmtNum(r.current.items) + ' items, ' + fmtBytes(r.current.bytes) +
      '): estimated hit ratio ' + pct(ro.hit_ratio_now) + ' (measured ' + pct(r.current.hit_ratio_measured) +
      '). At 2× memory: hit ratio ' + pct(ro.hit_ratio) + ', ~' + fmtNum(ro.compute_saved_s_per_hour_extra) +
      ' s of compute saved per hour.';
    $('mrc-info').textContent = 'SHARDS estimate: sampling rate ' + r.estimator.sampling_rate.toFixed(4) + ', ' +
      r.estimator.tracked_keys + ' keys tracked, ' + fmtBytes(r.estimator.mem_bytes) + ' of memory; limited by ' +
      ro.limited_by + '.';
  }

  async function loadHot() {
    const r = await api('/api/cache/hotkeys?n=15');
    const tb = clearBody('hot');
    for (const k of r.keys) {
      const tr = document.createElement('tr');
      cell(tr, keyText(k) + (k.truncated ? '…' : ''), 'key');
      cell(tr, fmtNum(k.count), 'num');
      cell(tr, pct(k.share), 'num');
      cell(tr, k.bytes ? fmtBytes(k.bytes) : '?', 'num');
      tb.appendChild(tr);
    }
  }

  async function loadSizes() {
    const r = await api('/api/cache/sizes');
    const tb = clearBody('sizes');
    const max = Math.max(1, ...r.buckets.map((b) => b.items));
    for (const b of r.buckets) {
      const tr = document.createElement('tr');
      cell(tr, fmtBytes(b.min_bytes) + ' – ' + fmtBytes(b.max_bytes + 1));
      cell(tr, fmtNum(b.items), 'num');
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.style.width = (100 * b.items / max).toFixed(1) + '%';
      cell(tr, '').appendChild(bar);
      cell(tr, fmtBytes(b.bytes), 'num');
      tb.appendChild(tr);
    }
  }

  async function loadNs() {
    const r = await api('/api/cache/namespaces');
    const tb = clearBody('ns');
    for (const n of r.namespaces) {
      const tr = document.createElement('tr');
      cell(tr, n.has_prefix ? keyText(n, 'name') + (n.truncated ? '…' : '') : '(no prefix)', 'key');
      cell(tr, fmtNum(n.items), 'num');
      cell(tr, fmtBytes(n.bytes), 'num');
      tb.appendChild(tr);
    }
    if (r.other.items) {
      const tr = document.createElement('tr');
      cell(tr, '(others)');
      cell(tr, fmtNum(r.other.items), 'num');
      cell(tr, fmtBytes(r.other.bytes), 'num');
      tb.appendChild(tr);
    }
  }

  // ---- snapshots ------------------------------------------------------
  // GET /api/cache/snapshot: one row per figure, a column for the last save
  // and one for the last load (start-up or DEBUG RELOAD); data-field names
  // the figure (the browser test reads them).
  function snapRow(tb, label, field, save, load) {
    const tr = document.createElement('tr');
    tr.dataset.field = field;
    cell(tr, label);
    cell(tr, save, 'num');
    cell(tr, load, 'num');
    tb.appendChild(tr);
  }

  function fmtWhen(unixS) {
    return unixS ? new Date(unixS * 1000).toLocaleString() : '–';
  }

  async function loadSnapshot() {
    let r;
    try { r = await api('/api/cache/snapshot'); } catch (e) {
      if (e instanceof AuthError) throw e;
      $('snap-info').textContent = 'Snapshot status unavailable: ' + e.message;
      $('snap-save').disabled = true;
      return;
    }
    const s = r.last_save, l = r.last_load, tb = clearBody('snap');
    const loaded = l.status !== 'none';
    snapRow(tb, 'status', 'status', s.saves || s.failures ? s.status : 'none', l.status);
    snapRow(tb, 'time', 'time', s.saves ? fmtWhen(s.time) : '–', '–');
    snapRow(tb, 'keys', 'keys', s.saves ? fmtNum(s.keys) : '–', loaded ? fmtNum(l.keys) : '–');
    snapRow(tb, 'size', 'size', s.saves ? fmtBytes(s.bytes) : '–', loaded ? fmtBytes(l.bytes) : '–');
    snapRow(tb, 'duration', 'duration', s.saves ? s.seconds.toFixed(3) + ' s' : '–',
      loaded ? l.seconds.toFixed(3) + ' s' : '–');
    snapRow(tb, 'counts', 'counts', s.saves + ' ok, ' + s.failures + ' failed',
      loaded ? l.expired + ' expired, ' + l.skipped + ' skipped' : '–');
    $('snap-panel').dataset.saves = String(s.saves);
    $('snap-panel').dataset.inProgress = String(r.in_progress);
    $('snap-save').disabled = !r.enabled;
    $('snap-info').textContent = !r.enabled ? 'Snapshots are off (start rcached with --dir).'
      : (r.in_progress ? 'A save is running. ' : '') + fmtNum(r.changes_since_save) +
        ' changes since the last save.' + (r.last_error ? ' Last error: ' + r.last_error : '');
  }

  async function saveNow() {
    if (!window.confirm('Start a background save of the whole cache now (BGSAVE)?')) {
      $('snap-msg').textContent = 'Save cancelled.';
      return;
    }
    try {
      await api('/api/cache/snapshot', { method: 'POST' });
      $('snap-msg').textContent = 'Background save started.';
      $('snap-msg').className = 'note';
      await loadSnapshot();
    } catch (e) {
      $('snap-msg').textContent = 'Save refused: ' + e.message;
      $('snap-msg').className = 'error';
    }
  }

  // ---- configuration -------------------------------------------------
  async function loadConfig() {
    const r = await api('/api/cache/config');
    $('cfg-items').value = r.config.max_size == null ? 0 : r.config.max_size;
    $('cfg-mem').value = r.config.max_memory_mb == null ? 0 : r.config.max_memory_mb;
    $('cfg-ttl').value = r.config.default_ttl_seconds == null ? 0 : r.config.default_ttl_seconds;
  }

  async function applyConfig(ev) {
    ev.preventDefault();
    const num = (id) => ($(id).value === '' ? 0 : Number($(id).value));
    const body = { max_size: num('cfg-items'), max_memory_mb: num('cfg-mem'), default_ttl_seconds: num('cfg-ttl') };
    try {
      const r = await api('/api/cache/config', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      $('cfg-msg').textContent = 'Applied (' + r.evicted + ' evicted).';
      $('cfg-msg').className = 'note';
      await loadConfig();
    } catch (e) {
      $('cfg-msg').textContent = 'Refused: ' + e.message;
      $('cfg-msg').className = 'error';
    }
  }

  // ---- entries browser -----------------------------------------------
  function entryPath(e) {
    return '/api/cache/entries/' + encodeURIComponent(e.key) + (e.key_encoding === 'base64' ? '?encoding=base64' : '');
  }

  function entryRow(tb, e) {
    const tr = document.createElement('tr');
    cell(tr, keyText(e), 'key');
    cell(tr, fmtBytes(e.size_bytes), 'num');
    cell(tr, e.ttl_seconds == null ? 'none' : fmtSecs(e.ttl_seconds), 'num');
    cell(tr, fmtSecs(e.age_seconds), 'num');
    cell(tr, fmtNum(e.access_count), 'num');
    // tags as text; each a button that invalidates it (UTF-8 tags only:
    // the API names a tag by its text)
    const tc = cell(tr, '', 'tags');
    for (const t of e.tags || []) {
      const tb2 = document.createElement('button');
      tb2.type = 'button';
      tb2.className = 'tag';
      tb2.textContent = e.tags_encoding === 'base64' ? t + ' (base64)' : t;
      tb2.disabled = e.tags_encoding === 'base64';
      tb2.title = 'Invalidate every key tagged with this';
      tb2.addEventListener('click', () => invalidateTag(t));
      tc.appendChild(tb2);
    }
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Delete';
    b.className = 'del';
    b.addEventListener('click', async () => {
      try {
        await api(entryPath(e), { method: 'DELETE' });
        tr.remove();
      } catch (err) { $('browse-msg').textContent = 'Delete failed: ' + err.message; }
    });
    cell(tr, '').appendChild(b);
    tb.appendChild(tr);
  }

  // One page of the entries browser: scan steps (SCAN rules: a step may
  // match nothing) until 50 rows or the end of the keyspace.
  async function browse(fresh) {
    if (fresh) { cursor = '0'; clearBody('entries'); }
    const tb = $('entries').tBodies[0];
    let rows = 0, done = false;
    try {
      for (let step = 0; step < 200 && rows < 50 && !done; step++) {
        const q = new URLSearchParams({ count: '500', cursor });
        if ($('match').value) q.set('match', $('match').value);
        const r = await api('/api/cache/entries?' + q.toString());
        for (const e of r.entries) { entryRow(tb, e); rows++; }
        cursor = r.next_cursor;
        done = r.done;
      }
      $('more').disabled = done;
      $('browse-msg').textContent = done ? 'End of the keyspace.' : '';
    } catch (e) {
      $('browse-msg').textContent = 'Search failed: ' + e.message;
    }
  }

  async function invalidate() {
    const pattern = $('match').value;
    if (!pattern) { $('browse-msg').textContent = 'Type a glob pattern in the filter first.'; return; }
    if (!window.confirm('Remove every key matching "' + pattern + '"?')) return;
    try {
      const r = await api('/api/cache/invalidate', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pattern }) });
      $('browse-msg').textContent = 'Removed ' + r.removed + ' entries.';
      await browse(true);
    } catch (e) { $('browse-msg').textContent = 'Invalidate failed: ' + e.message; }
  }

  // Remove every entry carrying a tag (POST {"tag": ...}), after a
  // confirmation that names the tag.
  async function invalidateTag(tag) {
    if (!tag) { $('browse-msg').textContent = 'Type a tag first.'; return; }
    if (!window.confirm('Remove every key tagged "' + tag + '"?')) return;
    try {
      const r = await api('/api/cache/invalidate', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ tag }) });
      $('browse-msg').textContent = 'Removed ' + r.removed + ' entries tagged "' + tag + '".';
      await browse(true);
      $('browse-msg').textContent = 'Removed ' + r.removed + ' entries tagged "' + tag + '".';
    } catch (e) { $('browse-msg').textContent = 'Invalidate failed: ' + e.message; }
  }

  // ---- refresh loop --------------------------------------------------
  async function fast() {
    try {
      await Promise.all([loadHistory(), loadStats(), loadSnapshot()]);
      setStatus('Connected; refreshed ' + new Date().toLocaleTimeString() + '.', false);
    } catch (e) { if (!(e instanceof AuthError)) setStatus('Refresh failed: ' + e.message, true); }
  }
  async function slow() {
    try { await Promise.all([loadMrc(), loadHot(), loadSizes(), loadNs()]); } catch (e) {
      if (!(e instanceof AuthError)) setStatus('Refresh failed: ' + e.message, true);
    }
  }
  function stop() { clearInterval(timer); clearInterval(slowTimer); timer = slowTimer = null; }
  async function start() {
    stop();
    setStatus('Connecting…', false);
    try {
      await loadConfig();
    } catch (e) { if (!(e instanceof AuthError)) setStatus('Cannot load: ' + e.message, true); return; }
    await fast();
    await slow();
    await browse(true);
    timer = setInterval(fast, 1000);
    slowTimer = setInterval(slow, 5000);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
      $('token').value = '';
      start();
    });
    $('logout').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); stop(); setStatus('Token forgotten.', false); });
    $('config').addEventListener('submit', applyConfig);
    $('browse').addEventListener('submit', (ev) => { ev.preventDefault(); browse(true); });
    $('more').addEventListener('click', () => browse(false));
    $('invalidate').addEventListener('click', invalidate);
    $('snap-save').addEventListener('click', saveNow);
    $('invalidate-tag').addEventListener('click', () => invalidateTag($('tag').value));
    start(); // with no token the API answers 401 and the status says so
  });
})();
