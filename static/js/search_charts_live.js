// The search page's charts beside the leaderboard (templates/searches/_live_charts.html): best so far against
// time, learning curves, parallel coordinates and importance. search_live.js applies the socket's events and
// announces each as a "nas:search-event"; here a recorded epoch extends its running trial's curve at once,
// and a trial that starts or finishes refetches the small progress-charts.json (at most every
// PROGRESS_EVERY_MS) and, when one completes, analysis.json (at most every ANALYSIS_EVERY_MS: the server
// refits its forest only when a trial has completed). Nothing else on the page is refetched. Each chart is
// drawn in a task of its own, and the parallel coordinates only once their card is in view.
(function () {
  if (!document.getElementById("live-charts") || !window.Plotly) return;
  const base = location.pathname;
  const PROGRESS_EVERY_MS = 2000, ANALYSIS_EVERY_MS = 5000;
  const config = {displaylogo: false, responsive: true};
  let curveMetric = null, curveIndex = new Map();  // trial id -> index of its trace in the curves chart
  const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  // Runs fn (which returns a promise) at most once per `ms` and never twice at once; a call while it runs
  // or waits is not lost: one more run follows, so the last event is always drawn.
  function throttled(fn, ms) {
    let last = 0, timer = null, busy = false, again = false;
    function run() {
      timer = null; busy = true; last = Date.now();
      Promise.resolve(fn()).finally(function () {
        busy = false;
        if (again) { again = false; schedule(); }
      });
    }
    function schedule() {
      if (busy) { again = true; return; }
      if (!timer) timer = setTimeout(run, Math.max(0, last + ms - Date.now()));
    }
    return schedule;
  }

  function pointCount(fig) {
    return (fig.data || []).reduce((n, t) => n + (t.x || []).length, 0);
  }

  // Draws the figure, or shows the empty state's words (kept in the page) while it has no points.
  function draw(name, fig) {
    const chart = document.getElementById(name + "-chart"), empty = document.getElementById(name + "-empty");
    const has = !!fig && pointCount(fig) > 0;
    if (empty) empty.hidden = has;
    chart.hidden = !has;
    if (has) Plotly.react(chart, fig.data, fig.layout, config);
    return has;
  }

  // search_live.js draws these two (into hidden divs until a trial completes); the same completed trials
  // make the best-by-time line, so they show when it does.
  // Each in a task of its own, like every chart draw here: the page answers input between them.
  function showTrialCharts(has) {
    return ["best", "pareto"].reduce(function (done, name) {
      return done.then(function () {
        const chart = document.getElementById(name + "-chart");
        const wasHidden = chart.hidden;
        chart.hidden = !has;
        document.getElementById(name + "-empty").hidden = has;
        if (!(has && wasHidden && chart.data)) return;
        return nextTask().then(() => Plotly.Plots.resize(chart));  // drawn while hidden: fit it to its card
      });
    }, Promise.resolve());
  }

  function loadProgress() {
    return getJSON(base + "progress-charts.json").then(function (figs) {
      const has = draw("best-time", figs.best_time);
      return nextTask().then(function () {
        // Only a drawn chart's lines can be extended: while no trial has an epoch the chart is not drawn
        // (its traces have no points), and an epoch then comes with the refetch it asks for.
        const drawn = draw("curves", figs.curves);
        curveMetric = figs.curves.meta.metric;
        curveIndex = drawn ? new Map(figs.curves.data.map((t, i) => [t.meta.trial_id, i])) : new Map();
        return showTrialCharts(has);
      });
    }).catch(() => {});
  }

  // Parallel coordinates are WebGL: setting up a context and its shaders takes a second or more without a
  // GPU (headless Chromium with --disable-gpu: bench/scale.py), whatever the number of lines, in one task
  // that freezes the page. So the chart is drawn when the user asks for it (its button), never on its own
  // while the page loads or scrolls; once drawn it follows the analysis as trials complete.
  const showButton = document.getElementById("parcoords-show");
  let parcoords = null, parcoordsDrawn = null, parcoordsWanted = false;
  function drawParcoords() {
    if (!parcoordsWanted || !parcoords || parcoords === parcoordsDrawn) return;
    parcoordsDrawn = parcoords;
    const chart = document.getElementById("live-parcoords-chart");
    chart.hidden = false;
    Plotly.react(chart, parcoords.data, parcoords.layout, config);
  }
  showButton.addEventListener("click", function () {
    parcoordsWanted = true;
    showButton.hidden = true;
    setTimeout(drawParcoords, 0);
  });

  function listItems(id, sentences) {
    document.getElementById(id).replaceChildren(...sentences.map(function (s) {
      const li = document.createElement("li"); li.textContent = s; return li;
    }));
  }

  function loadAnalysis() {
    return getJSON(base + "analysis.json").then(function (a) {
      document.getElementById("live-analysis-empty").textContent = a.empty;
      document.getElementById("live-analysis-empty").hidden = a.ready;
      document.getElementById("analysis-count").textContent = a.ready ? "(" + a.count + " completed trials; drag along an axis to filter)" : "";
      document.getElementById("live-importance").hidden = !a.ready;
      showButton.hidden = !a.ready || parcoordsWanted;
      if (!a.ready) return;
      Plotly.react("live-importance-chart", a.importance.data, a.importance.layout, config);
      parcoords = a.parcoords;
      setTimeout(drawParcoords, 0);
      document.getElementById("importance-headline").textContent =
        a.headline || "No decision changed the forest's predictions: every choice did about as well.";
      listItems("importance-sentences", a.sentences.concat(a.op_sentences));
    }).catch(() => {});
  }

  const refreshProgress = throttled(loadProgress, PROGRESS_EVERY_MS);
  const refreshAnalysis = throttled(loadAnalysis, ANALYSIS_EVERY_MS);

  // A recorded epoch of a trial already drawn extends its line now; a trial not drawn yet comes with the refetch.
  function onEpoch(e) {
    const value = (e.metrics || {})[curveMetric];
    const index = curveIndex.get(e.trial_id);
    if (index === undefined || typeof value !== "number") { refreshProgress(); return; }
    Plotly.extendTraces("curves-chart", {x: [[e.epoch]], y: [[value]]}, [index]);
  }

  document.addEventListener("nas:search-event", function (event) {
    const e = event.detail;
    if (e.type === "reload") { refreshProgress(); refreshAnalysis(); }  // the stream restarted: start afresh
    else if (e.type === "metric") onEpoch(e);
    else if (e.type === "trial" && e.trial.state !== "queued") {
      refreshProgress();
      if (e.trial.state === "complete") refreshAnalysis();
    }
  });
  window.nasSearchCharts = {reload: () => Promise.all([loadProgress(), loadAnalysis()])};  // for tests
  requestAnimationFrame(() => setTimeout(function () { refreshProgress(); refreshAnalysis(); }, 0));
})();
