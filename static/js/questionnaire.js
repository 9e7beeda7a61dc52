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
    questions[wrapper.getAttribute("data-question")] = {
      wrapper: wrapper,
      kind: wrapper.getAttribute("data-kind"),
      rule: rule ? JSON.parse(rule) : null,
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
        var text = inputs.length ? inputs[0].value.trim() : "";
        var number = Number(text);
        return text === "" || !isFinite(number) ? null : number;
      }
    }
  }

  // Shown only when every rule up the chain holds; an unanswered parent hides it.
  function enabled(code) {
    var question = questions[code];
    if (!question || !question.rule) {
      return Boolean(question);
    }
    var rule = question.rule;
    if (!enabled(rule.question)) {
      return false;
    }
    var parent = answer(rule.question);
    var operator = OPERATORS[rule.operator];
    return parent !== null && Boolean(operator) && operator(parent, rule.value);
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

  form.addEventListener("change", function (event) {
    exclusiveNone(event);
    update();
  });
  form.addEventListener("input", update);
  update();
})();
