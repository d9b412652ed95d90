"""The context budget: question, system prompt and files always go; oldest turns drop first."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_metadata.llm import estimate_tokens, fit_messages
from llm_metadata.llm.context import (
    CUT_MARKER,
    FILE_FOOTER,
    FILE_HEADER,
    MESSAGE_OVERHEAD,
    file_text_chars,
    message_tokens,
)

text = st.text(max_size=400)
turn = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]), "content": text})
files = st.lists(st.tuples(st.text(min_size=1, max_size=20), st.text(max_size=3000)), max_size=3)


def total(messages: list[dict[str, str]]) -> int:
    return sum(message_tokens(m) for m in messages)


def least_possible(system: str, question: str, attached: list[tuple[str, str]]) -> int:
    """Tokens of the system prompt plus the question with every file cut to nothing."""
    blocks = [
        FILE_HEADER.format(name=n)
        + CUT_MARKER.format(shown=len(t), total=len(t))
        + FILE_FOOTER.format(name=n)
        for n, t in attached
    ]
    last = estimate_tokens("\n\n".join([*blocks, question])) + MESSAGE_OVERHEAD
    return last + (estimate_tokens(system) + MESSAGE_OVERHEAD if system else 0)


def test_it_estimates_characters_over_four_rounded_up():
    assert [estimate_tokens("x" * n) for n in (0, 1, 4, 5, 8)] == [0, 1, 1, 2, 2]


def test_it_keeps_everything_that_fits_in_order():
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    fitted = fit_messages(
        system_prompt="Be brief.",
        history=history,
        question="And then?",
        files=[("notes.txt", "some notes")],
        context_length=8192,
        max_tokens=600,
    )
    assert fitted.truncated is False
    assert fitted.messages == [
        {"role": "system", "content": "Be brief."},
        *history,
        {
            "role": "user",
            "content": "--- file: notes.txt ---\nsome notes\n--- end of file: notes.txt ---"
            "\n\nAnd then?",
        },
    ]


def test_it_drops_the_oldest_turns_first_and_never_starts_with_an_answer():
    history = [
        {"role": "user", "content": "a" * 400},
        {"role": "assistant", "content": "b" * 40},
        {"role": "user", "content": "c" * 40},
        {"role": "assistant", "content": "d" * 40},
    ]
    fitted = fit_messages(
        system_prompt="", history=history, question="q", files=[], context_length=100, max_tokens=50
    )
    assert fitted.truncated is True
    assert fitted.messages == [*history[2:], {"role": "user", "content": "q"}]
    assert fitted.dropped == 2


def test_it_cuts_a_file_too_large_for_the_context_with_a_visible_marker():
    fitted = fit_messages(
        system_prompt="",
        history=[{"role": "user", "content": "old"}],
        question="Summarise.",
        files=[("big.txt", "z" * 100_000)],
        context_length=1000,
        max_tokens=200,
    )
    last = fitted.messages[-1]["content"]
    assert fitted.truncated and fitted.files_cut
    assert fitted.messages == [fitted.messages[-1]]
    assert "[… file cut here to fit the model's context: " in last
    assert "of 100000 characters shown]" in last
    assert last.endswith("Summarise.")
    assert total(fitted.messages) <= 800
    assert 2500 < file_text_chars(fitted.messages) < 3200


@settings(max_examples=300, deadline=None)
@given(
    system=st.text(max_size=300),
    history=st.lists(turn, max_size=12),
    question=st.text(min_size=1, max_size=300),
    attached=files,
    context_length=st.integers(min_value=1, max_value=4000),
    max_tokens=st.integers(min_value=1, max_value=1000),
)
def test_it_keeps_the_question_order_and_budget(
    system, history, question, attached, context_length, max_tokens
):
    fitted = fit_messages(
        system_prompt=system,
        history=history,
        question=question,
        files=attached,
        context_length=context_length,
        max_tokens=max_tokens,
    )
    messages = fitted.messages
    # The newest question always goes, last, and the system prompt first.
    assert messages[-1]["role"] == "user" and messages[-1]["content"].endswith(question)
    if system:
        assert messages[0] == {"role": "system", "content": system}
    # What is kept of the history is its newest part, in order.
    kept = messages[(1 if system else 0) : -1]
    assert kept == history[len(history) - len(kept) :]
    assert fitted.dropped == len(history) - len(kept)
    # Every file goes, whole or with the marker.
    for name, _ in attached:
        assert FILE_HEADER.format(name=name) in messages[-1]["content"]
    # The budget holds whenever it can be met.
    if least_possible(system, question, attached) <= context_length - max_tokens:
        assert total(messages) <= context_length - max_tokens
    assert fitted.truncated == (bool(fitted.dropped) or fitted.files_cut)


@settings(max_examples=100, deadline=None)
@given(history=st.lists(turn, max_size=8), question=st.text(min_size=1, max_size=100))
def test_it_keeps_all_history_when_the_context_is_large(history, question):
    fitted = fit_messages(
        system_prompt="",
        history=history,
        question=question,
        files=[],
        context_length=100_000,
        max_tokens=1000,
    )
    assert fitted.messages == [*history, {"role": "user", "content": question}]
    assert fitted.truncated is False
