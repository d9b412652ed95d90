// Versions without a page reload: the switcher (‹ 2/3 ›) and the version table's "show" post
// to /message/<id>/select/ and the thread is fetched again; "Ask again" and "Edit" stream the
// new version from /message/<id>/regenerate/ or /edit/ (the same events as /ask/stream/).
// Without this script every one of these forms is a plain POST that redirects back.
(function () {
  if (window.llmVersionsBound || !window.fetch || !window.TextDecoder) return;
  window.llmVersionsBound = true;

  function thread() { return document.getElementById("messages"); }

  // The page again from the server: the active path, its switchers and version tables.
  async function refresh() {
    const response = await fetch(window.location.pathname + window.location.search, {
      credentials: "same-origin",
    });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("messages");
    if (fresh && thread()) {
      thread().innerHTML = fresh.innerHTML;
      if (window.llmDecorateCode) window.llmDecorateCode(thread());
    }
  }

  function showProblem(form, text) {
    let box = form.querySelector(".version-error");
    if (!box) {
      box = document.createElement("div");
      box.className = "version-error alert alert-danger py-1 px-2 mt-1 mb-0 small";
      box.setAttribute("role", "alert");
      form.appendChild(box);
    }
    box.textContent = text;
  }

  function fromHtml(html) {
    const holder = document.createElement("div");
    holder.innerHTML = html;
    return holder.firstElementChild;
  }

  function streamingAnswer() {
    const item = document.createElement("article");
    item.className = "mb-3 message-item";
    item.dataset.role = "assistant";
    item.dataset.status = "pending";
    item.innerHTML = '<div class="card message-card"><div class="card-body py-2">' +
      '<div class="meta mb-1"><strong>Assistant</strong></div>' +
      '<div class="message-content pre-wrap"></div></div></div>';
    return item;
  }

  // From the old version on, the thread is replaced by the new version as it streams.
  function startVersion(data) {
    const old = document.getElementById("message-" + data.version_of);
    const list = thread();
    if (!list) return null;
    if (old) {
      while (old.nextElementSibling) old.nextElementSibling.remove();
      if (old.dataset.role === "user" && data.question_html) {
        const asked = fromHtml(data.question_html);
        if (asked) old.replaceWith(asked);
      } else {
        old.remove();
      }
    }
    const answer = streamingAnswer();
    list.appendChild(answer);
    return answer;
  }

  async function newVersion(form, button) {
    // "Ask again" buttons submit the page's one settings form to their own formaction.
    const url = button && button.hasAttribute("formaction") ? button.formAction : form.action;
    const where = button && button.closest(".version-bar") ? button.closest(".version-bar") : form;
    if (button) button.disabled = true;
    let answer = null;
    let text = "";
    try {
      const response = await fetch(url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "text/event-stream" },
      });
      const type = response.headers.get("Content-Type") || "";
      if ((response.status === 400 || response.status === 429) && type.includes("application/json")) {
        const errors = (await response.json()).errors || {};
        showProblem(where, Object.values(errors).flat().join(" "));
        return;
      }
      if (!response.ok || !type.includes("text/event-stream")) {
        showProblem(where, "The server could not take it (HTTP " + response.status + ").");
        return;
      }
      await window.llmEvents.readEvents(response, function (event) {
        if (event.name === "meta") {
          answer = startVersion(event.data);
        } else if (event.name === "delta" && answer) {
          text += event.data.text;
          answer.querySelector(".message-content").textContent = text;
        }
      });
    } catch (error) {
      showProblem(where, "The connection was lost: " + error.message);
      return;
    } finally {
      if (button) button.disabled = false;
    }
    await refresh();
  }

  async function select(form) {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      form.submit();
      return;
    }
    await refresh();
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.classList.contains("version-select")) {
      event.preventDefault();
      select(form);
    } else if (form.classList.contains("version-form")) {
      event.preventDefault();
      newVersion(form, event.submitter || form.querySelector("button[type=submit]:not([disabled])"));
    }
  });
})();
