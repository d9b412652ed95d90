"""Fitting a turn into the model's context window.

The system prompt, every attached file's text (cut with a visible marker when too large) and the
newest question always go; the oldest turns drop first to make room.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4  # role and separators a chat template adds around each message
FILE_HEADER = "--- file: {name} ---\n"
FILE_FOOTER = "\n--- end of file: {name} ---"
CUT_MARKER = "\n[… file cut here to fit the model's context: {shown} of {total} characters shown]"
_FILE_BLOCK = re.compile(r"--- file: (.*?) ---\n(.*?)\n--- end of file: \1 ---", re.DOTALL)
_CUT = re.compile(r"\n\[… file cut here to fit the model's context: \d+ of \d+ characters shown\]$")


def estimate_tokens(text: str) -> int:
    """Tokens in `text`, estimated as characters / 4 rounded up (no tokenizer files needed)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def message_tokens(message: dict[str, str]) -> int:
    """Estimated tokens of one chat message, its template overhead included."""
    return estimate_tokens(message["content"]) + MESSAGE_OVERHEAD


@dataclass(frozen=True, slots=True)
class FittedMessages:
    """The messages to send; `truncated` when earlier turns were left out or a file was cut."""

    messages: list[dict[str, str]]
    truncated: bool
    dropped: int = 0
    files_cut: bool = False


def fit_messages(
    *,
    system_prompt: str,
    history: list[dict[str, str]],
    question: str,
    files: list[tuple[str, str]],
    context_length: int,
    max_tokens: int,
) -> FittedMessages:
    """Messages for one call within `context_length - max_tokens` estimated tokens."""
    budget = context_length - max_tokens
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    room = budget - sum(message_tokens(m) for m in system)
    content, files_cut = _question_with_files(question, files, room)
    final = {"role": "user", "content": content}
    room -= message_tokens(final)
    start = len(history)
    while start > 0 and message_tokens(history[start - 1]) <= room:
        start -= 1
        room -= message_tokens(history[start])
    if start > 0:
        # What the model sees starts with a question, not with an answer to a dropped one.
        while start < len(history) and history[start]["role"] == "assistant":
            start += 1
    return FittedMessages(
        messages=[*system, *history[start:], final],
        truncated=start > 0 or files_cut,
        dropped=start,
        files_cut=files_cut,
    )


def _question_with_files(
    question: str, files: list[tuple[str, str]], room: int
) -> tuple[str, bool]:
    """The last user message: each file in a labelled block, then the question."""
    full = _join(question, files)
    if not files or estimate_tokens(full) + MESSAGE_OVERHEAD <= room:
        return full, False
    # Everything but the file texts, with the longest marker each file could need.
    frame = _join(
        question, [(name, CUT_MARKER.format(shown=len(t), total=len(t))) for name, t in files]
    )
    allowed = max(0, (room - MESSAGE_OVERHEAD) * CHARS_PER_TOKEN - len(frame))
    cap = _water_level([len(text) for _, text in files], allowed)
    return _join(question, [(name, _cut(text, cap)) for name, text in files]), True


def _cut(text: str, cap: int) -> str:
    """`text` if it has at most `cap` characters, else its start with the cut marker."""
    if len(text) <= cap:
        return text
    return text[:cap] + CUT_MARKER.format(shown=cap, total=len(text))


def _join(question: str, files: list[tuple[str, str]]) -> str:
    """Each (name, text) in a labelled block, then the question."""
    blocks = [FILE_HEADER.format(name=n) + text + FILE_FOOTER.format(name=n) for n, text in files]
    return "\n\n".join([*blocks, question])


def _water_level(lengths: list[int], allowed: int) -> int:
    """The largest per-file cap such that the capped lengths add up to at most `allowed`."""
    remaining = allowed
    ordered = sorted(lengths)
    for index, length in enumerate(ordered):
        left = len(ordered) - index
        if length * left > remaining:
            return remaining // left
        remaining -= length
    return ordered[-1] if ordered else 0


def file_text_chars(messages: list[dict[str, str]]) -> int:
    """Characters of attached file text inside messages built by fit_messages."""
    return sum(
        len(_CUT.sub("", match.group(2)))
        for m in messages
        for match in _FILE_BLOCK.finditer(m["content"])
    )
