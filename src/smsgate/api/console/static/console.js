// smsgate console: live updates over Server-Sent Events, and a few conveniences.
// Without this script every page still works (reload to see changes).
(function () {
  "use strict";
  var body = document.body;
  var state = document.getElementById("live-state");
  var live = document.querySelector("[data-live]");

  // Forms that ask before they act (delete).
  document.addEventListener("submit", function (ev) {
    var question = ev.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) ev.preventDefault();
  });
  // The account switcher navigates on change.
  var sw = document.querySelector("[data-switch] select");
  if (sw) sw.addEventListener("change", function () {
    window.location.href = "/console/" + encodeURIComponent(sw.value) + "/messages";
  });

  if (!body.dataset.events || !window.EventSource) return;

  // Re-read the live region's fragment: at most one request in flight, and changes that
  // arrive meanwhile are folded into one more read afterwards.
  var busy = false, again = false;
  function refresh() {
    if (!live) return;
    if (busy) { again = true; return; }
    busy = true;
    fetch(live.dataset.fragment, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        // Leave the region alone when nothing in it changed: replacing it anyway would
        // drop a click that lands while it is swapped, and the reader's text selection.
        var next = document.createElement("template");
        next.innerHTML = html;
        if (next.innerHTML === live.innerHTML) return;
        var active = document.activeElement && live.contains(document.activeElement);
        live.innerHTML = html;
        if (active) live.focus && live.focus();
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; setTimeout(refresh, 100); }
      });
  }
  var timer = null;
  function soon() { if (!timer) timer = setTimeout(function () { timer = null; refresh(); }, 150); }

  function concerns(change) {
    if (!live) return false;
    var kind = live.dataset.live;
    if (kind === "log") return true;
    if (kind === "message") return change.sid === live.dataset.sid;
    if (kind === "thread") {
      return !!change.thread && change.thread[0] === live.dataset.ours &&
        change.thread[1] === live.dataset.theirs;
    }
    return false;
  }

  function say(text) { if (state) state.textContent = text; }
  var source = new EventSource(body.dataset.events);
  source.addEventListener("open", function () { say("● live"); });
  source.addEventListener("error", function () { say("reconnecting…"); });
  source.addEventListener("message", function (ev) {
    var change;
    try { change = JSON.parse(ev.data); } catch (e) { return; }
    body.dispatchEvent(new CustomEvent("smsgate:change", { detail: change }));
    if (concerns(change)) soon();
  });
})();
