// An open page never passes a stale screen off as fresh (issue 21):
// - relative times (<time data-relative>, dashboard/times.py) age in the browser, so "synced 4 s ago" becomes
//   "3 min ago" when nothing new arrives;
// - when the page's polls fail (the server gone, a 5xx, the network, no answer in POLL_TIMEOUT_MS), a banner
//   says "Connection lost — showing data from HH:MM" and the tab title says so; it clears when a poll
//   succeeds again. Polls are the health bar and anything with data-poll (the list's running rows, a
//   batch's summary); a user's own click that fails is not a lost connection.
// No inline script and no eval: the Content Security Policy forbids them.
(function () {
  "use strict";
  var POLL_TIMEOUT_MS = 15000;
  var AGE_EVERY_MS = 10000;
  var LOST_TITLE = "(connection lost) ";
  var lastGood = new Date(); // the page itself was fresh when it loaded
  var lost = false;

  // The wording of dashboard/times.py relative().
  function relative(then, now) {
    var seconds = Math.trunc((now - then) / 1000);
    var ahead = seconds < 0;
    seconds = Math.abs(seconds);
    if (seconds < 5) return "just now";
    var amount;
    if (seconds < 60) amount = seconds + " s";
    else if (seconds < 3600) amount = Math.floor(seconds / 60) + " min";
    else if (seconds < 86400) amount = Math.floor(seconds / 3600) + " h";
    else amount = Math.floor(seconds / 86400) + " d";
    return ahead ? "in " + amount : amount + " ago";
  }

  function age() {
    var now = Date.now();
    document.querySelectorAll("time[data-relative]").forEach(function (el) {
      var then = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(then)) el.textContent = relative(then, now);
    });
  }

  function hhmm(date) {
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  function banner() {
    return document.getElementById("connection");
  }

  function setLost(value) {
    var el = banner();
    lost = value;
    document.documentElement.classList.toggle("connection-lost", value);
    var title = document.title.replace(LOST_TITLE, "");
    document.title = value ? LOST_TITLE + title : title;
    if (!el) return;
    el.hidden = !value;
    el.textContent = value ? "Connection lost — showing data from " + hhmm(lastGood) + ". Retrying…" : "";
  }

  function isPoll(elt) {
    return !!(elt && (elt.id === "sync-health" || (elt.dataset && elt.dataset.poll)));
  }

  document.addEventListener("htmx:configRequest", function (evt) {
    // Without a timeout a server that hangs would leave the page waiting, and saying nothing, for ever.
    if (isPoll(evt.detail.elt)) evt.detail.timeout = POLL_TIMEOUT_MS;
  });

  function answered(failed) {
    if (failed) {
      if (!lost) setLost(true);
    } else {
      lastGood = new Date();
      if (lost) setLost(false);
    }
  }

  // An answer: judged before the swap, while the polling element is still in the page (after an outerHTML
  // swap, events on the old element no longer reach the document). 5xx: the server could not answer.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (isPoll(evt.detail.elt)) answered(evt.detail.xhr.status >= 500);
  });
  // No answer at all: refused, dropped, or none within POLL_TIMEOUT_MS.
  ["htmx:sendError", "htmx:timeout"].forEach(function (name) {
    document.addEventListener(name, function (evt) {
      if (isPoll(evt.detail.elt)) answered(true);
    });
  });

  // Exposed for health.js, which polls sooner while the connection is lost.
  window.dashboardConnection = { isLost: function () { return lost; } };

  // At the swap itself, not only at its settle: a fragment served from the shared render was rendered up to a
  // minute before, and its "N s ago" read younger than it was until the settle (a browser walk caught it).
  document.addEventListener("htmx:afterSwap", age);
  document.addEventListener("htmx:oobAfterSwap", age);
  document.addEventListener("htmx:afterSettle", age);
  document.addEventListener("DOMContentLoaded", function () {
    age();
    setInterval(age, AGE_EVERY_MS);
  });
})();
