// The cookiestore page: one WebSocket to the tracking service, and a view of
// what the server says about this browser. The tracking cookie is HttpOnly, so
// nothing here ever sees it; the server identifies us by it on the upgrade.
//
// A login answers with a one-time rotation token. The page trades it at once
// for a new cookie (POST to the service), then tells its other tabs, which
// reconnect and are logged in by the new cookie. A tab that the server closes
// for a logout (4001), a revoke (4002) or an expiry (4003) forgets what it
// showed and reconnects as a new or returning visitor; after the server went
// away (1001, or a lost connection) it reconnects with backoff.
"use strict";

(function () {
  var POLL_MS = 3000; // whoami interval: keeps the connection count current
  var BACKOFF_MIN_MS = 250;
  var BACKOFF_MAX_MS = 10000;
  var KICKED_DELAY_MS = 400; // lets the tab that logged out take the new cookie first

  var $ = function (id) { return document.getElementById(id); };
  var ws = null;
  var poll = null;
  var retry = null;
  var backoff = BACKOFF_MIN_MS;
  var loggingOut = false;
  var restarting = false; // this page closes its own socket to reconnect
  var tabs = typeof BroadcastChannel === "function" ? new BroadcastChannel("cookiestore") : null;

  // The server names its WebSocket service in data-ws; ?ws=/path picks
  // another one, of this origin only.
  function serviceURL() {
    var u = new URL(document.body.dataset.ws || "ws", location.href);
    var q = new URLSearchParams(location.search).get("ws");
    if (q) {
      var o = new URL(q, location.href);
      if (o.host === location.host) { u = o; }
    }
    u.search = "";
    u.hash = "";
    return u;
  }

  function wsURL() {
    var u = serviceURL();
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
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

  // showMethods shows the login forms of the methods the service offers, or,
  // with none, how to enable one.
  function showMethods(methods) {
    var ticket = Array.isArray(methods) && methods.indexOf("ticket") >= 0;
    $("ticket-login").hidden = !ticket;
    $("no-login").hidden = ticket || !Array.isArray(methods);
  }

  // clearView forgets everything the server said, as after a logout.
  function clearView() {
    $("visitor").textContent = "–";
    $("new").dataset["new"] = "";
    $("new").textContent = "–";
    $("created").dateTime = "";
    $("created").textContent = "–";
    $("connections").textContent = "–";
    showAuth(null);
    showMethods(null);
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
    showMethods(m.methods);
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(msg)); }
  }

  // rotate trades the welcome's token for a new cookie that carries the
  // login. Until it succeeds, only this tab is logged in.
  function rotate(token) {
    var req = new XMLHttpRequest();
    req.open("POST", serviceURL().href);
    req.setRequestHeader("Content-Type", "application/json");
    req.onload = function () {
      if (req.status !== 204) {
        showError("Logged in on this tab only: the server did not renew the cookie (HTTP " + req.status + ").");
        return;
      }
      if (tabs) { tabs.postMessage({ type: "rotated" }); }
      send({ type: "whoami" });
    };
    req.onerror = function () {
      showError("Logged in on this tab only: the cookie could not be renewed.");
    };
    req.send(JSON.stringify({ rotate: token }));
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
        if (m.rotate) { rotate(m.rotate); } else { send({ type: "whoami" }); }
        break;
      case "goodbye": loggingOut = true; clearView(); break;
      case "error": showError(m.error); break;
    }
  }

  function schedule(delay) {
    clearTimeout(retry);
    retry = setTimeout(connect, delay);
  }

  function connect() {
    clearTimeout(retry);
    if (ws) { return; }
    setState("connecting", "connecting");
    ws = new WebSocket(wsURL());
    var opened = false;
    ws.onopen = function () {
      opened = true;
      backoff = BACKOFF_MIN_MS;
      showError("");
      setState("connected", "connected");
      poll = setInterval(function () { send({ type: "whoami" }); }, POLL_MS);
    };
    ws.onmessage = onMessage;
    ws.onclose = function (ev) {
      clearInterval(poll);
      ws = null;
      // lastClose is how the last connection that opened ended; an attempt
      // that never opened (the server is still down) does not hide it.
      $("state").dataset[opened ? "lastClose" : "lastFailure"] = String(ev.code);
      var text = ("closed: " + ev.code + " " + (ev.reason || "")).trim();
      if (restarting) {
        restarting = false;
        connect();
        return;
      }
      if (loggingOut || ev.code === 4001 || ev.code === 4002 || ev.code === 4003) {
        // The cookie is gone: forget it, and come back as a new visitor.
        var own = loggingOut;
        loggingOut = false;
        clearView();
        setState("connecting", text + ", reconnecting");
        schedule(own ? 0 : KICKED_DELAY_MS);
        return;
      }
      if (ev.code === 1001 || ev.code === 1006) {
        // The server went away or the network dropped: try again, slower
        // each time.
        setState("connecting", text + ", reconnecting");
        schedule(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        return;
      }
      setState("closed", text);
    };
  }

  // reconnect closes this tab's connection and opens a new one, which
  // presents the browser's current cookie.
  function reconnect() {
    if (!ws) { connect(); return; }
    restarting = true;
    ws.close(1000, "reconnect");
  }

  if (tabs) {
    tabs.onmessage = function (ev) {
      if (ev.data && ev.data.type === "rotated") { reconnect(); }
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
