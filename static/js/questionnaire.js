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
  // endpoint, which validates exactly as "Save draft" does. A change not yet
  // saved is sent at once when the page is hidden or closed, and leaving
  // the page asks first while a save is pending. An answer the server
  // refused is named at its question. Were the session to end (or the page
  // sign out when left unattended, static/js/session.js), what was typed is
  // put back after signing in again. Without JavaScript the form still
  // works as a plain form.

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
  var unsaved = false;  // changed since the server last confirmed the answers on the page
  var pendingSubmit = null;

  // Only the clinician's own input is activity: a request sent without any
  // since the last one (a save after the focus moved when the "Still
  // there?" dialog opened, the answers put back after signing in) is marked
  // as the page's own, and keeps no session alive
  // (config.middleware.idle_session_expiry).
  var BACKGROUND = "X-KetaScreen-Background";
  var touched = false;
  ["keydown", "pointerdown", "input"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      if (event.isTrusted) {
        touched = true;
      }
    }, true);
  });

  // Whether the request about to be sent is the clinician's; the next one
  // is not, unless they do something in between.
  function byClinician() {
    var was = touched;
    touched = false;
    return was;
  }

  // The server saw the clinician active (static/js/session.js counts from here).
  function active() {
    document.dispatchEvent(new CustomEvent("ketascreen:activity"));
  }

  document.body.addEventListener("htmx:configRequest", function (event) {
    if (form.contains(event.detail.elt) && !byClinician()) {
      event.detail.headers[BACKGROUND] = "1";
    }
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var headers = event.detail.requestConfig && event.detail.requestConfig.headers;
    if (form.contains(event.detail.elt) && event.detail.successful && headers && !headers[BACKGROUND]) {
      active();
    }
  });

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

  // An answer the server would not save is named at its question, as the
  // server names it after "Save draft"; the message goes once it is saved.
  function describedBy(input, id, add) {
    var ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (each) {
      return each && each !== id;
    });
    if (add) {
      ids.push(id);
    }
    if (ids.length) {
      input.setAttribute("aria-describedby", ids.join(" "));
    } else {
      input.removeAttribute("aria-describedby");
    }
  }

  function markRefused(code, errors) {
    var question = document.getElementById("question-" + code);
    var id = code + "_autosave_error";
    var message = document.getElementById(id);
    var inputs = form.querySelectorAll('[name="' + code + '"]:not([type=hidden])');
    if (!errors) {
      if (message) {
        message.remove();
      }
      inputs.forEach(function (input) {
        if ((input.getAttribute("aria-describedby") || "").split(/\s+/).indexOf(id) !== -1) {
          input.removeAttribute("aria-invalid");
          input.classList.remove("is-invalid");
          describedBy(input, id, false);
        }
      });
      return;
    }
    if (!question) {
      return;
    }
    if (!message) {
      message = document.createElement("div");
      message.id = id;
      message.className = "invalid-feedback d-block";
      message.setAttribute("data-autosave-error", code);
      var place = question.querySelector(".input-group") || (question.tagName === "TR" ? question.querySelector("th") : question);
      place.appendChild(message);
    }
    message.textContent = errors.join(" ");
    inputs.forEach(function (input) {
      input.setAttribute("aria-invalid", "true");
      if (input.classList.contains("form-control") || input.classList.contains("form-select")) {
        input.classList.add("is-invalid");
      }
      describedBy(input, id, true);
    });
  }

  function showRefused(notSaved) {
    var refused = {};
    (notSaved || []).forEach(function (item) {
      refused[item.question] = item.errors && item.errors.length ? item.errors : [item.text];
    });
    form.querySelectorAll("[data-autosave-error]").forEach(function (message) {
      var code = message.getAttribute("data-autosave-error");
      if (!refused[code]) {
        markRefused(code, null);
      }
    });
    Object.keys(refused).forEach(function (code) {
      markRefused(code, refused[code]);
    });
  }

  function saved(body, sent, counted) {
    revision.value = body.revision;
    if (JSON.stringify(fields()) === sent) {
      unsaved = false;
      forget();
    } else {
      keep();
    }
    var text = "Saved at " + body.saved_at + ".";
    if (body.not_saved && body.not_saved.length) {
      text += " Not saved, please check: " + body.not_saved.map(function (item) { return item.text; }).join("; ") + ".";
    }
    say(text);
    showRefused(body.not_saved);
    if (counted) {
      active();
    }
  }

  // `leaving`: the page is being hidden or closed; the request outlives it.
  function save(leaving) {
    if (stopped) {
      return;
    }
    if (saving) {
      again = true;
      return;
    }
    window.clearTimeout(timer);
    saving = true;
    var sent = JSON.stringify(fields());
    var counted = byClinician();
    var headers = { "X-Requested-With": "XMLHttpRequest", "Accept": "application/json" };
    if (!counted) {
      headers[BACKGROUND] = "1";
    }
    say("Saving…");
    fetch(autosaveUrl, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      redirect: "error",
      keepalive: leaving === true,
      headers: headers,
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          saved(body, sent, counted);
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
    unsaved = true;
    keep();
    window.clearTimeout(timer);
    timer = window.setTimeout(save, DELAY);
  }

  // A save waiting for its delay, or on its way, or one that failed.
  function pending() {
    return !stopped && (unsaved || saving);
  }

  // Hidden (another tab, the window minimised, or the page closing): what is
  // not saved yet is sent now rather than after the delay, in a request the
  // browser completes even if the page is closed. Its answer brings the new
  // revision when the page stays.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden" && pending() && !saving) {
      save(true);
    }
  });

  // Closed or left with a change still unsent: a beacon carries it (the
  // form's token and revision with it). A page kept for the back button
  // sends an ordinary save instead, whose answer it can still read.
  window.addEventListener("pagehide", function (event) {
    if (!pending() || saving) {
      return;
    }
    window.clearTimeout(timer);
    keep();
    if (event.persisted || !navigator.sendBeacon) {
      save(true);
    } else {
      navigator.sendBeacon(autosaveUrl, new FormData(form));
    }
  });

  // Leaving asks first while a save is pending or on its way.
  window.addEventListener("beforeunload", function (event) {
    if (pending()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // Signed out for want of activity (static/js/session.js): what is typed
  // stays in this tab, to be put back after signing in again.
  document.addEventListener("ketascreen:signing-out", function () {
    window.clearTimeout(timer);
    keep();
    stopped = true;
  });

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
