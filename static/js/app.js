// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Auto-submit filter forms marked data-autosubmit when a select changes (htmx swaps the results).
  for (const form of document.querySelectorAll("form[data-autosubmit]")) {
    form.addEventListener("change", () => form.requestSubmit());
  }
  // Buttons that need a confirmation carry data-confirm="question".
  for (const el of document.querySelectorAll("[data-confirm]")) {
    el.addEventListener("click", (event) => {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    });
  }
});
