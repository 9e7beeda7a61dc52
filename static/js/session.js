// "Stay signed in": a minute before an idle session would end, a dialog
// offers to keep it; left unanswered, the page signs out and shows the
// sign-in page. The server ends sessions after a spell without the
// clinician's requests (config.middleware.idle_session_expiry); the page
// knows how long from <body data-session-seconds>. Only the clinician's own
// input is activity (a key or pointer pressed, a value typed or chosen): a
// background save no one asked for just then keeps nothing alive
// (static/js/questionnaire.js marks it so for the server, and says when the
// server saw the clinician with "ketascreen:activity"). Input the server
// has not seen (reading, scrolling, typing not yet sent) is reported with
// a keepalive when the dialog would otherwise open. The tabs of one browser
// share the time the server last saw the clinician (localStorage): a tab
// left open does not sign out one in use.
(function () {
  "use strict";

  var body = document.body;
  var seconds = Number(body.getAttribute("data-session-seconds"));
  var dialog = document.getElementById("session-dialog");
  if (!seconds || !dialog || typeof dialog.showModal !== "function") {
    return;
  }
  var WARN_BEFORE = 60;
  var SHARED = "ketascreen-last-activity";  // a time, nothing else
  var warnAfter = Math.max(seconds - WARN_BEFORE, 1) * 1000;
  var lastSeen = 0;  // when the server last saw the clinician
  var lastInput = 0;
  var timer = null;
  var asking = false;
  var ending = false;

  function sharedTime() {
    try {
      // A time from the future (a clock put back) is not believed.
      return Math.min(Number(window.localStorage.getItem(SHARED)) || 0, Date.now());
    } catch (error) {
      return 0;
    }
  }

  function seen() {
    lastSeen = Date.now();
    try {
      window.localStorage.setItem(SHARED, String(lastSeen));
    } catch (error) {
      // Not shared: this tab still counts its own.
    }
    check();
  }

  // What the time calls for: nothing yet, a keepalive for input the server
  // has not seen, the dialog, or signing out.
  function check() {
    window.clearTimeout(timer);
    if (ending) {
      return;
    }
    var since = Math.max(lastSeen, sharedTime());
    var now = Date.now();
    if (now < since + warnAfter) {
      if (dialog.open) {
        dialog.close();
      }
      timer = window.setTimeout(check, since + warnAfter - now);
    } else if (lastInput > since) {
      stay();
    } else if (now >= since + seconds * 1000) {
      signOut();
    } else {
      if (!dialog.open) {
        dialog.showModal();
      }
      timer = window.setTimeout(check, since + seconds * 1000 - now);
    }
  }

  function csrfToken() {
    var input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function stay() {
    if (asking) {
      return;
    }
    asking = true;
    fetch(body.getAttribute("data-keepalive-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "XMLHttpRequest" },
    }).then(function (response) {
      if (response.ok) {
        seen();
      } else {
        // The session has ended already: the sign-in page comes next.
        window.location.reload();
      }
    }).catch(function () {
      // The server could not be reached; the next request tells.
      seen();
    }).then(function () {
      asking = false;
    });
  }

  // Signing out: the questionnaire first keeps what is typed in this tab;
  // the sign-in page then says why, and leads back here.
  function signOut() {
    ending = true;
    document.dispatchEvent(new CustomEvent("ketascreen:signing-out"));
    var back = window.location.pathname + window.location.search;
    var fields = {
      csrfmiddlewaretoken: csrfToken(),
      next: body.getAttribute("data-login-url") + "?" + new URLSearchParams({ next: back, idle: "1" }).toString(),
    };
    var out = document.createElement("form");
    out.method = "post";
    out.action = body.getAttribute("data-logout-url");
    out.hidden = true;
    Object.keys(fields).forEach(function (name) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = fields[name];
      out.appendChild(input);
    });
    body.appendChild(out);
    out.submit();
  }

  ["keydown", "pointerdown", "input"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      if (event.isTrusted) {
        lastInput = Date.now();
      }
    }, true);
  });

  dialog.querySelector("[data-session-stay]").addEventListener("click", stay);
  // Escape answers the dialog too: someone is there.
  dialog.addEventListener("cancel", function (event) {
    event.preventDefault();
    stay();
  });

  document.addEventListener("ketascreen:activity", seen);
  window.addEventListener("storage", function (event) {
    if (event.key === SHARED) {
      check();
    }
  });
  seen();  // this page's own request
})();
