// The little JavaScript there is: remember the browser's time zone for guests, the phone menu,
// tell the server an invitation was opened, and confirm dangerous actions. Everything works
// without it.
(function () {
  document.documentElement.classList.remove("no-js");
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var kept = function () { return document.cookie.indexOf("tz=" + encodeURIComponent(tz)) !== -1; };
    if (tz && !kept()) {
      document.cookie = "tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax";
    }
    // A guest's first page is written in the server's default zone (it cannot know the browser's
    // yet): once the cookie is set, show the page again in the guest's own zone. Only for pages
    // fetched with GET, only when the cookie was kept, and once per tab (no loop if the server
    // does not know the zone).
    var root = document.documentElement;
    if (tz && root.hasAttribute("data-zone-follow") && root.getAttribute("data-zone") !== tz && kept() &&
        window.sessionStorage && !window.sessionStorage.getItem("tz-followed")) {
      window.sessionStorage.setItem("tz-followed", tz);
      window.location.reload();
    }
  } catch (e) { /* old browser or storage refused: the server default applies */ }

  var toggle = document.querySelector(".nav-toggle");
  var nav = document.getElementById("site-nav");
  if (toggle && nav) {
    var setOpen = function (open) {
      toggle.setAttribute("aria-expanded", String(open));
      nav.classList.toggle("open", open);
    };
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      setOpen(open);
      if (open) {
        var first = nav.querySelector("a, button");
        if (first) { first.focus(); }
      }
    });
    // Escape closes the phone menu and gives the focus back to its button.
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        toggle.focus();
      }
    });
  }

  // A long list of organisations gets a filter box: typing hides the options that do not match
  // (the list still works with the keyboard alone, and without the script).
  Array.prototype.forEach.call(document.querySelectorAll("select[data-filterable], ul[data-filterable]"), function (select, n) {
    var box = document.createElement("input");
    box.type = "search";
    box.id = (select.id || "list") + "-filter-" + n;
    box.className = "list-filter";
    box.setAttribute("autocomplete", "off");
    var label = document.createElement("label");
    label.htmlFor = box.id;
    label.className = "visually-hidden";
    label.textContent = select.getAttribute("data-filterable");
    box.setAttribute("placeholder", select.getAttribute("data-filterable"));
    select.parentNode.insertBefore(label, select);
    select.parentNode.insertBefore(box, select);
    var norm = function (s) { return s.toLocaleLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, ""); };
    box.addEventListener("input", function () {
      var q = norm(box.value.trim());
      if (select.tagName === "UL") {  // a list of checkboxes: ticked ones always stay in sight
        Array.prototype.forEach.call(select.querySelectorAll("li"), function (li) {
          var input = li.querySelector("input");
          li.hidden = !(!q || (input && input.checked) || norm(li.textContent).indexOf(q) !== -1);
        });
        return;
      }
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        var shown = 0;
        Array.prototype.forEach.call(group.querySelectorAll("option"), function (opt) {
          var match = !q || norm(opt.textContent).indexOf(q) !== -1;
          opt.hidden = !match;
          if (match) { shown += 1; }
        });
        group.hidden = shown === 0;
      });
    });
  });

  // An invitation's page tells the server it was opened with a POST, once the page is shown to a
  // person (visible): following the link (a GET, as mail scanners do) changes nothing.
  var beacon = document.querySelector("[data-opened-beacon]");
  if (beacon && window.fetch && window.FormData) {
    var sent = false;
    var send = function () {
      if (sent || document.visibilityState === "hidden") { return; }
      sent = true;
      var body = new FormData();
      body.append("csrf_token", beacon.getAttribute("data-csrf") || "");
      window.fetch(beacon.getAttribute("data-opened-beacon"), {
        method: "POST", body: body, credentials: "same-origin", keepalive: true
      }).catch(function () { /* offline: the form's own POST records it later */ });
    };
    send();
    document.addEventListener("visibilitychange", send);
  }

  // A form that came back with errors: its summary takes the focus, so that a screen reader reads
  // it and the keyboard starts from its links to the fields.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }

  // An event's own questions (templates/questions/_answer_fields.html): a question with
  // data-show-if is shown only while the earlier answer has its value (the server checks the same).
  var dependent = document.querySelectorAll("[data-show-if]");
  if (dependent.length) {
    var refresh = function () {
      dependent.forEach(function (el) {
        var form = el.closest("form");
        var picked = Array.prototype.map.call(
          form.querySelectorAll('[name="' + el.getAttribute("data-show-if") + '"]:checked'),
          function (i) { return i.value; });
        var source = document.getElementById(el.getAttribute("data-show-if") + "-group");
        el.hidden = (source && source.hidden) || picked.indexOf(el.getAttribute("data-show-value")) === -1;
      });
    };
    document.addEventListener("change", refresh);
    refresh();
  }

  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });
})();
