// The live pages' websocket: shows the connection in #live-status / #live-dot and
// reconnects with backoff. onOpen runs on every (re)connect, so a page can refetch
// its full state and miss nothing while the socket was down. A close with 1013 ("try
// again later": Redis or the database is away, searches/consumers.py) is retried the same way.
window.nasLiveSocket = function (path, onOpen, onMessage) {
  let retry = 500;

  function status(text, ok) {
    document.getElementById("live-status").textContent = text;
    document.getElementById("live-dot").className = "dot " + (ok ? "on" : "off");
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + path);
    ws.onopen = function () {
      retry = 500;
      status("live", true);
      onOpen();
    };
    ws.onmessage = (e) => onMessage(JSON.parse(e.data));
    ws.onclose = function (e) {
      status(e.code === 1013 ? "server busy, reconnecting…" : "reconnecting…", false);
      // jitter: after an outage the open pages do not all come back in the same instant
      setTimeout(connect, retry * (0.75 + Math.random() / 2));
      retry = Math.min(retry * 2, 10000);
    };
  }

  connect();
};
