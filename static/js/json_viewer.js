// JSON viewer: sort the table by a column when its heading is clicked (again: reverse).
(function () {
  "use strict";
  const table = document.getElementById("json-table");
  if (!table) return;
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function key(cell) {
    const text = cell.textContent;
    const kind = cell.className;
    if (kind === "cell-number") return { rank: 0, num: Number(text), text: text };
    if (kind === "cell-missing") return { rank: 3, num: 0, text: "" };
    if (kind === "cell-null") return { rank: 2, num: 0, text: "" };
    return { rank: 1, num: 0, text: text };
  }

  function compare(a, b) {
    if (a.rank !== b.rank) return a.rank - b.rank;
    if (a.rank === 0) return a.num - b.num;
    return collator.compare(a.text, b.text);
  }

  table.querySelectorAll("thead button[data-column]").forEach(function (button) {
    button.addEventListener("click", function () {
      const th = button.closest("th");
      const column = Number(button.dataset.column);
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("thead th").forEach(function (other) {
        other.setAttribute("aria-sort", "none");
      });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows).map(function (row, index) {
        return { row: row, index: index, key: key(row.cells[column]) };
      });
      rows.sort(function (a, b) {
        // Missing and null values stay last in both directions; ties keep their order.
        const order = a.key.rank >= 2 || b.key.rank >= 2 ? compare(a.key, b.key) : compare(a.key, b.key) * (ascending ? 1 : -1);
        return order || a.index - b.index;
      });
      const fragment = document.createDocumentFragment();
      rows.forEach(function (item) { fragment.appendChild(item.row); });
      body.appendChild(fragment);
    });
  });
})();
