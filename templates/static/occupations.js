// Occupation filter for /occupations/: progressive enhancement of a plain table.
// Without this script every row shows. With it, the form appears; typing a NOC code or words of
// a title and ticking categories hides the other rows, and the state lives in the URL query
// (?q=nurse&cat=healthcare&current=1) so a filtered view can be shared or bookmarked.
(function () {
  "use strict";
  var form = document.getElementById("occ-filter");
  var table = document.getElementById("occ-table");
  if (!form || !table || !window.URLSearchParams || !history.replaceState) return;
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var input = form.elements.q;
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=cat]"));
  var current = form.elements.current;
  var count = document.getElementById("occ-count");
  var empty = document.getElementById("occ-empty");

  // Same folding as occupation_pages.fold in Python: no accents, lower case, words of a-z0-9.
  function words(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .split(/[^a-z0-9]+/).filter(Boolean);
  }

  // A row matches when every query word starts one of its words (the code is a word too),
  // and, if categories are ticked, it is on one of their lists (a current one, if asked).
  function matches(row, terms, cats) {
    var own = row.getAttribute("data-search").split(" ");
    for (var i = 0; i < terms.length; i++) {
      if (!own.some(function (w) { return w.indexOf(terms[i]) === 0; })) return false;
    }
    var mine = row.getAttribute(current.checked ? "data-current" : "data-cats").split(" ");
    if (current.checked && !mine[0]) return false;
    return !cats.length || cats.some(function (c) { return mine.indexOf(c) >= 0; });
  }

  function apply() {
    var terms = words(input.value);
    var cats = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    var shown = 0;
    rows.forEach(function (row) {
      var ok = matches(row, terms, cats);
      row.hidden = !ok;
      if (ok) shown++;
    });
    count.textContent = shown === rows.length ? "Showing all " + rows.length + " occupations"
      : "Showing " + shown + " of " + rows.length + " occupations";
    empty.hidden = shown > 0;
    var params = new URLSearchParams();
    if (input.value.trim()) params.set("q", input.value.trim());
    cats.forEach(function (c) { params.append("cat", c); });
    if (current.checked) params.set("current", "1");
    var query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
  }

  var params = new URLSearchParams(location.search);
  input.value = params.get("q") || "";
  var wanted = params.getAll("cat");
  boxes.forEach(function (b) { b.checked = wanted.indexOf(b.value) >= 0; });
  current.checked = params.get("current") === "1";
  form.hidden = false;
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
  apply();
})();
