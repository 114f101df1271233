// The sync-health bar (templates/_health.html) on every page: polled while the tab is visible, every
// data-poll-seconds (short while a workspace fails, long otherwise), and right after any other poll of the
// page that did not bring the bar with it, so a failure shows within one poll interval of either. The list's
// running rows and a batch's summary bring it (out of band, dashboard/polling.py): a tab showing them asks one
// request a poll, not two. It keeps the tab title's "(N failing)" and shows a browser notification for each
// watched batch that has ended.
// No inline script and no eval: this file is all there is (a Content Security Policy can forbid the rest).
(function () {
  "use strict";
  var TITLE_COUNT = /^\(\d+ failing\) /;
  var NOTIFIED = "dashboard.notified-batches";
  var timer = null;
  var lastPoll = 0;
  var lastRefresh = 0;
  var current = null;

  function bar() {
    return document.getElementById("sync-health");
  }

  function schedule() {
    var el = bar();
    clearTimeout(timer);
    if (!el) return;
    var seconds = parseFloat(el.getAttribute("data-poll-seconds")) || 30;
    // While the connection is lost (live.js), ask again soon, so the banner clears soon after it is back.
    if (window.dashboardConnection && window.dashboardConnection.isLost()) seconds = Math.min(seconds, 5);
    timer = setTimeout(poll, seconds * 1000);
  }

  function poll() {
    var el = bar();
    if (!el || !window.htmx) return;
    if (document.visibilityState !== "visible") {
      schedule(); // a hidden tab asks nothing; it polls at once when shown again (below)
      return;
    }
    lastPoll = Date.now();
    window.htmx.trigger(el, "health-poll");
  }

  function updateTitle(el) {
    var failing = parseInt(el.getAttribute("data-failing") || "0", 10);
    var title = document.title.replace(TITLE_COUNT, "");
    document.title = failing > 0 ? "(" + failing + " failing) " + title : title;
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function notified() {
    try {
      return JSON.parse(window.localStorage.getItem(NOTIFIED) || "[]");
    } catch (e) {
      return [];
    }
  }

  // Each watched batch that ended: one notification (its tag keeps several tabs from showing it twice), then
  // the watch is over, so later polls do not ask for it again.
  function notifyWatched(el) {
    var items = el.querySelectorAll("[data-watch-ended]");
    if (!items.length || !("Notification" in window) || Notification.permission !== "granted") return;
    var seen = notified();
    items.forEach(function (item) {
      var id = item.getAttribute("data-watch-ended");
      if (seen.indexOf(id) !== -1) return;
      var note = new Notification(item.getAttribute("data-title"), {
        body: item.getAttribute("data-body"),
        tag: "batch-" + id,
      });
      note.onclick = function () {
        window.focus();
        window.location.href = item.getAttribute("data-url");
      };
      seen.push(id);
      fetch(item.getAttribute("data-unwatch-url"), {
        method: "POST",
        headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
        body: new URLSearchParams({ watch: "off" }),
        credentials: "same-origin",
      });
    });
    window.localStorage.setItem(NOTIFIED, JSON.stringify(seen.slice(-200)));
  }

  function refreshed() {
    var el = bar();
    if (!el || el === current) return false;
    current = el;
    lastRefresh = Date.now();
    updateTitle(el);
    notifyWatched(el);
    schedule();
    return true;
  }

  document.addEventListener("htmx:afterSettle", function () {
    // The bar itself was swapped in (its own poll, or out of band with another); or another part of the page
    // was polled without it, and the bar follows. One answer settles each element it swapped, the bar among
    // them, in no set order: the bar fresh from this same answer needs no poll.
    if (!refreshed() && Date.now() - Math.max(lastPoll, lastRefresh) > 2000) poll();
  });
  // A poll that got no answer, or an error, swaps nothing: schedule the next one all the same, or the bar
  // would stop asking after the first failure and go on showing its last answer.
  document.addEventListener("htmx:afterRequest", function (evt) {
    if (evt.detail.elt === bar() && !evt.detail.successful) schedule();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") poll();
  });
  // "Watch" asks for permission to notify; the click is the user gesture browsers require.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-watch-button='off']");
    if (button && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission();
    }
  });
  document.addEventListener("DOMContentLoaded", refreshed);
})();
