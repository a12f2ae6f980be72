// Plotly's first plot on a page pays its one-time set-up (V8 compiling the functions a draw runs, style
// and font measurement) on top of the chart's own work: on the search page at 50,000 trials that first
// draw was the page's longest main-thread task (170-350 ms, whichever chart came first, against 60-130 ms
// for the same chart drawn second). This script runs after the page's chart scripts (deferred, in order),
// so their fetches of charts.json and progress-charts.json are already on their way: the set-up is paid
// here, on a small chart off screen, while the server answers them: in two tasks (an empty plot, then
// its points), each about as long as one of the page's own draws.
(function () {
  if (!window.Plotly || !document.querySelector(".chart")) return;
  requestAnimationFrame(() => setTimeout(function () {
    const div = document.createElement("div");
    div.className = "nas-plotly-warmup";
    div.setAttribute("aria-hidden", "true");
    div.style.cssText = "position:absolute;left:-10000px;top:0;width:400px;height:300px";
    document.body.appendChild(div);
    // The kinds of draw the page makes: markers and a line with hover text, titled axes, a legend.
    const layout = {width: 400, height: 300, showlegend: true, xaxis: {title: {text: "x"}}, yaxis: {title: {text: "y"}}};
    Plotly.newPlot(div, [], layout, {displaylogo: false, responsive: false});
    setTimeout(function () {
      Plotly.react(div, [{x: [1, 2, 3], y: [1, 3, 2], text: ["a", "b", "c"], type: "scatter", mode: "markers"},
                         {x: [1, 2, 3], y: [1, 3, 3], type: "scatter", mode: "lines", line: {shape: "hv"}}], layout)
        // Removed once its draw settled, in a later task: the legend's margin redraw runs after the
        // promise, and on a purged plot it throws.
        .then(() => new Promise((resolve) => setTimeout(resolve, 0)))
        .then(function () {
          Plotly.purge(div);
          div.remove();
          window.nasPlotlyWarmedUp = true;  // for tests
        });
    }, 0);
  }, 0));
})();
