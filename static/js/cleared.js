// Answers that a change made no longer apply. Each refresh
// (views.screening_questions) names the answers on the page to questions
// the engine no longer enables: saving drops them. When a change has just
// cleared answers, "Undo" puts back what that change altered (the
// controlling answer), and so the cleared questions apply again, with the
// answers they had: those stay on the page, hidden, until the page is left.
(function () {
  "use strict";

  var form = document.getElementById("questionnaire");
  var region = document.getElementById("cleared-answers");
  var body = form && form.querySelector("[hx-post]");
  if (!form || !region || !body) {
    return;
  }

  // The form's answers by input name, without its token and revision.
  function snapshot() {
    var values = {};
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken" && name !== "revision") {
        (values[name] = values[name] || []).push(value);
      }
    });
    return values;
  }

  function listed() {
    return Array.prototype.map.call(region.querySelectorAll("[data-cleared]"), function (item) {
      return item.getAttribute("data-cleared");
    });
  }

  function belongsTo(name, codes) {
    return codes.some(function (code) {
      return name === code || name.indexOf(code + "-") === 0;
    });
  }

  var evaluated = snapshot();  // the answers of the last refresh answered
  var shown = listed();        // the answers named then
  var sent = null;             // the refresh under way: { xhr, values }
  var undo = null;             // what the change that cleared answers altered: { before, names }
  var undoing = false;

  function offerUndo() {
    var button = region.querySelector("[data-undo-change]");
    if (button) {
      button.hidden = !undo;
    }
  }

  // The same list again is not announced again.
  document.body.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (event.detail.target !== region) {
      return;
    }
    var incoming = event.detail.fragment.querySelector("[data-cleared-notice]");
    var current = region.querySelector("[data-cleared-notice]");
    if (incoming && current && incoming.getAttribute("data-key") === current.getAttribute("data-key")) {
      event.detail.shouldSwap = false;
    }
  });

  body.addEventListener("htmx:beforeRequest", function (event) {
    sent = { xhr: event.detail.xhr, values: snapshot() };
  });

  body.addEventListener("htmx:afterRequest", function (event) {
    if (!sent || event.detail.xhr !== sent.xhr || !event.detail.successful) {
      return;
    }
    var codes = listed();
    var fresh = codes.filter(function (code) { return shown.indexOf(code) === -1; });
    if (!codes.length) {
      undo = null;
    } else if (fresh.length) {
      // This change cleared answers: what it altered, other than them, is what Undo puts back.
      var before = evaluated;
      var after = sent.values;
      var names = Object.keys(before).concat(Object.keys(after)).filter(function (name, index, all) {
        return all.indexOf(name) === index && !belongsTo(name, codes) &&
          JSON.stringify(before[name] || []) !== JSON.stringify(after[name] || []);
      });
      undo = names.length ? { before: before, names: names } : null;
    }
    if (!codes.length && undoing) {
      var note = document.createElement("p");
      note.className = "alert alert-info mb-3";
      note.textContent = "Change undone: the answers that no longer applied are back.";
      region.replaceChildren(note);
    }
    undoing = false;
    evaluated = sent.values;
    shown = codes;
    sent = null;
    offerUndo();
  });

  // Undo: the inputs the change altered, as they were; then the usual
  // refresh and autosave follow their change.
  region.addEventListener("click", function (event) {
    if (!event.target.closest("[data-undo-change]") || !undo) {
      return;
    }
    var first = null;
    var last = null;
    form.querySelectorAll("input[name], select[name]").forEach(function (input) {
      if (input.type === "hidden" || undo.names.indexOf(input.name) === -1) {
        return;
      }
      var values = undo.before[input.name] || [];
      if (input.type === "radio" || input.type === "checkbox") {
        input.checked = values.indexOf(input.value) !== -1;
        if (input.checked && !first) {
          first = input;
        }
      } else {
        input.value = values.length ? values[0] : "";
        first = first || input;
      }
      last = input;
    });
    undo = null;
    undoing = true;
    if (last) {
      last.dispatchEvent(new Event("change", { bubbles: true }));
    }
    (first || last || form).focus();
  });

  // A note that a change was undone lasts until the next change.
  form.addEventListener("change", function (event) {
    if (event.isTrusted && region.querySelector("p.alert-info")) {
      region.replaceChildren();
    }
  });

  offerUndo();
})();
