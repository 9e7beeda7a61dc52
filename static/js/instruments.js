// Scored instruments (templates/screening/_instrument.html): the total and
// its severity band, worked out as the items are answered. The server works
// the total out again on saving and is the authority; this only shows it.
(function () {
  "use strict";

  function setUp(box) {
    var items = JSON.parse(box.getAttribute("data-items"));
    var bands = JSON.parse(box.getAttribute("data-bands"));
    var name = box.getAttribute("data-short-name");
    var line = box.querySelector("[data-instrument-total]");
    var typedTotal = box.querySelector('input[name="' + box.getAttribute("data-total") + '"]');

    function band(total) {
      return bands.filter(function (b) { return b.min <= total && total <= b.max; })[0];
    }

    function show() {
      var total = 0;
      var answered = 0;
      items.forEach(function (code) {
        var checked = box.querySelector('input[name="' + code + '"]:checked');
        if (checked && !checked.disabled) {
          total += Number(checked.value);
          answered += 1;
        }
      });
      var text = "";
      if (answered === items.length) {
        var found = band(total);
        text = name + " total " + total + (found ? " — " + found.label : "") + ", from the items.";
        if (typedTotal && typedTotal.value.trim() !== "") {
          text += " Clear the total typed below: it is worked out from the items.";
        }
      } else if (answered) {
        text = answered + " of " + items.length + " items answered; the " + name +
          " total is worked out when every item is.";
      }
      if (line.textContent !== text) {
        line.textContent = text;
      }
    }

    box.addEventListener("change", show);
    box.addEventListener("input", show);
    show();
  }

  // The page's, and those of a section the server sends again (htmx).
  function setUpAll() {
    document.querySelectorAll("fieldset[data-instrument]").forEach(function (box) {
      if (!box.hasAttribute("data-ready")) {
        box.setAttribute("data-ready", "");
        setUp(box);
      }
    });
  }

  setUpAll();
  document.addEventListener("htmx:load", setUpAll);
})();
