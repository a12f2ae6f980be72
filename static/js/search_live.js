// Live search page: a leaderboard and charts fed by the websocket.
// Rows are keyed by trial id; a "trial" event replaces a row's data and a
// "metric" event updates its epoch column at once. The charts are built on the
// server (searches/charts.py): after trial events the page refetches data.json
// (debounced), and on every (re)connect too, so nothing is missed while the
// socket was down.
(function () {
  const initial = JSON.parse(document.getElementById("search-state-data").textContent);
  const objective = initial.objective;
  const dataUrl = location.pathname + "data.json";
  const trials = new Map();
  const tbody = document.querySelector("#leaderboard tbody");
  const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(2) + "%");
  const drawn = new Set();
  let refreshTimer = null;

  function metricValue(t) {
    const m = t.metrics || {};
    return m[objective.metric] === undefined ? null : m[objective.metric];
  }

  function better(a, b) { return objective.direction === "max" ? a > b : a < b; }

  function drawOneShot(oneshot) {
    if (!oneshot) return;
    drawCharts(oneshot.charts);
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

  function drawCharts(charts) {
    if (!window.Plotly) return;
    Object.entries(charts).forEach(function ([name, fig]) {
      const el = name + "-chart";
      if (!document.getElementById(el)) return;
      (drawn.has(el) ? Plotly.react : Plotly.newPlot)(el, fig.data, fig.layout, {displaylogo: false, responsive: true});
      drawn.add(el);
    });
    if (!charts.best) return;
    const best = charts.best.data[1].y;
    const shown = objective.metric.indexOf("accuracy") >= 0 ? pct : (v) => v.toLocaleString();
    document.getElementById("best-value").textContent = best.length ? shown(best[best.length - 1]) : "–";
  }

  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 300);
  }

  function refresh() {
    return fetch(dataUrl, {credentials: "same-origin"}).then((r) => r.json()).then(loadState).catch(() => {});
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function renderRow(t) {
    const tr = document.createElement("tr");
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
    tr.append(num, cell(t.description), state, cell(t.epochs_done || 0, "epoch"),
      cell(pct(t.val_accuracy), "val"), cell(pct(m.test_accuracy)),
      cell(t.params ? t.params.toLocaleString() : "–"),
      cell(t.seconds ? t.seconds.toFixed(1) : "–"), cell(t.worker || "–"));
    return tr;
  }

  // Complete trials by the objective, best first; then running/queued; then the rest.
  function rank(t) {
    if (t.state === "complete" && metricValue(t) !== null) return 0;
    if (t.state === "running" || t.state === "queued") return 1;
    return 2;
  }

  function drawTable() {
    const list = Array.from(trials.values()).sort(function (a, b) {
      if (rank(a) !== rank(b)) return rank(a) - rank(b);
      if (rank(a) === 0 && metricValue(a) !== metricValue(b)) return better(metricValue(a), metricValue(b)) ? -1 : 1;
      return a.number - b.number;
    });
    tbody.replaceChildren(...list.map(renderRow));
    document.getElementById("no-trials").hidden = list.length > 0;
    document.getElementById("trial-count").textContent = list.length;
    document.getElementById("trial-noun").textContent = list.length === 1 ? "trial" : "trials";
  }


  function setSearch(s) {
    const el = document.getElementById("search-state");
    el.textContent = s.state;
    el.className = "state state-" + s.state;
    const err = document.getElementById("search-error");
    err.textContent = s.error || "";
    err.hidden = !s.error;
  }

  function loadState(state) {
    trials.clear();
    state.trials.forEach((t) => trials.set(t.id, t));
    setSearch(state.search);
    drawTable();
    drawCharts(state.charts);
    drawOneShot(state.oneshot);
  }

  function onMessage(msg) {
    if (msg.type === "trial") {
      trials.set(msg.trial.id, msg.trial);
      drawTable();
      refreshSoon();
    } else if (msg.type === "metric") {
      const t = trials.get(msg.trial_id);
      if (t) {
        t.epochs_done = msg.epoch;
        const row = document.getElementById("trial-" + t.id);
        if (row) row.querySelector(".epoch").textContent = msg.epoch;
      }
    } else if (msg.type === "oneshot") {
      refreshSoon();
    } else if (msg.type === "search") {
      setSearch(msg.search);
    }
  }

  loadState(initial);
  window.nasLiveSocket(initial.socket, refresh, onMessage);
})();
