// Live search page. It paints from a summary (counts, the best trial, the first leaderboard page;
// searches/queries.py), fetches the charts once, and then applies the socket's frames of numbered
// deltas in place: a trial's row, the counts, the best value and the charts' new points change; nothing
// is re-rendered or refetched. The leaderboard is sorted, filtered and paged by the server
// (leaderboard.json). The page keeps the numbers it has seen: on a gap that does not fill within a
// second, and on every (re)connect, it asks events.json for what came after its last contiguous number;
// only when the server says the stream restarted or no longer holds them does it reload the summary.
(function () {
  const initial = JSON.parse(document.getElementById("search-state-data").textContent);
  const base = location.pathname;
  const objective = initial.objective;
  const second = initial.second;
  const tbody = document.querySelector("#leaderboard tbody");
  const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(2) + "%");
  const shown = objective.metric.indexOf("accuracy") >= 0 ? pct : (v) => (v === null || v === undefined ? "–" : v.toLocaleString());
  const FINAL = ["complete", "pruned", "failed", "cancelled"];
  const STATES = ["queued", "running", "complete", "pruned", "failed", "cancelled"];

  let log, seq, counts, best, board, maxNumber;  // maxNumber: the highest trial number in the summary
  const states = new Map();       // trial id -> state, for the trials whose state this page knows
  const trialSeq = new Map();     // trial id -> number of the newest snapshot applied
  const seen = new Set();         // numbers above `seq` that arrived out of order
  let gapTimer = null, catchingUp = false, chartsDrawn = false;
  let bestChart = null, paretoChart = null;   // client copies of the lines the charts draw

  function value(t, metric) {
    const m = t.metrics || {};
    if (metric === "val_accuracy" && t.val_accuracy !== null && t.val_accuracy !== undefined) return t.val_accuracy;
    if (metric === "params" && t.params !== null && t.params !== undefined) return t.params;
    return typeof m[metric] === "number" ? m[metric] : null;
  }
  const better = (a, b, direction) => (direction === "max" ? a > b : a < b);

  // --- summary ---------------------------------------------------------------------------------
  function loadSummary(state) {
    log = state.log; seq = state.seq; counts = state.counts; best = state.best; board = state.leaderboard;
    seen.clear(); states.clear(); trialSeq.clear();
    maxNumber = 0;
    (state.open || []).concat(board.trials).forEach(function (t) {
      states.set(t.id, t.state);
      maxNumber = Math.max(maxNumber, t.number);
    });
    maxNumber = Math.max(maxNumber, state.max_number || 0);
    setSearch(state.search);
    drawCounts(); drawBest(); drawBoard();
    drawOneShot(state.oneshot);
    window.nasSearchStatus(state.status);
  }

  function reloadSummary() {
    return getJSON(base + "data.json?" + boardQuery(board)).then(function (state) {
      loadSummary(state);
      document.dispatchEvent(new CustomEvent("nas:search-event", {detail: {type: "reload"}}));
      return loadCharts();
    });
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  // --- counts, best, search ----------------------------------------------------------------------
  function drawCounts() {
    document.getElementById("trial-count").textContent = counts.total.toLocaleString();
    document.getElementById("trial-noun").textContent = counts.total === 1 ? "trial" : "trials";
    const parts = STATES.filter((s) => counts[s]).map((s) => counts[s].toLocaleString() + " " + s);
    document.getElementById("state-counts").textContent = parts.length ? "(" + parts.join(", ") + ")" : "";
  }

  function drawBest() {
    document.getElementById("best-value").textContent = best ? shown(value(best, objective.metric)) : "–";
    const link = document.getElementById("best-trial");
    link.textContent = best ? "#" + best.number : "";
    link.href = best ? "/trials/" + best.id + "/" : "#";
  }

  function setSearch(s) {
    const el = document.getElementById("search-state");
    el.textContent = s.state;
    el.className = "state state-" + s.state;
    const err = document.getElementById("search-error");
    err.textContent = s.error || "";
    err.hidden = !s.error;
  }

  // --- leaderboard ---------------------------------------------------------------------------------
  function boardQuery(b) {
    return new URLSearchParams({sort: b.sort, dir: b.dir, state: b.state, page: b.page, per_page: b.per_page}).toString();
  }

  function fetchBoard(changes) {
    const wanted = Object.assign({}, board, changes);
    return getJSON(base + "leaderboard.json?" + boardQuery(wanted)).then(function (page) {
      board = page;
      page.trials.forEach((t) => states.set(t.id, t.state));
      drawBoard();
    });
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  const columns = Array.from(document.querySelectorAll("#leaderboard thead th"), (th) => [th.dataset.col, th.textContent.trim()]);
  const count = (n) => (n >= 1e6 ? (n / 1e6).toFixed(2) + " M" : n >= 1e3 ? (n / 1e3).toFixed(1) + " k" : String(n));
  const seconds = (s) => (s < 100 ? s.toFixed(1) : Math.round(s).toLocaleString()) + " s";

  function fillRow(tr, t) {
    tr.id = "trial-" + t.id;
    tr.dataset.number = t.number;
    tr.className = "trial-row state-row-" + t.state;
    const link = document.createElement("a");
    link.href = "/trials/" + t.id + "/";
    link.textContent = t.number;
    const num = document.createElement("td"); num.appendChild(link);
    const m = t.metrics || {};
    const state = cell(t.state, "state state-" + t.state);
    if (t.error) state.title = t.error;
    const arch = cell(t.description, "arch");
    arch.title = t.description;  // shortened with an ellipsis; the whole on hover
    const params = cell(t.params ? count(t.params) : "–", "num");
    if (t.params) params.title = t.params.toLocaleString() + " parameters";
    tr.replaceChildren(num, arch, state, cell(t.epochs_done || 0, "epoch"),
      cell(pct(t.val_accuracy), "val num"), cell(pct(m.test_accuracy), "num"), params,
      cell(t.seconds ? seconds(t.seconds) : "–", "num"), cell(t.worker || "–"));
    columns.forEach(function ([col, label], i) {  // for the column chooser and the phone layout
      tr.children[i].dataset.col = col; tr.children[i].dataset.label = label;
    });
    return tr;
  }

  function drawBoard() {
    tbody.replaceChildren(...board.trials.map((t) => fillRow(document.createElement("tr"), t)));
    drawPager();
    document.getElementById("board-state").value = board.state;
    document.getElementById("board-per-page").value = String(board.per_page);
    document.querySelectorAll("#leaderboard th[data-sort]").forEach(function (th) {
      th.classList.toggle("sorted", th.dataset.sort === board.sort);
      th.dataset.dir = th.dataset.sort === board.sort ? board.dir : "";
      th.setAttribute("aria-sort", th.dataset.sort !== board.sort ? "none" : board.dir === "asc" ? "ascending" : "descending");
    });
  }

  function drawPager() {
    document.getElementById("no-trials").hidden = board.total > 0;
    document.getElementById("board-page").textContent =
      "page " + board.page + " of " + board.pages + " · " + board.total.toLocaleString() + " trials";
    document.getElementById("board-prev").disabled = board.page <= 1;
    document.getElementById("board-next").disabled = board.page >= board.pages;
  }

  function passesFilter(state) {
    if (!state) return false;
    if (board.state === "all") return true;
    if (board.state === "open") return state === "queued" || state === "running";
    return state === board.state;
  }

  function sortKey(t) {
    switch (board.sort) {
      case "objective": return value(t, objective.metric);
      case "number": return t.number;
      case "epochs": return t.epochs_done;
      case "test_accuracy": return value(t, "test_accuracy");
      default: return value(t, board.sort);
    }
  }

  // The server's order: by the key (absent values last), then by number.
  function before(a, b) {
    const ka = sortKey(a), kb = sortKey(b);
    if (ka !== kb) {
      if (ka === null) return false;
      if (kb === null) return true;
      return board.dir === "desc" ? ka > kb : ka < kb;
    }
    return a.number < b.number;
  }

  // Put a changed trial where it belongs on the shown page, or take it off; rows change in place.
  function placeOnBoard(t, previous) {
    const rows = board.trials;
    const at = rows.findIndex((r) => r.id === t.id);
    if (at >= 0) rows.splice(at, 1);
    const wasShown = at >= 0;
    board.total += (passesFilter(t.state) ? 1 : 0) - (passesFilter(previous) ? 1 : 0);
    board.pages = Math.max(1, Math.ceil(board.total / board.per_page));
    if (!passesFilter(t.state)) {
      if (wasShown) removeRow(t.id);
      drawPager();
      return;
    }
    drawPager();
    let index = rows.findIndex((r) => before(t, r));
    if (index < 0) index = rows.length;
    const full = rows.length >= board.per_page;
    const belongsHere = (index < rows.length || !full) && (index > 0 || board.page === 1 || wasShown);
    if (!belongsHere) { if (wasShown) removeRow(t.id); return; }
    rows.splice(index, 0, t);
    let tr = document.getElementById("trial-" + t.id) || document.createElement("tr");
    fillRow(tr, t);
    const next = rows[index + 1] ? document.getElementById("trial-" + rows[index + 1].id) : null;
    if (tr.nextSibling !== next || !tr.parentNode) tbody.insertBefore(tr, next);
    while (rows.length > board.per_page) removeRow(rows.pop().id);
    document.getElementById("no-trials").hidden = true;
  }

  function removeRow(id) {
    const tr = document.getElementById("trial-" + id);
    if (tr) tr.remove();
  }

  // --- deltas ----------------------------------------------------------------------------------------
  function applyTrial(t, number) {
    if ((trialSeq.get(t.id) || 0) > number) return;  // an older snapshot that arrived late
    trialSeq.set(t.id, number);
    let previous = states.get(t.id);
    if (previous === undefined && t.number <= maxNumber) previous = t.state;  // final before the summary
    if (previous !== t.state) {
      if (previous) counts[previous] -= 1; else counts.total += 1;
      counts[t.state] = (counts[t.state] || 0) + 1;
      drawCounts();
    }
    placeOnBoard(t, previous);
    states.set(t.id, t.state);
    const v = value(t, objective.metric);
    if (t.state === "complete" && v !== null) {
      if (!best || better(v, value(best, objective.metric), objective.direction) || best.id === t.id) {
        best = t; drawBest();
      }
      if (previous !== "complete") addChartPoint(t, v);
    }
  }

  function applyMetric(e) {
    const row = document.getElementById("trial-" + e.trial_id);
    if (row) row.querySelector(".epoch").textContent = e.epoch;
    const t = board.trials.find((r) => r.id === e.trial_id);
    if (t) t.epochs_done = e.epoch;
  }

  function apply(e) {
    document.dispatchEvent(new CustomEvent("nas:search-event", {detail: e}));  // for search_charts_live.js
    if (e.type === "trial") applyTrial(e.trial, e.seq);
    else if (e.type === "metric") applyMetric(e);
    else if (e.type === "search") setSearch(e.search);
    else if (e.type === "oneshot") refreshOneShot();
  }

  function advance() {
    while (seen.has(seq + 1)) { seen.delete(seq + 1); seq += 1; }
    clearTimeout(gapTimer);
    if (seen.size) gapTimer = setTimeout(catchUp, 1000);  // a number is missing: ask if it stays missing
  }

  function onFrame(frame) {
    if (frame.type === "status") { window.nasSearchStatus(frame.status); return; }  // unnumbered, replaces the last
    if (frame.type !== "batch") return;
    if (log && frame.log && frame.log !== log) { reloadSummary(); return; }  // the stream restarted
    log = log || frame.log;
    frame.events.forEach(apply);
    frame.seqs.forEach(function (n) { if (n > seq) seen.add(n); });
    advance();
  }

  function catchUp() {
    if (catchingUp) return Promise.resolve();
    catchingUp = true;
    return getJSON(base + "events.json?after=" + seq + "&log=" + encodeURIComponent(log || ""))
      .then(function (answer) {
        if (answer.reset) return reloadSummary();
        window.nasSearchStatus(answer.status);
        log = answer.log || log;
        answer.events.forEach(function (e) {
          if (e.seq > seq && !seen.has(e.seq)) { apply(e); seen.add(e.seq); }
        });
        advance();
      })
      .catch(() => {})
      .finally(() => { catchingUp = false; });
  }

  // --- charts: fetched once, then points are added ------------------------------------------------------
  const plotConfig = {displaylogo: false, responsive: true};

  function loadCharts() {
    if (!document.getElementById("best-chart")) return Promise.resolve();
    return getJSON(base + "charts.json").then(function (figs) {
      if (!window.Plotly) return;
      // One chart a task (each draw of up to a thousand SVG points is a task of its own), so the page
      // answers input between them.
      Plotly.react("best-chart", figs.best.data, figs.best.layout, plotConfig);
      return nextTask().then(function () {
        Plotly.react("pareto-chart", figs.pareto.data, figs.pareto.layout, plotConfig);
        drawnNumbers = new Set(figs.best.data[0].x);
        bestSampler = sampler(figs.best.meta); paretoSampler = sampler(figs.pareto.meta);
        bestChart = {x: figs.best.data[1].x.slice(), y: figs.best.data[1].y.slice()};
        paretoChart = {points: figs.pareto.data[1].x.map((x, i) => [x, figs.pareto.data[1].y[i], figs.pareto.data[1].text[i]])};
        chartsDrawn = true;
        drawPendingPoints();  // the trials that finished while the charts were fetched
      });
    }).catch(() => {});
  }

  // Points wait for the next animation frame and are drawn together: a frame of a batch of lookup
  // trials (hundreds of events) is one extendTraces and one restyle per chart, not a redraw per point.
  // A point is drawn once: charts.json may already hold a trial whose event comes after it was built
  // (drawnNumbers: the trial numbers the charts hold).
  let pendingPoints = [], pointsScheduled = false, drawnNumbers = new Set();
  let bestSampler = null, paretoSampler = null;
  const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

  // The trial points behind the lines stay at most meta.limit (charts.py MAX_SCATTER_POINTS), spread evenly
  // over the search as the server thins them: one new trial in `stride` is drawn, and when the chart is
  // full it keeps every other point and the stride doubles. An SVG draw then stays short at any size.
  function sampler(meta) {
    return {limit: meta.limit, shown: meta.shown, stride: meta.points > meta.shown ? meta.points / meta.shown : 1,
            due: 0};
  }

  function sample(s, items) {
    return items.filter(function () {
      s.due += 1;
      if (s.due < s.stride) return false;
      s.due -= s.stride;
      return true;
    });
  }

  function extendSampled(id, s, columns) {  // columns: {x: [...], y: [...], text?: [...]} of the new points
    const keys = Object.keys(columns), wrap = (cols) => Object.fromEntries(keys.map((k) => [k, [cols[k]]]));
    if (!columns.x.length) return;
    if (s.shown + columns.x.length <= s.limit) {
      Plotly.extendTraces(id, wrap(columns), [0]);
      s.shown += columns.x.length;
      return;
    }
    // Full: every other point goes (old and new alike) until they fit, and half as many are drawn from now on.
    const trace = document.getElementById(id).data[0];
    let merged = Object.fromEntries(keys.map((k) => [k, Array.from(trace[k] || []).concat(columns[k])]));
    while (merged.x.length > s.limit) {
      merged = Object.fromEntries(keys.map((k) => [k, merged[k].filter((_, i) => i % 2 === 0)]));
      s.stride *= 2;
    }
    Plotly.restyle(id, wrap(merged), [0]);
    s.shown = merged.x.length;
  }

  function addChartPoint(t, v) {
    if (!window.Plotly || !document.getElementById("best-chart")) return;
    pendingPoints.push([t, v]);
    if (chartsDrawn && !pointsScheduled) { pointsScheduled = true; requestAnimationFrame(drawPendingPoints); }
  }

  function drawPendingPoints() {
    pointsScheduled = false;
    if (!chartsDrawn) return;
    const points = pendingPoints.filter(([t]) => !drawnNumbers.has(t.number));
    pendingPoints = [];
    points.forEach(([t]) => drawnNumbers.add(t.number));
    if (!points.length) return;
    const drawn = sample(bestSampler, points);
    extendSampled("best-chart", bestSampler, {x: drawn.map((p) => p[0].number), y: drawn.map((p) => p[1])});
    points.forEach(([t, v]) => stepBestLine(t.number, v));
    Plotly.restyle("best-chart", {x: [bestChart.x.slice()], y: [bestChart.y.slice()]}, [1]);
    const costed = points.map(([t, v]) => [value(t, second.metric), v, "trial " + t.number]).filter((p) => p[0] !== null);
    if (!costed.length) return;
    const spread = sample(paretoSampler, costed);
    extendSampled("pareto-chart", paretoSampler, {x: spread.map((p) => p[0]), y: spread.map((p) => p[1]),
                                                  text: spread.map((p) => p[2])});
    if (!costed.map(addToFront).some(Boolean)) return;
    const pts = paretoChart.points;
    Plotly.restyle("pareto-chart", {x: [pts.map((p) => p[0])], y: [pts.map((p) => p[1])], text: [pts.map((p) => p[2])]}, [1]);
  }

  function stepBestLine(number, v) {  // the best-so-far line as its improvement points
    const xs = bestChart.x, ys = bestChart.y;
    const last = ys.length ? ys[ys.length - 1] : null;
    if (last === null || better(v, last, objective.direction)) {
      if (xs.length && xs.length > 1 && ys[ys.length - 1] === ys[ys.length - 2]) { xs.pop(); ys.pop(); }
      xs.push(number); ys.push(v);
    } else if (number > xs[xs.length - 1]) {
      if (xs.length > 1 && ys[ys.length - 1] === ys[ys.length - 2]) xs[xs.length - 1] = number;
      else { xs.push(number); ys.push(last); }
    }
  }

  function addToFront(candidate) {  // true when the candidate joins the Pareto front
    const beats = (p, q) => {  // p dominates q: as good on both, better on one
      const bx = p[0] === q[0] || better(p[0], q[0], second.direction);
      const by = p[1] === q[1] || better(p[1], q[1], objective.direction);
      return bx && by && (p[0] !== q[0] || p[1] !== q[1]);
    };
    if (paretoChart.points.some((p) => beats(p, candidate))) return false;
    paretoChart.points = paretoChart.points.filter((p) => !beats(candidate, p)).concat([candidate])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return true;
  }

  // --- one-shot searches: the supernet card is small and refetched when an epoch lands -----------------
  let oneShotTimer = null;
  function refreshOneShot() {
    clearTimeout(oneShotTimer);
    oneShotTimer = setTimeout(function () {
      getJSON(base + "data.json?per_page=1").then((state) => drawOneShot(state.oneshot)).catch(() => {});
    }, 300);
  }

  function drawOneShot(oneshot) {
    if (!oneshot || !window.Plotly) return;
    Object.entries(oneshot.charts).forEach(function ([name, fig]) {  // a task each, like every chart here
      setTimeout(function () {
        if (document.getElementById(name + "-chart")) Plotly.react(name + "-chart", fig.data, fig.layout, plotConfig);
      }, 0);
    });
    document.getElementById("derived-arch").textContent = oneshot.derived ? oneshot.derived.description : "not yet";
    document.getElementById("oneshot-progress").textContent =
      oneshot.finished ? "(finished after " + oneshot.epochs + " epochs)" : "(epoch " + oneshot.epochs + ")";
    const retrain = document.getElementById("retrain");
    retrain.disabled = !oneshot.finished || oneshot.retrained_as != null;
    if (oneshot.retrained_as != null) retrain.textContent = "Retrained as trial " + oneshot.retrained_as;
    const ranking = document.getElementById("ranking");
    if (oneshot.ranking) {
      ranking.hidden = false;
      ranking.textContent = "Kendall's tau between supernet-inherited and stand-alone accuracy over " +
        oneshot.ranking.archs.length + " architectures: " + oneshot.ranking.tau.toFixed(3) +
        " (p = " + oneshot.ranking.p_value.toFixed(3) + ")";
    }
  }

  // --- controls ---------------------------------------------------------------------------------------------
  document.querySelectorAll("#leaderboard th[data-sort]").forEach(function (th) {
    th.addEventListener("click", function () {
      const sort = th.dataset.sort;
      const dir = board.sort === sort ? (board.dir === "desc" ? "asc" : "desc") : (sort === "number" ? "asc" : "desc");
      fetchBoard({sort: sort, dir: dir, page: 1});
    });
  });
  document.getElementById("board-state").addEventListener("change", (e) => fetchBoard({state: e.target.value, page: 1}));
  document.getElementById("board-per-page").addEventListener("change", (e) => fetchBoard({per_page: Number(e.target.value), page: 1}));
  document.getElementById("board-prev").addEventListener("click", () => fetchBoard({page: board.page - 1}));
  document.getElementById("board-next").addEventListener("click", () => fetchBoard({page: board.page + 1}));

  loadSummary(initial);
  window.nasSearchPage = {seq: () => seq, log: () => log, counts: () => counts};  // for tests and benchmarks
  window.nasLiveSocket(initial.socket, catchUp, onFrame);
  requestAnimationFrame(() => setTimeout(loadCharts, 0));  // after the first paint
})();
