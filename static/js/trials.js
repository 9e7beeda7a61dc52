// Tables of antidepressant trials (templates/screening/_trials.html): rows
// are added and removed here, numbered as Django's formset expects
// (PREFIX-N-field, with PREFIX-TOTAL_FORMS rows). Without a script the page
// offers blank rows instead; the server judges every trial either way.
(function () {
  "use strict";

  var FIELD_ATTRIBUTES = ["name", "id", "for", "aria-describedby"];

  function setUp(box) {
    var prefix = box.getAttribute("data-trials");
    var body = box.querySelector("[data-trial-rows]");
    var template = box.querySelector("[data-trial-template]");
    var total = box.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
    var most = Number(box.querySelector('input[name="' + prefix + '-MAX_NUM_FORMS"]').value) || 50;
    var addButton = box.querySelector("[data-add-trial]");
    var noTrials = box.querySelector("[data-no-trials]");
    var numbered = new RegExp(prefix + "-(\\d+|__prefix__)-");

    function rows() {
      return Array.prototype.slice.call(body.querySelectorAll("[data-trial-row]"));
    }

    function blank(row) {
      return Array.prototype.every.call(row.querySelectorAll("input, select"), function (field) {
        return field.value === "";
      });
    }

    function renumber() {
      rows().forEach(function (row, index) {
        row.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (element) {
          FIELD_ATTRIBUTES.forEach(function (attribute) {
            var value = element.getAttribute(attribute);
            if (value) {
              element.setAttribute(attribute, value.replace(numbered, prefix + "-" + index + "-"));
            }
          });
        });
        row.querySelectorAll("[data-trial-number]").forEach(function (number) {
          number.textContent = String(index + 1);
        });
        row.querySelector("[data-remove-trial]").hidden = false;
      });
      var count = rows().length;
      total.value = String(count);
      addButton.hidden = count >= most;
      noTrials.hidden = count > 0;
    }

    function newRow() {
      body.appendChild(template.content.cloneNode(true));
    }

    // The questionnaire saves and re-reads the page's answers on a change.
    function changed() {
      box.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function add() {
      newRow();
      renumber();
      var added = rows()[rows().length - 1];
      added.querySelector("select, input").focus();
      changed();
    }

    function remove(row) {
      var index = rows().indexOf(row);
      row.remove();
      renumber();
      var next = rows()[index] || rows()[index - 1];
      (next ? next.querySelector("[data-remove-trial]") : addButton).focus();
      changed();
    }

    // The blank rows offered without a script give way to "Add a trial";
    // a row with anything typed, or refused, stays.
    rows().forEach(function (row) {
      if (blank(row) && !row.querySelector(".is-invalid")) {
        row.remove();
      }
    });
    renumber();
    box.querySelector("[data-no-script]").hidden = true;
    addButton.addEventListener("click", add);
    body.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-trial]");
      if (button) {
        remove(button.closest("[data-trial-row]"));
      }
    });
    // Answers put back after signing in again need as many rows as were typed.
    document.addEventListener("ketascreen:restore", function (event) {
      var wanted = (event.detail.values[prefix + "-TOTAL_FORMS"] || [])[0];
      if (wanted === undefined || !box.isConnected) {
        return;
      }
      wanted = Math.min(Math.max(Number(wanted) || 0, 0), most);
      while (rows().length < wanted) {
        newRow();
      }
      while (rows().length > wanted) {
        rows()[rows().length - 1].remove();
      }
      renumber();
    });
  }

  // The page's, and those of a section the server sends again (htmx).
  function setUpAll() {
    document.querySelectorAll("[data-trials]").forEach(function (box) {
      if (!box.hasAttribute("data-ready")) {
        box.setAttribute("data-ready", "");
        setUp(box);
      }
    });
  }

  setUpAll();
  document.addEventListener("htmx:load", setUpAll);
})();
