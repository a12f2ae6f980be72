// New target form: show only the settings of the chosen kind (the server ignores the others).
(function () {
  const kind = document.getElementById("id_kind");
  function show() {
    document.querySelectorAll(".kind-fields").forEach(function (group) {
      group.hidden = group.dataset.kind !== kind.value;
    });
  }
  kind.addEventListener("change", show);
  show();
})();
