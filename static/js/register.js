// Registration form: show only the group field that the chosen option needs.
// Without script both fields stay visible and the server uses the chosen one.
const form = document.getElementById("register-form");

function showTheChosenGroupField() {
  const wantsNew = form.querySelector('input[name="org_create"]:checked')?.value === "new";
  document.getElementById("existing-group").hidden = wantsNew;
  document.getElementById("new-group").hidden = !wantsNew;
}

if (form) {
  form.querySelectorAll('input[name="org_create"]').forEach((radio) => {
    radio.addEventListener("change", showTheChosenGroupField);
  });
  showTheChosenGroupField();
}
