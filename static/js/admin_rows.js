// Rows of small records in the knowledge-base admin (templates/conditions/
// widgets/rows.html and case_trials.html): "Add a row" appends a blank row,
// named as the server reads it (NAME-N-PART, with NAME-rows rows). Without
// the script the page offers blank rows instead; the server checks every row.
(function () {
  "use strict";

  function setUp(box) {
    var list = box.querySelector("[data-ks-row-list]");
    var template = box.querySelector("[data-ks-row-template]");
    var count = box.querySelector("[data-ks-row-count]");
    var button = box.querySelector("[data-ks-add-row]");
    if (!list || !template || !count || !button) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var index = list.querySelectorAll("[data-ks-row]").length;
      var row = template.content.firstElementChild.cloneNode(true);
      row.querySelectorAll("[name]").forEach(function (field) {
        field.name = field.name.replace("__row__", String(index));
      });
      row.querySelectorAll("[aria-label]").forEach(function (field) {
        field.setAttribute("aria-label", field.getAttribute("aria-label").replace("__number__", String(index + 1)));
      });
      var number = row.querySelector(".ks-row-number");
      if (number) {
        number.textContent = String(index + 1);
      }
      list.appendChild(row);
      count.value = String(index + 1);
      var first = row.querySelector("input, select");
      if (first) {
        first.focus();
      }
    });
  }

  // The admin loads its media in the page's head, before the rows exist.
  function setUpAll() {
    document.querySelectorAll("[data-ks-rows]").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpAll);
  } else {
    setUpAll();
  }
})();
