// Answers saved in another window since this page was opened. The server
// lists, question by question, where the answers here differ from those
// saved (templates/screening/_conflicts.html: from the autosave's 409, or
// on the page after "Save draft"); the clinician keeps theirs or takes the
// saved answer for each, and the choices are saved over the saved revision
// (static/js/questionnaire.js saves on "ketascreen:conflict-resolved").
// What was typed stays on the page throughout.
(function () {
  "use strict";

  var form = document.getElementById("questionnaire");
  var box = document.getElementById("conflicts");
  if (!form || !box) {
    return;
  }
  var statusLine = document.getElementById("autosave-status");
  var revision = form.querySelector('input[name="revision"]');
  var conflictKey = "ketascreen-conflict-" + form.getAttribute("data-screening");
  var answersKey = "ketascreen-answers-" + form.getAttribute("data-screening");

  function remember(on) {
    try {
      if (on) {
        window.sessionStorage.setItem(conflictKey, "1");
      } else {
        window.sessionStorage.removeItem(conflictKey);
      }
    } catch (error) {
      // Without storage the differences are still on the page.
    }
  }

  // The page was reloaded (or reopened) while a conflict was open: the
  // answers typed here are in this tab's storage (questionnaire.js) under
  // the revision they were typed against. Giving the page that revision
  // again (this script runs before questionnaire.js) makes questionnaire.js
  // put them back and save them, and the server lists the differences again
  // rather than anything typed being dropped.
  try {
    var typed = JSON.parse(window.sessionStorage.getItem(answersKey) || "null");
    if (window.sessionStorage.getItem(conflictKey) && typed && typed.revision !== revision.value &&
        !box.querySelector("[data-conflicts]")) {
      revision.value = typed.revision;
    }
  } catch (error) {
    // Nothing kept.
  }

  // The differences as they stand (each change while they are shown asks
  // again), keeping the choices already made.
  document.addEventListener("ketascreen:conflict", function (event) {
    var chosen = Array.prototype.map.call(box.querySelectorAll("[data-difference] input:checked"), function (input) {
      return input.id;
    });
    box.innerHTML = event.detail.html;
    chosen.forEach(function (id) {
      var input = document.getElementById(id);
      if (input && box.contains(input)) {
        input.checked = true;
      }
    });
    remember(true);
    var words = "Not saved: these answers were changed in another window. " +
      "Choose below which answers to keep; what you typed is still on the page.";
    if (statusLine.textContent !== words) {
      statusLine.textContent = words;
    }
  });

  // One question's inputs given the saved answer: [name, value] pairs as
  // the form posts them (none when it was not answered).
  function takeSaved(code, pairs) {
    var byName = {};
    pairs.forEach(function (pair) {
      (byName[pair[0]] = byName[pair[0]] || []).push(pair[1]);
    });
    // A trials table (static/js/trials.js) first makes as many rows as were saved.
    document.dispatchEvent(new CustomEvent("ketascreen:restore", { detail: { values: byName } }));
    form.querySelectorAll("input[name], select[name]").forEach(function (input) {
      if (input.type === "hidden" || (input.name !== code && input.name.indexOf(code + "-") !== 0)) {
        return;
      }
      var values = byName[input.name] || [];
      if (input.type === "radio" || input.type === "checkbox") {
        input.checked = values.indexOf(input.value) !== -1;
      } else {
        input.value = values.length ? values[0] : "";
      }
    });
  }

  function resolve(panel) {
    var missing = [];
    var taken = [];
    panel.querySelectorAll("[data-difference]").forEach(function (row) {
      var chosen = row.querySelector("input:checked");
      if (!chosen) {
        missing.push(row);
      } else if (chosen.value === "saved") {
        taken.push(row.getAttribute("data-difference"));
      }
    });
    if (missing.length) {
      panel.querySelector("[data-conflicts-missing]").hidden = false;
      missing[0].querySelector("input").focus();
      return;
    }
    var saved = JSON.parse(panel.getAttribute("data-saved"));
    taken.forEach(function (code) {
      takeSaved(code, saved[code] || []);
    });
    revision.value = panel.getAttribute("data-revision");
    remember(false);
    var done = document.createElement("p");
    done.className = "alert alert-info";
    done.tabIndex = -1;
    done.textContent = "Your choices are on the page and are being saved.";
    box.replaceChildren(done);
    done.focus();
    document.dispatchEvent(new CustomEvent("ketascreen:conflict-resolved"));
  }

  box.addEventListener("click", function (event) {
    var button = event.target.closest("[data-resolve-conflicts]");
    if (button) {
      resolve(button.closest("[data-conflicts]"));
    }
  });

  // Saving the whole form would only be refused again: choose first.
  form.addEventListener("submit", function (event) {
    var panel = box.querySelector("[data-conflicts]");
    if (panel) {
      event.preventDefault();
      panel.querySelector("[data-conflicts-missing]").hidden = false;
      panel.querySelector("#conflicts-heading").focus();
    }
  });
})();
