// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Reveal fields that depend on a select's value (data-show-when="field=value").
  function syncDependents(root) {
    root.querySelectorAll("[data-show-when]").forEach(function (el) {
      var parts = el.getAttribute("data-show-when").split("=");
      var control = document.querySelector('[name="' + parts[0] + '"]');
      if (!control) return;
      var show = control.value === parts[1];
      el.hidden = !show;
      el.querySelectorAll("input, textarea, select").forEach(function (input) {
        if (input.hasAttribute("data-required-when-shown")) input.required = show;
      });
    });
  }
  document.addEventListener("change", function () { syncDependents(document); });

  // Destructive actions ask first: a form with data-confirm="question"
  // posts only once the question is answered yes, and then says so
  // (confirm=yes). Without this script the server asks on a page of its own.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question || form.querySelector('input[name="confirm"]')) return;
    if (!window.confirm(question)) { e.preventDefault(); return; }
    var yes = document.createElement("input");
    yes.type = "hidden";
    yes.name = "confirm";
    yes.value = "yes";
    form.appendChild(yes);
  });
  document.addEventListener("DOMContentLoaded", function () { syncDependents(document); });
  document.addEventListener("htmx:afterSwap", function (e) { syncDependents(e.target); });

  // Live pages. An element with data-live-topics="orders" (shown while
  // connected, so it can say "live") subscribes to
  // /api/events; on an event (optionally only those whose data matches
  // data-live-match="number=ORD-000123") the page is fetched again
  // (data-live-url, or this address) and every [data-live-region="name"]
  // is replaced by its fresh copy. A region where the user is editing a
  // field is left alone. Without EventSource, fetch or this script, the
  // page simply stays as loaded.
  function startLive() {
    var root = document.querySelector("[data-live-topics]");
    if (!root || !window.EventSource || !window.fetch || !window.DOMParser) return;
    var url = root.getAttribute("data-live-url") || location.href;
    var match = (root.getAttribute("data-live-match") || "").split("=");
    var source = new EventSource("/api/events?topics=" + encodeURIComponent(root.getAttribute("data-live-topics")));
    var timer = null;
    function busy(region) {
      var active = document.activeElement;
      if (active && region.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) return true;
      return Array.prototype.some.call(region.querySelectorAll("input, select, textarea"), function (el) {
        if (el.type === "hidden") return false;
        if (el.tagName === "SELECT") {
          var initial = Array.prototype.findIndex.call(el.options, function (o) { return o.defaultSelected; });
          return el.selectedIndex !== Math.max(initial, 0);
        }
        if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
        return el.value !== el.defaultValue;
      });
    }
    function refresh() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(function (res) {
        if (res.status === 404) { location.assign(url); return null; }
        return res.ok ? res.text() : null;
      }).then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live-region]").forEach(function (region) {
          var name = region.getAttribute("data-live-region");
          var next = fresh.querySelector('[data-live-region="' + name + '"]');
          if (next && !busy(region)) {
            region.replaceWith(document.importNode(next, true));
          }
        });
        syncDependents(document);
        root.setAttribute("data-live-updated", new Date().toISOString());
      }).catch(function () { /* offline: the next event tries again */ });
    }
    function later() {
      clearTimeout(timer);
      timer = setTimeout(refresh, 150);
    }
    // The root is the "live" indicator: shown while connected.
    source.onopen = function () {
      // After a dropped connection, what was missed may not be replayable.
      if (root.getAttribute("data-live-state") === "retrying") later();
      root.setAttribute("data-live-state", "open");
      root.hidden = false;
    };
    source.onerror = function () {
      root.setAttribute("data-live-state", source.readyState === EventSource.CLOSED ? "closed" : "retrying");
      root.hidden = true;
    };
    source.onmessage = function (e) {
      if (match.length === 2) {
        try {
          var event = JSON.parse(e.data);
          if (!event.data || String(event.data[match[0]]) !== match[1]) return;
        } catch (err) { return; }
      }
      later();
    };
    source.addEventListener("resync", later);
    window.addEventListener("pagehide", function () { source.close(); });
  }
  document.addEventListener("DOMContentLoaded", startLive);
})();
