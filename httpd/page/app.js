// The cookiestore page: one WebSocket to the tracking service, and a view of
// what the server says about this browser. The tracking cookie is HttpOnly, so
// nothing here ever sees it; the server identifies us by it on the upgrade.
"use strict";

(function () {
  var POLL_MS = 3000; // whoami interval: keeps the connection count current

  var $ = function (id) { return document.getElementById(id); };
  var ws = null;
  var poll = null;

  // The server names its WebSocket service in data-ws; ?ws=/path picks
  // another one, of this origin only.
  function wsURL() {
    var u = new URL(document.body.dataset.ws || "ws", location.href);
    var q = new URLSearchParams(location.search).get("ws");
    if (q) {
      var o = new URL(q, location.href);
      if (o.host === location.host) { u = o; }
    }
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    u.search = "";
    u.hash = "";
    return u.href;
  }

  function setState(state, text) {
    var el = $("state");
    el.dataset.state = state;
    el.textContent = text;
    $("reconnect").hidden = state !== "closed";
    $("login").disabled = state !== "connected";
    $("logout").disabled = state !== "connected";
  }

  function showError(text) { $("error").textContent = text || ""; }

  function showAuth(a) {
    var el = $("auth");
    if (!a || !a.authid) {
      el.textContent = "nobody";
      el.dataset.authid = "";
      el.dataset.provider = "";
      return;
    }
    if (a.authmethod === "anonymous") {
      // Not a login: the server names anonymous visitors by their visitor ID.
      el.textContent = "nobody (anonymous, role " + (a.authrole || "none") + ")";
      el.dataset.authid = "";
      el.dataset.provider = a.authprovider || "";
      return;
    }
    var parts = [a.authid];
    if (a.authrole) { parts.push("role " + a.authrole); }
    if (a.authmethod) { parts.push("method " + a.authmethod); }
    if (a.authrealm) { parts.push("realm " + a.authrealm); }
    if (a.authprovider) { parts.push("provider " + a.authprovider); }
    el.textContent = parts.join(" · ");
    el.dataset.authid = a.authid;
    el.dataset.provider = a.authprovider || "";
  }

  function showHello(m) {
    $("visitor").textContent = m.visitor || "–";
    var isNew = m["new"] === true;
    $("new").dataset["new"] = String(isNew);
    $("new").textContent = isNew ? "new" : "returning";
    var created = $("created");
    created.dateTime = m.created || "";
    var d = m.created ? new Date(m.created) : null;
    created.textContent = d && !isNaN(d) ? d.toLocaleString() + " (" + m.created + ")" : "–";
    $("connections").textContent = String(m.connections);
    showAuth(m.auth);
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(msg)); }
  }

  function onMessage(ev) {
    var m;
    try { m = JSON.parse(ev.data); } catch (e) { showError("bad message from server"); return; }
    switch (m.type) {
      case "hello": showHello(m); break;
      case "welcome":
        showError("");
        showAuth(m.auth);
        $("ticket").value = "";
        send({ type: "whoami" });
        break;
      case "goodbye": showAuth(null); break;
      case "error": showError(m.error); break;
    }
  }

  function connect() {
    setState("connecting", "connecting");
    showError("");
    ws = new WebSocket(wsURL());
    ws.onopen = function () {
      setState("connected", "connected");
      poll = setInterval(function () { send({ type: "whoami" }); }, POLL_MS);
    };
    ws.onmessage = onMessage;
    ws.onclose = function (ev) {
      clearInterval(poll);
      ws = null;
      setState("closed", ("closed: " + ev.code + " " + (ev.reason || "")).trim());
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("login-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      showError("");
      send({ type: "login", authid: $("authid").value, ticket: $("ticket").value });
    });
    $("logout").addEventListener("click", function () { send({ type: "logout" }); });
    $("reconnect").addEventListener("click", connect);
    connect();
  });
})();
