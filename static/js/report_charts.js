// Draws a Plotly figure from a json_script element, or says what will appear when it has no points yet.
function drawChart(elementId, dataId, emptyText) {
  const el = document.getElementById(elementId);
  const fig = JSON.parse(document.getElementById(dataId).textContent);
  const points = (fig.data || []).reduce((n, t) => n + ((t.x || []).length), 0);
  if (!points) {
    el.classList.add("chart-empty");
    el.textContent = emptyText;
    return;
  }
  Plotly.newPlot(elementId, fig.data, fig.layout, {displaylogo: false, responsive: true});
}
