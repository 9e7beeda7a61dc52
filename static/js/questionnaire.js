// Shows and hides questionnaire questions as answers change, following the
// enable-when rules the server renders into data attributes. The server
// applies the same rules when saving, so this only spares the clinician
// from questions that do not apply.
(function () {
  "use strict";

  var form = document.getElementById("questionnaire");
  if (!form) {
    return;
  }

  var questions = {};
  form.querySelectorAll("[data-question]").forEach(function (wrapper) {
    var rule = wrapper.getAttribute("data-enable-when");
    var askedWhen = wrapper.getAttribute("data-asked-when");
    questions[wrapper.getAttribute("data-question")] = {
      wrapper: wrapper,
      kind: wrapper.getAttribute("data-kind"),
      rule: rule ? JSON.parse(rule) : null,
      // The `when` rules of the criteria it serves: asked only while one holds.
      askedWhen: askedWhen ? JSON.parse(askedWhen) : null,
    };
  });

  // The same operators as screening/engine.py.
  var OPERATORS = {
    is_true: function (answer) { return answer === true; },
    is_false: function (answer) { return answer === false; },
    eq: function (answer, value) { return answer === value; },
    ne: function (answer, value) { return answer !== value; },
    lt: function (answer, value) { return answer < value; },
    lte: function (answer, value) { return answer <= value; },
    gt: function (answer, value) { return answer > value; },
    gte: function (answer, value) { return answer >= value; },
    in: function (answer, value) { return value.indexOf(answer) !== -1; },
    not_in: function (answer, value) { return value.indexOf(answer) === -1; },
    any_of: function (answer, value) { return value.some(function (v) { return answer.indexOf(v) !== -1; }); },
    all_of: function (answer, value) { return value.every(function (v) { return answer.indexOf(v) !== -1; }); },
    none_of: function (answer, value) { return !value.some(function (v) { return answer.indexOf(v) !== -1; }); },
  };

  // The current answer to a question, typed like the engine's, or null.
  function answer(code) {
    var question = questions[code];
    if (!question) {
      return null;
    }
    var inputs = question.wrapper.querySelectorAll("input");
    var checked = Array.prototype.filter.call(inputs, function (input) { return input.checked; })
      .map(function (input) { return input.value; });
    switch (question.kind) {
      case "boolean":
        return checked.length ? checked[0] === "yes" : null;
      case "choice":
        return checked.length ? checked[0] : null;
      case "multi_choice":
        return checked.length ? checked : null;
      default: {
        if (inputs.length && inputs[0].type === "radio") {  // an instrument's item, valued by score
          return checked.length ? Number(checked[0]) : null;
        }
        var text = inputs.length ? inputs[0].value.trim() : "";
        var number = Number(text);
        return text === "" || !isFinite(number) ? null : number;
      }
    }
  }

  // Whether a rule holds: its question enabled and answered, and the answer passing.
  function holds(rule) {
    if (!enabledByRule(rule.question)) {
      return false;
    }
    var given = answer(rule.question);
    var operator = OPERATORS[rule.operator];
    return given !== null && Boolean(operator) && operator(given, rule.value);
  }

  // Enabled when every enable-when rule up the chain holds; an unanswered parent hides it.
  function enabledByRule(code) {
    var question = questions[code];
    if (!question || !question.rule) {
      return Boolean(question);
    }
    return holds(question.rule);
  }

  // Shown when enabled and it can matter: some criterion it serves applies
  // (docs/architecture.md, "Questions asked only when they can matter").
  function enabled(code) {
    if (!enabledByRule(code)) {
      return false;
    }
    var askedWhen = questions[code].askedWhen;
    return !askedWhen || askedWhen.some(holds);
  }

  function update() {
    Object.keys(questions).forEach(function (code) {
      var show = enabled(code);
      var wrapper = questions[code].wrapper;
      wrapper.hidden = !show;
      // Hidden answers are not sent; the server would ignore them anyway.
      wrapper.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !show;
      });
    });
    form.querySelectorAll("fieldset[data-section]").forEach(function (section) {
      section.hidden = !section.querySelector("[data-question]:not([hidden])");
    });
  }

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
    update();
    changed();
  });
  form.addEventListener("input", function () {
    update();
    changed();
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
      update();
      say("The answers you typed before were put back; saving them now.");
      save();
    } else {
      forget();
    }
  } else if (earlier) {
    forget();
  }
  update();
})();
