// Show only the fieldset of the chosen search space.
(function () {
  const select = document.getElementById("id_space_kind");
  if (!select) return;
  function sync() {
    document.querySelectorAll("fieldset.space-spec").forEach(function (fs) {
      fs.hidden = fs.dataset.kind !== select.value;
    });
  }
  select.addEventListener("change", sync);
  sync();
})();
