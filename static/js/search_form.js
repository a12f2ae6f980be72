// Show only the fieldset of the chosen search space, and under it the exact size of the space its fields
// describe (asked of the server, which counts with the space's own size()); and only the settings fields of
// the chosen strategy and pruner.
(function () {
  function showChosen(selectId, fieldsetClass) {
    const chooser = document.getElementById(selectId);
    if (!chooser) return;
    function sync() {
      document.querySelectorAll("fieldset." + fieldsetClass).forEach(function (fs) {
        fs.hidden = fs.dataset.owner !== chooser.value;
      });
    }
    chooser.addEventListener("change", sync);
    sync();
  }
  showChosen("id_strategy", "strategy-settings");
  showChosen("id_pruner", "pruner-settings");
})();

(function () {
  const select = document.getElementById("id_space_kind");
  if (!select) return;
  const form = document.getElementById("search-form");
  const sizeLine = document.getElementById("space-size");
  let asked = 0;

  function sync() {
    document.querySelectorAll("fieldset.space-spec").forEach(function (fs) {
      fs.hidden = fs.dataset.kind !== select.value;
    });
  }

  function withCommas(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function showSize() {
    if (!sizeLine) return;
    const query = new URLSearchParams();
    query.set("space_kind", select.value);
    const prefix = "spec__" + select.value + "__";
    new FormData(form).forEach(function (value, name) {
      if (name.startsWith(prefix)) query.append(name, value);
    });
    const mine = ++asked;
    fetch(sizeLine.dataset.url + "?" + query.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (mine !== asked) return;  // a later change has been asked about since
        sizeLine.classList.toggle("error", Boolean(answer.error));
        sizeLine.textContent = answer.error ? "The space: " + answer.error
          : "This space holds exactly " + withCommas(answer.size) + " architectures (10^" + answer.log10 + ").";
      })
      .catch(function () { if (mine === asked) sizeLine.textContent = ""; });
  }

  let timer = null;
  function later() { clearTimeout(timer); timer = setTimeout(showSize, 200); }
  select.addEventListener("change", function () { sync(); showSize(); });
  document.querySelectorAll("fieldset.space-spec").forEach(function (fs) {
    fs.addEventListener("input", later);
    fs.addEventListener("change", later);
  });
  sync();
  showSize();
})();
