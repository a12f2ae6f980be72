// Device comparison page. Figures are built on the server (devices/charts.py); the page refetches
// data.json with the current choice whenever the choice changes, a "trial" websocket event arrives
// (debounced: costs are stored right after a trial completes) or the socket (re)connects.
(function () {
  let state = JSON.parse(document.getElementById("devices-state-data").textContent);
  const dataUrl = location.pathname + "data.json";
  let chosen = null; // null: the server's default, the best five; else the ticked trial ids
  let highlight = state.highlight;
  const drawn = new Set();
  let refreshTimer = null;
  const config = {displaylogo: false, responsive: true};

  function query() {
    const params = new URLSearchParams();
    if (chosen !== null) params.set("trials", chosen.join(","));
    if (highlight !== null && highlight !== undefined) params.set("highlight", highlight);
    return params.toString();
  }

  function refresh() {
    return fetch(dataUrl + "?" + query(), {credentials: "same-origin"})
      .then((r) => r.json()).then(load).catch(() => {});
  }

  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 300);
  }

  function plot(id, fig, onClick) {
    if (!window.Plotly) return;
    const el = document.getElementById(id);
    (drawn.has(id) ? Plotly.react : Plotly.newPlot)(el, fig.data, fig.layout, config);
    if (!drawn.has(id) && onClick) el.on("plotly_click", onClick);
    drawn.add(id);
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function input(type, name, value, checked, onChange) {
    const box = document.createElement("input");
    box.type = type; box.name = name; box.value = value; box.checked = checked;
    box.addEventListener("change", onChange);
    return box;
  }

  function objectiveText(v) {
    return state.objective.metric.indexOf("accuracy") >= 0 ? (100 * v).toFixed(2) + "%" : v.toLocaleString();
  }

  function onChoose() {
    chosen = Array.from(document.querySelectorAll("input[name=chosen]:checked")).map((b) => Number(b.value));
    refresh();
  }

  function onHighlight(event) {
    highlight = Number(event.target.value);
    refresh();
  }

  function drawTable() {
    const head = el("tr");
    head.append(el("th", "Compare"), el("th", "#"), el("th", "Architecture"), el("th", state.objective.metric));
    state.targets.forEach((t) => head.append(el("th", t.name)));
    head.append(el("th", "Highlight"));
    document.querySelector("#trial-table thead").replaceChildren(head);
    const rows = state.trials.map(function (t) {
      const tr = el("tr");
      tr.id = "trial-" + t.id;
      if (t.id === state.highlight) tr.className = "highlighted";
      const pick = el("td"); pick.append(input("checkbox", "chosen", t.id, t.chosen, onChoose));
      const link = el("a", t.number); link.href = "/trials/" + t.id + "/";
      const num = el("td"); num.append(link);
      const arch = el("td", t.description, "arch");
      arch.title = t.description;
      tr.append(pick, num, arch, el("td", objectiveText(t.value)));
      t.costs.forEach(function (c) {
        const td = el("td", c.text, "cost cell-" + c.state);
        if (c.note) td.title = c.note;
        tr.append(td);
      });
      const ring = el("td"); ring.append(input("radio", "highlight", t.id, t.id === state.highlight, onHighlight));
      tr.append(ring);
      return tr;
    });
    document.querySelector("#trial-table tbody").replaceChildren(...rows);
    document.getElementById("no-trials").hidden = rows.length > 0;
  }

  function onPointClick(event) {
    const id = event.points.length ? event.points[0].customdata : null;
    if (id === null || id === undefined) return;
    highlight = id;
    refresh();
  }

  function frontBox(target) {
    let box = document.getElementById("front-box-" + target.id);
    if (!box) {
      box = el("div", undefined, "front");
      box.id = "front-box-" + target.id;
      box.append(el("h3", target.name + " · " + target.cost_label));
      const chart = el("div", undefined, "small-chart");
      chart.id = "front-" + target.id;
      box.append(chart);
      box.append(el("p", "", "muted note"));
    }
    return box;
  }

  function drawFronts() {
    const boxes = state.targets.map(frontBox);
    document.getElementById("fronts").replaceChildren(...boxes);
    state.targets.forEach(function (target) {
      const fig = state.charts.fronts[String(target.id)];
      const box = document.getElementById("front-box-" + target.id);
      box.querySelector(".note").textContent = target.applies ? "" : target.note;
      box.querySelector(".small-chart").hidden = !fig;
      if (fig) plot("front-" + target.id, fig, onPointClick);
    });
  }

  function setSearch(s) {
    const badge = document.getElementById("search-state");
    badge.textContent = s.state;
    badge.className = "state state-" + s.state;
  }

  function load(s) {
    state = s;
    highlight = s.highlight;
    drawTable();
    plot("bars-chart", s.charts.bars);
    drawFronts();
    setSearch(s.search);
  }

  function onMessage(frame) {  // frames of numbered deltas (searches/consumers.py)
    (frame.events || []).forEach(function (msg) {
      if (msg.type === "trial") refreshSoon();
      else if (msg.type === "search") setSearch(msg.search);
    });
  }

  load(state);
  window.nasLiveSocket(state.socket, refresh, onMessage);
})();
