// The account page: copy a new API key, confirm before deleting one.

document.querySelectorAll("[data-copy-target]").forEach((button) => {
  button.addEventListener("click", async () => {
    const input = document.getElementById(button.dataset.copyTarget);
    const status = document.getElementById(`${input.id}-copied`);
    try {
      await navigator.clipboard.writeText(input.value);
      status.textContent = "Copied to the clipboard.";
    } catch {
      // No clipboard access (e.g. not HTTPS): select the text so Ctrl+C works.
      input.select();
      status.textContent = "Press Ctrl+C (or ⌘C) to copy the selected key.";
    }
  });
});

document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
});
