// The pause form shows only the target field of the chosen scope (merchant, endpoint, channel).
(function () {
  "use strict";
  var targets = { merchant: "merchant", endpoint: "endpoint", channel: "channel" };
  function update() {
    var scope = document.getElementById("id_scope");
    if (!scope) { return; }
    Object.keys(targets).forEach(function (name) {
      var row = document.querySelector(".form-row.field-" + name) ||
        document.querySelector(".field-" + name);
      if (row) { row.style.display = scope.value === name ? "" : "none"; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var scope = document.getElementById("id_scope");
    if (!scope) { return; }
    scope.addEventListener("change", update);
    update();
  });
}());
