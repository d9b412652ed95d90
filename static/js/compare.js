// Comparisons: the form posts to its stream URL (server-sent events over fetch) and every
// model's answer streams into its own column side by side. Without JavaScript the form posts
// normally and the server answers when every model has.
(function () {
  const form = document.getElementById("compare-form");
  if (!form || !window.fetch || !window.TextDecoder) return;
  const columnsBox = document.getElementById("compare-columns");
  const button = document.getElementById("compare-button");
  const statusLine = document.getElementById("compare-status");
  const errorBox = document.getElementById("compare-error");
  const question = document.getElementById("id_question");
  const followUp = form.hasAttribute("data-follow-up");

  form.querySelectorAll("input[type=range]").forEach(function (slider) {
    const out = document.getElementById("out-" + slider.name);
    slider.addEventListener("input", function () { if (out) out.textContent = slider.value; });
  });

  function showError(message) {
    errorBox.textContent = message;
    errorBox.classList.remove("d-none");
  }

  function showFieldErrors(errors) {
    Object.keys(errors).forEach(function (field) {
      const slot = document.getElementById("error-" + field);
      if (slot) slot.textContent = errors[field].join(" ");
      else showError(errors[field].join(" "));
    });
  }

  function clearErrors() {
    errorBox.classList.add("d-none");
    errorBox.textContent = "";
    form.querySelectorAll(".field-error").forEach(function (el) { el.textContent = ""; });
  }

  function fromHtml(html) {
    const holder = document.createElement("div");
    holder.innerHTML = html; // the server's own rendering (answers sanitised by nh3)
    return holder.firstElementChild;
  }

  function columnWidth(count) {
    return count === 2 ? "col-md-6" : count === 3 ? "col-md-4" : "col-md-3";
  }

  // The column sections, made from the meta event on the form page.
  function threads(meta) {
    const found = {};
    meta.columns.forEach(function (column) {
      let section = columnsBox.querySelector('[data-column="' + column.position + '"]');
      if (!section) {
        section = document.createElement("section");
        section.className = "col-12 compare-column " + columnWidth(meta.columns.length);
        section.dataset.column = column.position;
        section.setAttribute("aria-label", column.label);
        const heading = document.createElement("h2");
        heading.className = "h6 d-flex gap-2 align-items-baseline";
        const badge = document.createElement("span");
        badge.className = "badge text-bg-secondary";
        badge.textContent = "ABCD"[column.position];
        const label = document.createElement("span");
        label.className = "compare-label";
        label.textContent = column.label;
        heading.append(badge, " ", label);
        const thread = document.createElement("div");
        thread.className = "compare-thread";
        section.append(heading, thread);
        columnsBox.append(section);
      }
      const thread = section.querySelector(".compare-thread");
      thread.append(fromHtml(column.question_html));
      const answer = document.createElement("div");
      answer.className = "card message-card mb-2 compare-streaming";
      answer.dataset.role = "assistant";
      answer.dataset.status = "streaming";
      const body = document.createElement("div");
      body.className = "card-body py-2";
      const content = document.createElement("div");
      content.className = "message-content pre-wrap";
      body.append(content);
      answer.append(body);
      thread.append(answer);
      found[column.position] = { answer: answer, content: content };
    });
    return found;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send();
  });

  async function send() {
    clearErrors();
    if (!question.value.trim()) {
      showFieldErrors({ question: ["Question is required."] });
      return;
    }
    const body = new FormData(form);
    button.disabled = true;
    statusLine.textContent = "Answering…";
    let columns = {};
    let finished = false;
    let endUrl = null;
    function handle(event) {
      const data = event.data;
      if (event.name === "meta") {
        if (!followUp) columnsBox.replaceChildren();
        columns = threads(data);
      } else if (event.name === "delta") {
        const column = columns[data.column];
        if (column) column.content.textContent += data.text;
      } else if (event.name === "done" || event.name === "error") {
        const column = columns[data.column];
        if (column) column.answer.replaceWith(fromHtml(data.html));
      } else if (event.name === "end") {
        finished = true;
        endUrl = data.url;
      }
    }
    try {
      const response = await fetch(form.dataset.streamUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { Accept: "text/event-stream" },
      });
      const type = response.headers.get("Content-Type") || "";
      if ((response.status === 400 || response.status === 429) && type.includes("application/json")) {
        showFieldErrors((await response.json()).errors || {});
        return;
      }
      if (!response.ok || !type.includes("text/event-stream")) {
        showError("The server could not take the question (HTTP " + response.status + ").");
        return;
      }
      await window.llmEvents.readEvents(response, handle);
      if (!finished) showError("The connection closed before every answer was complete.");
    } catch (error) {
      showError("The connection was lost: " + error.message);
    } finally {
      button.disabled = false;
      statusLine.textContent = "";
    }
    if (finished) {
      question.value = "";
      // The comparison's own page has the vote and the follow-up form.
      if (!followUp && endUrl) window.location.assign(endUrl);
    }
  }
})();
