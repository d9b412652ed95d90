"""Realistic chat turns for the page benchmarks: questions, and answers in markdown with
headings, lists, inline code, fenced code blocks in several languages and a table.

`turn(n)` gives the n-th (question, answer) pair; the five answers repeat with the turn number
in them, so no two messages are the same text.
"""

from __future__ import annotations

QUESTIONS = (
    "How do I read a CSV file in Python and sum one column?",
    "What is the difference between a process and a thread? Keep it short please.",
    "Can you compare PostgreSQL and SQLite for a small web app?",
    "Write a shell one-liner that finds the ten biggest files under a folder.",
    "Explain what a JavaScript promise is, with an example.",
)

ANSWERS = (
    """Use the standard library's **`csv`** module; no extra package is needed.

```python
import csv
from decimal import Decimal


def column_total(path: str, column: str) -> Decimal:
    \"\"\"The sum of one column of a CSV file with a header row.\"\"\"
    total = Decimal(0)
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            value = row.get(column, "").strip()
            if value:
                total += Decimal(value)
    return total


print(column_total("sales.csv", "amount"))
```

A few notes (turn {n}):

1. `newline=""` lets the `csv` module handle line endings itself.
2. `Decimal` avoids the rounding surprises of `float` for money.
3. For big files this reads one row at a time, so memory stays flat.

If you already use *pandas*, `pd.read_csv(path)[column].sum()` does the same in one line.
""",
    """In short (turn {n}):

| | process | thread |
|:--|:--|:--|
| memory | its own address space | shares the process's memory |
| start-up cost | high (new interpreter, new page tables) | low |
| crash isolation | a crash stays inside it | one bad thread can take the process down |
| communication | pipes, sockets, shared memory | shared variables, with locks |
| Python's GIL | one GIL **each** | one GIL for all threads |

So in CPython:

- **CPU-bound** work → processes (`multiprocessing`, `concurrent.futures.ProcessPoolExecutor`).
- **I/O-bound** work → threads or `asyncio`, since the GIL is released while waiting.

> Rule of thumb: start with threads for I/O, measure, and move to processes only when a core
> is saturated.
""",
    """Both are good choices; they differ in how they are run rather than in SQL (turn {n}).

### SQLite
- A file inside your project: nothing to install or administer.
- One writer at a time; with `journal_mode=WAL` readers never block.
- Backups are a file copy (`sqlite3 db.sqlite3 ".backup copy.sqlite3"`).

### PostgreSQL
- A server process: many concurrent writers, row-level locks.
- Rich types (`jsonb`, arrays, ranges), full-text search, `pg_trgm` indexes.
- Replication and point-in-time recovery for when the data matters.

| need | SQLite | PostgreSQL |
|:--|:-:|:-:|
| zero set-up | ✅ | ❌ |
| many writers | ❌ | ✅ |
| `jsonb` indexes | ❌ | ✅ |
| runs in tests without a server | ✅ | ❌ |

For a small app with modest write traffic, **start with SQLite** and move when you need
concurrent writes; Django makes the switch a `DATABASE_URL` change plus a data copy.
""",
    """Here is one with GNU `find`, `sort` and `head` (turn {n}):

```bash
find /var/log -type f -printf '%s\\t%p\\n' 2>/dev/null \\
  | sort -nr \\
  | head -n 10 \\
  | numfmt --to=iec --field=1
```

What each part does:

- `-printf '%s\\t%p\\n'` prints the size in bytes, a tab, then the path.
- `sort -nr` sorts numerically, biggest first.
- `numfmt --to=iec` turns `1048576` into `1.0M`.

On macOS, `find` has no `-printf`; use `du -ah /var/log | sort -hr | head -n 10` instead,
which also counts folders.
""",
    """A **promise** is an object standing for a value that will exist later: it is *pending*,
then either *fulfilled* with a value or *rejected* with an error (turn {n}).

```javascript
function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function fetchTitle(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`HTTP ${response.status}`);
  }
  const html = await response.text();
  return html.match(/<title>(.*?)<\\/title>/)?.[1] ?? "(no title)";
}

delay(500)
  .then(() => fetchTitle("https://example.com"))
  .then((title) => console.log(title))
  .catch((error) => console.error("failed:", error));
```

`async`/`await` is syntax over the same objects: an `async` function always returns a
promise, and `await` pauses it until the promise settles. Use `Promise.all([...])` to wait
for several at once.
""",
)


def turn(n: int) -> tuple[str, str]:
    """The n-th (question, answer) pair."""
    i = n % len(ANSWERS)
    return QUESTIONS[i], ANSWERS[i].replace("{n}", str(n))
