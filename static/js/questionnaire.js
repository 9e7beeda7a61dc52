// The questionnaire's behaviour in the browser: asking the server which
// questions apply as answers change (htmx), "No to all unanswered", "None
// of these", and saving in the background. No rule is evaluated here.
(function () {
  "use strict";

  var form = document.getElementById("questionnaire");
  if (!form) {
    return;
  }

  // Which questions apply is decided on the server, by the engine: each
  // change posts the page's answers (htmx, views.screening_questions) and
  // the answer brings the navigation and every section. A section is
  // replaced only when the questions enabled in it changed (data-state), so
  // what is being typed elsewhere stays as it is.
  document.body.addEventListener("htmx:oobBeforeSwap", function (event) {
    var incoming = event.detail.fragment.firstElementChild;
    var target = event.detail.target;
    if (incoming && target.hasAttribute("data-state") &&
        incoming.getAttribute("data-state") === target.getAttribute("data-state")) {
      event.detail.shouldSwap = false;
    }
  });

  // Asks the server again which questions apply (as any change does).
  function refresh() {
    var body = form.querySelector("[hx-post]");
    if (body) {
      body.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  // "No to all unanswered": answers "no" to each row of the matrix that is
  // shown and left blank; nothing else. The server then decides what applies.
  form.addEventListener("click", function (event) {
    var button = event.target.closest("[data-no-to-unanswered]");
    if (!button) {
      return;
    }
    event.preventDefault();
    var matrix = button.closest("[data-yes-no]");
    matrix.querySelectorAll("tr[data-question]:not([hidden])").forEach(function (row) {
      if (!row.querySelector("input:checked")) {
        var no = row.querySelector('input[value="no"]');
        if (no) {
          no.checked = true;
        }
      }
    });
    refresh();
  });

  // "Next unanswered" moves the keyboard there too.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-next-unanswered]");
    if (!link) {
      return;
    }
    var question = document.getElementById(link.getAttribute("href").slice(1));
    var input = question && question.querySelector("input:not([type=hidden]), select");
    if (input) {
      event.preventDefault();
      question.scrollIntoView({ block: "center" });
      input.focus();
    }
  });

  // "None of these" excludes the other options of the same question.
  function exclusiveNone(event) {
    var input = event.target;
    if (input.type !== "checkbox" || !input.checked) {
      return;
    }
    form.querySelectorAll('input[type="checkbox"][name="' + input.name + '"]').forEach(function (other) {
      if (other !== input && (input.value === "none" || other.value === "none")) {
        other.checked = false;
      }
    });
  }

  // --- Nothing typed is lost -------------------------------------------
  // Every change is kept in this tab's sessionStorage until the server has
  // it, and saved in the background (debounced) through the autosave
  // endpoint, which validates exactly as "Save draft" does. Were the
  // session to end, what was typed is put back after signing in again.
  // Without JavaScript the form still works as a plain form.

  var autosaveUrl = form.getAttribute("data-autosave-url");
  var storageKey = "ketascreen-answers-" + form.getAttribute("data-screening");
  var statusLine = document.getElementById("autosave-status");
  var problem = document.getElementById("session-problem");
  var revision = form.querySelector('input[name="revision"]');
  var DELAY = 1200;
  var timer = null;
  var saving = false;
  var again = false;
  var stopped = false;
  var pendingSubmit = null;

  // The answers as the form would send them, without its token and revision.
  function fields() {
    var pairs = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken" && name !== "revision") {
        pairs.push([name, value]);
      }
    });
    return pairs;
  }

  function keep() {
    try {
      window.sessionStorage.setItem(storageKey, JSON.stringify({ revision: revision.value, fields: fields() }));
    } catch (error) {
      // Storage full or refused: the answers are still on the page.
    }
  }

  function forget() {
    try {
      window.sessionStorage.removeItem(storageKey);
    } catch (error) {
      // Nothing to forget.
    }
  }

  function kept() {
    try {
      return JSON.parse(window.sessionStorage.getItem(storageKey) || "null");
    } catch (error) {
      return null;
    }
  }

  function restore(pairs) {
    var byName = {};
    pairs.forEach(function (pair) {
      (byName[pair[0]] = byName[pair[0]] || []).push(pair[1]);
    });
    // Tables of rows (static/js/trials.js) first make as many rows as were typed.
    document.dispatchEvent(new CustomEvent("ketascreen:restore", { detail: { values: byName } }));
    form.querySelectorAll("input[name], select[name]").forEach(function (input) {
      var values = byName[input.name];
      if (!values || input.type === "hidden") {
        return;
      }
      if (input.type === "radio" || input.type === "checkbox") {
        input.checked = values.indexOf(input.value) !== -1;
      } else {
        input.value = values[0];
      }
    });
  }

  function say(text) {
    statusLine.textContent = text;
  }

  function showProblem(text, withSignIn) {
    problem.textContent = text + " ";
    if (withSignIn) {
      var link = document.createElement("a");
      link.href = form.getAttribute("data-login-url");
      link.className = "alert-link";
      link.textContent = "Sign in again";
      problem.appendChild(link);
    }
    problem.hidden = false;
  }

  function saved(body, sent) {
    revision.value = body.revision;
    if (JSON.stringify(fields()) === sent) {
      forget();
    } else {
      keep();
    }
    var text = "Saved at " + body.saved_at + ".";
    if (body.not_saved && body.not_saved.length) {
      text += " Not saved, please check: " + body.not_saved.map(function (item) { return item.text; }).join("; ") + ".";
    }
    say(text);
    document.dispatchEvent(new CustomEvent("ketascreen:activity"));
  }

  function save() {
    if (stopped) {
      return;
    }
    if (saving) {
      again = true;
      return;
    }
    saving = true;
    var sent = JSON.stringify(fields());
    say("Saving…");
    fetch(autosaveUrl, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      redirect: "error",
      headers: { "X-Requested-With": "XMLHttpRequest", "Accept": "application/json" },
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          saved(body, sent);
        } else if (response.status === 409 && body.conflict) {
          // Saved in another window since: static/js/conflicts.js shows the
          // differences (again with each change, as they stand), and says
          // when the clinician has chosen.
          keep();
          document.dispatchEvent(new CustomEvent("ketascreen:conflict", { detail: body }));
        } else if (response.status === 401 || response.status === 403) {
          stopped = true;
          keep();
          say("");
          showProblem(body.error || "Your session has ended, so this was not saved. What you typed is kept in this browser.", true);
        } else {
          stopped = response.status === 409;
          keep();
          say("");
          showProblem(body.error || "This could not be saved in the background; use Save draft.", false);
        }
      });
    }).catch(function () {
      keep();
      say("Not saved: the server could not be reached. What you typed is kept in this browser; it is saved with the next change.");
    }).then(function () {
      saving = false;
      if (pendingSubmit) {
        var submitter = pendingSubmit.submitter;
        pendingSubmit = null;
        form.requestSubmit(submitter);
      } else if (again) {
        again = false;
        save();
      }
    });
  }

  function changed() {
    keep();
    window.clearTimeout(timer);
    timer = window.setTimeout(save, DELAY);
  }

  form.addEventListener("change", function (event) {
    exclusiveNone(event);
    changed();
  });
  form.addEventListener("input", changed);
  // The answers chosen after a conflict are on the page, with the saved revision.
  document.addEventListener("ketascreen:conflict-resolved", function () {
    stopped = false;
    problem.hidden = true;
    save();
    refresh();
  });
  form.addEventListener("submit", function (event) {
    window.clearTimeout(timer);
    keep();
    if (saving) {
      // Send the form once the background save has its new revision.
      event.preventDefault();
      pendingSubmit = { submitter: event.submitter || null };
      return;
    }
    stopped = true;
  });

  // Answers typed here and not yet saved (the session ended, or the page
  // was closed mid-save) come back when nothing was saved since.
  var earlier = kept();
  if (earlier && earlier.revision === revision.value && !document.querySelector("[data-testid=error-summary]")) {
    if (JSON.stringify(earlier.fields) !== JSON.stringify(fields())) {
      restore(earlier.fields);
      if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", refresh);  // after htmx has read the page
      } else {
        refresh();
      }
      say("The answers you typed before were put back; saving them now.");
      save();
    } else {
      forget();
    }
  } else if (earlier) {
    forget();
  }
})();
