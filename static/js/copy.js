// Copy buttons: the whole answer (its markdown) and each code block. Loaded once per page.
(function () {
  if (window.llmCopyBound) return;
  window.llmCopyBound = true;

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (error) { /* fall back below */ }
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "copy-buffer";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
    area.remove();
    return ok;
  }

  function textFor(button) {
    if (button.dataset.copy === "code") {
      const block = button.closest(".code-block");
      return block ? block.querySelector("pre").innerText : "";
    }
    const card = button.closest(".message-card");
    if (!card) return "";
    const raw = card.querySelector("template.message-raw");
    if (raw) return raw.content.textContent;
    const content = card.querySelector(".message-content");
    return content ? content.innerText : "";
  }

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    const ok = await copyText(textFor(button));
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(function () { button.textContent = label; }, 1500);
  });

  // Wraps each code block of an answer with its own copy button.
  function decorate(root) {
    root.querySelectorAll(".message-content pre").forEach(function (pre) {
      if (pre.parentElement.classList.contains("code-block")) return;
      const block = document.createElement("div");
      block.className = "code-block position-relative";
      pre.replaceWith(block);
      block.appendChild(pre);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-outline-secondary py-0 position-absolute top-0 end-0 m-1";
      button.dataset.copy = "code";
      button.textContent = "Copy code";
      block.appendChild(button);
    });
  }
  window.llmDecorateCode = decorate;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { decorate(document); });
  } else {
    decorate(document);
  }
})();
