// Admin page enhancements; every form also works without script.

// Bring the registration request a mail linked to (or a failed form) into view.
const highlighted = document.querySelector(".registration-request.highlighted");
if (highlighted && !window.location.hash) {
  highlighted.scrollIntoView({ block: "center" });
}

// Ask before irreversible answers such as rejecting a request.
document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
});
