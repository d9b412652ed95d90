// Server-sent events read from a fetch() response: the chat, the comparison and the versions
// scripts POST a form and read its answer as a stream of events (EventSource cannot POST).
(function () {
  "use strict";

  // One event block ("event: name\ndata: {...}") as {name, data}.
  function parseEvent(block) {
    let name = "message";
    const data = [];
    block.split("\n").forEach(function (line) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    });
    return { name: name, data: data.length ? JSON.parse(data.join("\n")) : {} };
  }

  // Calls handle(event) for every event of the response's body, in order, until it ends.
  async function readEvents(response, handle) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return;
      buffer += decoder.decode(chunk.value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (block.trim()) handle(parseEvent(block));
      }
    }
  }

  window.llmEvents = { readEvents: readEvents };
})();
