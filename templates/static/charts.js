// Optional enhancement of the trend charts: the reader types a CRS score and a dashed line
// marks it on every cut-off chart, with a sentence saying how many rounds it would have met.
// The charts, keys and data tables work without this file.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var forms = document.querySelectorAll("form.my-crs");
  var charts = document.querySelectorAll("svg.chart[data-crs]");
  if (!forms.length || !charts.length) return;

  function draw(score) {
    charts.forEach(function (svg) {
      var old = svg.querySelector(".my-crs-mark");
      if (old) old.remove();
      var note = svg.parentNode.querySelector(".my-crs-note");
      if (isNaN(score)) { if (note) note.hidden = true; return; }
      var d = svg.dataset;
      var v0 = +d.v0, v1 = +d.v1, y0 = +d.y0, y1 = +d.y1;
      var clamped = Math.min(Math.max(score, v0), v1);
      var y = y0 + (clamped - v0) * (y1 - y0) / (v1 - v0);
      var g = document.createElementNS(NS, "g");
      g.setAttribute("class", "my-crs-mark");
      g.setAttribute("aria-hidden", "true");
      var line = document.createElementNS(NS, "line");
      line.setAttribute("class", "my-crs-line");
      line.setAttribute("x1", d.x0); line.setAttribute("x2", d.x1);
      line.setAttribute("y1", y); line.setAttribute("y2", y);
      var text = document.createElementNS(NS, "text");
      text.setAttribute("class", "my-crs-label");
      text.setAttribute("x", d.x1); text.setAttribute("y", y - 6);
      text.setAttribute("text-anchor", "end");
      text.textContent = "You: " + score + (score !== clamped ? " (off the scale)" : "");
      g.appendChild(line); g.appendChild(text);
      svg.appendChild(g);
      if (note) {
        var marks = svg.querySelectorAll("[data-v]"), met = 0;
        marks.forEach(function (m) { if (+m.dataset.v <= score) met++; });
        note.textContent = "A score of " + score + " reached the cut-off of " + met + " of the " +
          marks.length + " rounds in this chart, for a candidate eligible for each (at exactly " +
          "the cut-off, the tie-breaking time also counted).";
        note.hidden = false;
      }
    });
  }

  forms.forEach(function (form) {
    form.hidden = false;
    var input = form.querySelector("input");
    input.addEventListener("input", function () {
      var n = parseInt(input.value, 10);
      forms.forEach(function (f) { var i = f.querySelector("input"); if (i !== input) i.value = input.value; });
      draw(n >= 0 && n <= 1200 ? n : NaN);
    });
  });
})();
