// Thumbs up / down without a page reload; the form still works as a plain POST without this.
(function () {
  if (window.llmFeedbackBound) return;
  window.llmFeedbackBound = true;

  function mark(form, rating) {
    form.querySelectorAll("button[name=rating]").forEach(function (button) {
      const on = button.value === rating;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.classList.toggle("btn-outline-secondary", !on);
      button.classList.toggle("btn-success", on && rating === "up");
      button.classList.toggle("btn-danger", on && rating === "down");
    });
  }

  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("feedback-form")) return;
    event.preventDefault();
    const data = new FormData(form);
    const button = event.submitter;
    if (button && button.name) data.set(button.name, button.value);
    else {
      const pressed = form.querySelector("button[aria-pressed=true]");
      if (!pressed) return;  // Enter in the comment before any rating: nothing to save yet
      data.set("rating", pressed.value);
    }
    const status = form.querySelector(".feedback-status");
    try {
      const response = await fetch(form.action, {
        method: "POST", body: data, headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      const body = await response.json();
      if (!response.ok) throw new Error(Object.values(body.errors || {}).flat().join(" ") || "Not saved.");
      mark(form, body.rating);
      if (status) status.textContent = "Saved.";
    } catch (error) {
      if (status) status.textContent = error.message || "Not saved.";
    }
  });
})();
