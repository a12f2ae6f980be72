// Show the upload fields only when "Upload a file…" is the chosen dataset.
(function () {
  const select = document.getElementById("id_dataset");
  const box = document.getElementById("upload-fields");
  if (!select || !box) return;
  function sync() { box.hidden = select.value !== "upload"; }
  select.addEventListener("change", sync);
  sync();
})();
