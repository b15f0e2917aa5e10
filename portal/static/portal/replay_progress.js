// Replay progress on the delivery log: while some deliveries are still pending, reload the
// page every 3 s so the counts move (served as a file: the CSP forbids inline script).
(function () {
  "use strict";
  var box = document.getElementById("replay-progress");
  if (box && Number(box.dataset.pending) > 0) {
    window.setTimeout(function () { window.location.reload(); }, 3000);
  }
})();
