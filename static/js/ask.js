// The chat page with JavaScript: slider values, Enter to send, the answer streamed from
// /ask/stream/ (server-sent events over fetch) and rendered as markdown as it arrives, Stop.
// Without this script the form is a plain POST to /ask/ that redirects back with the answer.
(function () {
  const form = document.getElementById("chat-form");
  if (!form || !window.fetch || !window.TextDecoder || !window.AbortController) return;

  const messages = document.getElementById("messages");
  const question = form.querySelector("#id_question");
  const modelSelect = form.querySelector("#id_model");
  const sendButton = form.querySelector("#send-button");
  const stopButton = form.querySelector("#stop-button");
  const errorBox = form.querySelector("#chat-error");
  const statusLine = form.querySelector("#chat-status");
  const conversationInput = form.querySelector("#id_conversation");
  const fileInput = form.querySelector("#id_file_upload");
  const systemGroup = document.getElementById("system-prompt-group");
  const streamUrl = form.dataset.streamUrl;
  const markdown = window.markdownit ? window.markdownit({ html: false, linkify: false }) : null;
  // A table column's alignment as a class, as the server's renderer does: the page's
  // Content-Security-Policy refuses the style="text-align:…" markdown-it would write.
  const alignClasses = { left: "text-start", center: "text-center", right: "text-end" };
  if (markdown) {
    markdown.core.ruler.push("align_classes", function (state) {
      state.tokens.forEach(function (token) {
        if (token.type !== "th_open" && token.type !== "td_open") return;
        const style = token.attrGet("style") || "";
        token.attrs = (token.attrs || []).filter(function (attr) { return attr[0] !== "style"; });
        const align = alignClasses[style.replace("text-align:", "")];
        if (align) token.attrJoin("class", align);
      });
    });
  }
  let controller = null;

  // --- Sliders and model defaults ----------------------------------------------------------
  const sliders = Array.from(form.querySelectorAll("input[type=range]"));
  function showValue(slider) {
    const out = document.getElementById("out-" + slider.name);
    if (out) out.value = slider.value;
  }
  sliders.forEach(function (slider) {
    slider.addEventListener("input", function () { showValue(slider); });
    showValue(slider);
  });
  if (modelSelect) {
    modelSelect.addEventListener("change", function () {
      const option = modelSelect.selectedOptions[0];
      if (!option) return;
      sliders.forEach(function (slider) {
        const value = option.dataset[slider.name];
        if (value !== undefined && value !== "") {
          slider.value = value;
          showValue(slider);
        }
      });
    });
  }

  // --- Sending ------------------------------------------------------------------------------
  question.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (!controller) form.requestSubmit();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!controller) send();
  });
  stopButton.addEventListener("click", function () {
    if (controller) controller.abort();
  });

  function setStreaming(on) {
    sendButton.disabled = on;
    stopButton.hidden = !on;
    if (on) statusLine.textContent = "Answering…";
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  function clearErrors() {
    errorBox.classList.add("d-none");
    errorBox.textContent = "";
    form.querySelectorAll(".field-error").forEach(function (el) { el.textContent = ""; });
    form.querySelectorAll(".is-invalid").forEach(function (el) { el.classList.remove("is-invalid"); });
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.classList.remove("d-none");
  }

  function showFieldErrors(errors) {
    let general = [];
    Object.keys(errors).forEach(function (field) {
      const target = document.getElementById("error-" + field);
      const input = form.querySelector("[name=" + CSS.escape(field) + "]");
      if (target) {
        target.textContent = errors[field].join(" ");
        if (input) input.classList.add("is-invalid");
      } else {
        general = general.concat(errors[field]);
      }
    });
    if (general.length) showError(general.join(" "));
  }

  function article(role) {
    const hint = document.getElementById("empty-hint");
    if (hint) hint.remove();
    const item = document.createElement("article");
    item.className = "mb-3 message-item";
    item.dataset.role = role;
    item.dataset.status = "pending";
    const card = document.createElement("div");
    card.className = "card message-card" + (role === "user" ? " bg-body-tertiary" : "");
    card.innerHTML = '<div class="card-body py-2"><div class="meta mb-1"><strong></strong> ' +
      '<span class="badge text-bg-warning message-status" hidden></span></div>' +
      '<div class="message-content"></div></div>';
    card.querySelector("strong").textContent = role === "user" ? "You" : "Assistant";
    item.appendChild(card);
    messages.appendChild(item);
    return item;
  }

  function replaceWith(item, html) {
    const holder = document.createElement("div");
    holder.innerHTML = html;
    const fresh = holder.firstElementChild;
    if (!fresh) return item;
    item.replaceWith(fresh);
    if (window.llmDecorateCode) window.llmDecorateCode(fresh);
    return fresh;
  }

  function render(target, text) {
    if (markdown && window.DOMPurify) {
      target.innerHTML = window.DOMPurify.sanitize(markdown.render(text), {
        FORBID_TAGS: ["img", "style", "form", "input", "button"],
        FORBID_ATTR: ["style"],
      });
    } else {
      target.classList.add("pre-wrap");
      target.textContent = text;
    }
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  }

  async function send() {
    clearErrors();
    if (!question.value.trim()) {
      showFieldErrors({ question: ["Question is required."] });
      question.focus();
      return;
    }
    const body = new FormData(form);
    controller = new AbortController();
    setStreaming(true);
    let asked = article("user");
    asked.querySelector(".message-content").classList.add("pre-wrap");
    asked.querySelector(".message-content").textContent = question.value;
    let answer = null;
    let text = "";
    let scheduled = false;
    let finished = false;
    const state = { answer: null };

    function paint() {
      scheduled = false;
      if (!answer) return;
      const follow = nearBottom();
      render(answer.querySelector(".message-content"), text);
      if (follow) window.scrollTo(0, document.body.scrollHeight);
    }

    function handle(event) {
      const data = event.data;
      if (event.name === "meta") {
        conversationInput.value = data.conversation_id;
        if (systemGroup) systemGroup.hidden = true;
        const title = document.getElementById("conversation-title");
        if (title && data.title) title.textContent = data.title;
        const details = document.getElementById("details-link");
        if (details) {
          details.href = details.dataset.urlTemplate.replace(
            "00000000-0000-0000-0000-000000000000", data.conversation_id);
          details.classList.remove("d-none");
        }
        if (data.question_html) asked = replaceWith(asked, data.question_html);
        question.value = "";
        if (fileInput) fileInput.value = "";
        answer = article("assistant");
        state.answer = answer;
      } else if (event.name === "delta") {
        text += data.text;
        if (!scheduled) {
          scheduled = true;
          window.requestAnimationFrame(paint);
        }
      } else if (event.name === "done") {
        finished = true;
        if (answer && data.html) answer = replaceWith(answer, data.html);
      } else if (event.name === "error") {
        finished = true;
        if (answer && data.html) answer = replaceWith(answer, data.html);
        showError(data.message || "The model call failed.");
      }
    }

    try {
      const response = await fetch(streamUrl, {
        method: "POST",
        body: body,
        signal: controller.signal,
        credentials: "same-origin",
        headers: { Accept: "text/event-stream" },
      });
      const type = response.headers.get("Content-Type") || "";
      if ((response.status === 400 || response.status === 413) && type.includes("application/json")) {
        const payload = await response.json();
        asked.remove();
        showFieldErrors(payload.errors || {});
        return;
      }
      if (response.status === 429 && type.includes("application/json")) {
        // Over a limit: nothing was stored; the question stays in the box for later.
        const payload = await response.json();
        asked.remove();
        showError(payload.message || "You have reached a limit; try again later.");
        const usage = document.getElementById("token-usage");
        if (usage && payload.usage) usage.textContent = payload.usage;
        return;
      }
      if (!response.ok || !type.includes("text/event-stream")) {
        asked.remove();
        showError(response.redirected
          ? "Your session has ended. Reload the page and log in again."
          : "The server could not take the question (HTTP " + response.status + ").");
        return;
      }
      await window.llmEvents.readEvents(response, handle);
      if (!finished) showError("The connection closed before the answer was complete.");
    } catch (error) {
      if (error.name === "AbortError") {
        if (state.answer) {
          paint();
          state.answer.dataset.status = "cancelled";
          const badge = state.answer.querySelector(".message-status");
          if (badge) { badge.textContent = "cancelled"; badge.hidden = false; }
          statusLine.textContent = "Stopped; the partial answer is kept.";
        }
      } else {
        showError("The connection was lost: " + error.message);
      }
    } finally {
      controller = null;
      setStreaming(false);
      if (statusLine.textContent === "Answering…") statusLine.textContent = "";
    }
  }
})();
