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

  // A refused form's summary takes the focus, so it is read first.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) summary.focus();
  });

  // A picker that searches as you type (data-choices="/url"): the
  // suggestions fill the input's datalist; choosing one sets the hidden
  // input named by data-choice-value to its id. Without this script the
  // server finds the one client by the name typed, or offers the matches.
  function startPicker(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var hidden = document.getElementById(input.getAttribute("data-choice-value"));
    if (!list || !hidden || !window.fetch) return;
    var timer = null;
    var chosen = {};
    function sync() {
      var id = chosen[input.value];
      if (id) hidden.value = id;
      else if (input.value !== input.defaultValue) hidden.value = "";
    }
    input.addEventListener("input", function () {
      sync();
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2) return;
      timer = setTimeout(function () {
        fetch(input.getAttribute("data-choices") + "?q=" + encodeURIComponent(q), {
          credentials: "same-origin", headers: { Accept: "application/json" },
        }).then(function (res) { return res.ok ? res.json() : []; }).then(function (items) {
          list.textContent = "";
          items.forEach(function (item) {
            chosen[item.name] = item.id;
            var option = document.createElement("option");
            option.value = item.name;
            list.appendChild(option);
          });
          sync();
        }).catch(function () { /* typed names still work */ });
      }, 150);
    });
    input.addEventListener("change", sync);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-choices]").forEach(startPicker);
  });

  // The line editor (data-line-editor): "Agregar línea" and "Quitar" work
  // in place; without this script they post the form, which comes back
  // with the row added or removed and nothing saved.
  function renumber(table) {
    Array.prototype.forEach.call(table.querySelectorAll("tr[data-line]"), function (row, i) {
      row.querySelectorAll("input").forEach(function (input) {
        var base = input.name.replace(/_\d+$/, "");
        input.name = base + "_" + i;
        input.id = base + "_" + i;
        var label = input.getAttribute("aria-label") || "";
        input.setAttribute("aria-label", label.replace(/\d+$/, String(i + 1)));
      });
      var remove = row.querySelector("[data-remove-line]");
      if (remove) {
        remove.value = String(i);
        var words = remove.getAttribute("aria-label") || "";
        remove.setAttribute("aria-label", words.replace(/\d+$/, String(i + 1)));
      }
    });
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-remove-line], [data-add-line]");
    if (!button) return;
    var form = button.form;
    var table = form && form.querySelector("[data-line-editor]");
    if (!table) return;
    e.preventDefault();
    var rows = table.querySelectorAll("tr[data-line]");
    if (button.hasAttribute("data-remove-line")) {
      var row = button.closest("tr");
      var next = row.nextElementSibling;
      while (next && next.classList.contains("line-error")) {
        var gone = next;
        next = next.nextElementSibling;
        gone.remove();
      }
      if (rows.length > 1) row.remove();
      else row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      renumber(table);
      var first = table.querySelector("tr[data-line] input");
      if (first) first.focus();
    } else {
      if (rows.length >= Number(table.getAttribute("data-max") || 100)) return;
      var copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) {
        input.value = "";
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      });
      table.querySelector("tbody").appendChild(copy);
      renumber(table);
      copy.querySelector("input").focus();
    }
  });
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
