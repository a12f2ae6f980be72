// The search page's status card: progress bar, ETA in words, why trials wait. The figures and words
// come from the server (searches/search_status.py): in the summary, with each catch-up (events.json),
// and as "status" messages on the socket (at most once a second after a change, every 5 s while the
// search is active). This file only paints them; search_live.js hands it each status.
let lastStatusAsOf = 0;
window.nasSearchStatus = function (status) {
  // The socket's status messages and the catch-up's answer race: never paint an older one over a newer.
  if (!status || status.as_of < lastStatusAsOf) return;
  lastStatusAsOf = status.as_of;
  const progress = status.progress, waiting = status.waiting;
  const box = document.getElementById("progress-box");
  box.hidden = !progress;
  if (progress) {
    const bar = document.getElementById("search-progress");
    if (progress.fraction === null) bar.removeAttribute("value");
    else bar.value = progress.fraction;
    bar.textContent = progress.fraction === null ? "" : Math.round(100 * progress.fraction) + "%";
    document.getElementById("progress-text").textContent = progress.text;
    document.getElementById("eta-text").textContent = progress.eta_text;
  }
  document.getElementById("why-waiting").hidden = !waiting.count;
  document.getElementById("waiting-list").replaceChildren(...waiting.trials.map(function (t) {
    const li = document.createElement("li");
    const link = document.createElement("a");
    link.href = "/trials/" + t.id + "/";
    link.textContent = "trial " + t.number;
    li.append(link, ": " + t.reason);
    return li;
  }));
  const more = document.getElementById("waiting-more");
  more.hidden = !waiting.more;
  more.textContent = "and " + waiting.more + " more queued";
};
