// The dashboard's only script besides htmx: no inline code anywhere, so a strict Content Security Policy holds.
(function () {
  "use strict";

  // Times are rendered in the browser's time zone: tell the server which one it is.
  var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (tz && document.cookie.indexOf("tz=" + tz) === -1) {
    document.cookie = "tz=" + tz + "; path=/; SameSite=Lax; max-age=31536000";
  }

  // Polling elements (data-poll="visible") poll only while the tab is visible, and at once when it is again.
  // Done here rather than with an htmx trigger filter, which htmx evaluates as code.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail.elt;
    if (elt && elt.dataset && elt.dataset.poll === "visible" && document.visibilityState !== "visible") {
      evt.preventDefault();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible" || !window.htmx) return;
    document.querySelectorAll('[data-poll="visible"]').forEach(function (elt) {
      window.htmx.trigger(elt, "poll-now");
    });
  });

  // Copy buttons: <button data-copy="text">.
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest("[data-copy]");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {  // plain http on a LAN: the older way
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      done();
    }
  });

  // On a phone, a table.cards shows each row as a card (app.css), each value under its column's name: the names
  // come from the header row, read here once rather than repeated in every template cell. A cell that names
  // itself (data-label) keeps its own; rows swapped in by htmx are labelled as they settle.
  function labelCells() {
    document.querySelectorAll("table.cards").forEach(function (table) {
      var names = [];
      table.querySelectorAll("thead tr:first-child > th").forEach(function (th) {
        for (var i = 0; i < (th.colSpan || 1); i++) names.push(th.textContent.replace(/[▲▼↕]/g, "").trim());
      });
      table.querySelectorAll("tbody tr, tfoot tr").forEach(function (tr) {
        var column = 0;
        Array.prototype.forEach.call(tr.children, function (cell) {
          if (!cell.hasAttribute("data-label") && (cell.colSpan || 1) === 1) {
            cell.setAttribute("data-label", names[column] || "");
          }
          column += cell.colSpan || 1;
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", labelCells);
  document.addEventListener("htmx:afterSettle", labelCells);

  // "Select all on this page" and the Gmail-style "all N matching this filter".
  document.addEventListener("change", function (evt) {
    var all = evt.target.closest("[data-select-all]");
    if (!all) return;
    document.querySelectorAll('input[name="' + all.getAttribute("data-select-all") + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
    var banner = document.getElementById("select-matching");
    if (banner) banner.hidden = !all.checked;
  });

  // Keyboard: ? help, / search, j and k move through rows, Enter opens one, g then b, e or s goes places.
  var pendingG = false;
  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-row]"));
  }
  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(document.activeElement);
    var next = all[Math.max(0, Math.min(all.length - 1, at < 0 ? 0 : at + step))];
    next.focus();
  }
  document.addEventListener("keydown", function (evt) {
    if (evt.ctrlKey || evt.metaKey || evt.altKey || typing(evt.target)) return;
    var key = evt.key;
    if (pendingG) {
      pendingG = false;
      var to = { b: "/", e: "/errors/", s: document.body.dataset.spendUrl || "" }[key];
      if (to) { evt.preventDefault(); window.location.assign(to); }
      return;
    }
    if (key === "g") { pendingG = true; setTimeout(function () { pendingG = false; }, 1500); return; }
    if (key === "?") {
      var help = document.getElementById("shortcuts");
      if (help && help.showModal) { evt.preventDefault(); help.showModal(); }
    } else if (key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { evt.preventDefault(); search.focus(); }
    } else if (key === "j" || key === "k") {
      evt.preventDefault();
      move(key === "j" ? 1 : -1);
    } else if (key === "Enter" && document.activeElement && document.activeElement.hasAttribute("data-row")) {
      var link = document.activeElement.querySelector("a[href]");
      if (link) { evt.preventDefault(); link.click(); }
    }
  });
})();

// The "Shortcuts" button opens the same help as "?".
document.addEventListener("click", function (evt) {
  if (!evt.target.closest("[data-shortcuts]")) return;
  var help = document.getElementById("shortcuts");
  if (help && help.showModal) help.showModal();
});
