// The leaderboard's column chooser: a labelled checkbox per column; the hidden ones are remembered in
// localStorage (per browser, for every search) and hidden by one style rule per column, so rows that
// search_live.js adds or changes later follow without being touched (it gives each cell data-col).
(function () {
  const KEY = "nasweb.leaderboard.hidden-columns";
  const style = document.head.appendChild(document.createElement("style"));
  const boxes = document.getElementById("board-column-boxes");
  let hidden;
  try { hidden = new Set(JSON.parse(localStorage.getItem(KEY) || "[]")); } catch (e) { hidden = new Set(); }

  function apply() {
    style.textContent = Array.from(hidden, (col) => '#leaderboard [data-col="' + col + '"] { display: none; }').join("\n");
    try { localStorage.setItem(KEY, JSON.stringify(Array.from(hidden))); } catch (e) { /* private mode: not kept */ }
  }

  document.querySelectorAll("#leaderboard thead th[data-col]").forEach(function (th) {
    const col = th.dataset.col;
    const box = document.createElement("input");
    box.type = "checkbox"; box.id = "column-" + col; box.checked = !hidden.has(col);
    box.addEventListener("change", function () {
      if (box.checked) hidden.delete(col); else hidden.add(col);
      apply();
    });
    const label = document.createElement("label");
    label.htmlFor = box.id;
    label.textContent = col === "number" ? "# (trial number)" : th.textContent.trim();
    const item = document.createElement("span");
    item.className = "column-choice";
    item.append(box, " ", label);
    boxes.append(item);
  });
  apply();
})();
