// Registration form: show only the group field that the chosen option needs.
// Without script both fields stay visible and the server uses the chosen one.
(function () {
  "use strict";
  const form = document.getElementById("register-form");
  if (!form) return;
  const existing = document.getElementById("existing-group");
  const created = document.getElementById("new-group");

  function update() {
    const wantsNew = form.querySelector('input[name="org_create"]:checked')?.value === "new";
    existing.hidden = wantsNew;
    created.hidden = !wantsNew;
  }

  form.querySelectorAll('input[name="org_create"]').forEach(function (radio) {
    radio.addEventListener("change", update);
  });
  update();
})();
