// "Stay signed in": a minute before an idle session would end, a dialog
// offers to keep it. The server ends sessions after a spell without
// requests (config.middleware.idle_session_expiry); the page knows how long
// from <body data-session-seconds>. An autosave counts as activity.
(function () {
  "use strict";

  var body = document.body;
  var seconds = Number(body.getAttribute("data-session-seconds"));
  var dialog = document.getElementById("session-dialog");
  if (!seconds || !dialog || typeof dialog.showModal !== "function") {
    return;
  }
  var WARN_BEFORE = 60;
  var timer = null;

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      if (!dialog.open) {
        dialog.showModal();
      }
    }, Math.max(seconds - WARN_BEFORE, 1) * 1000);
  }

  function csrfToken() {
    var input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  dialog.querySelector("[data-session-stay]").addEventListener("click", function () {
    fetch(body.getAttribute("data-keepalive-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "XMLHttpRequest" },
    }).then(function (response) {
      if (response.ok) {
        dialog.close();
        schedule();
      } else {
        // The session has ended already: the sign-in page comes next.
        window.location.reload();
      }
    }).catch(function () {
      dialog.close();
      schedule();
    });
  });

  document.addEventListener("ketascreen:activity", schedule);
  schedule();
})();
