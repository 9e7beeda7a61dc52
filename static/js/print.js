// A "Print" button ([data-print]) prints the page; the print stylesheet
// leaves out the buttons and navigation.
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
