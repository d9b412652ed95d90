"""The line buffering both stream parsers share: any line end, any split, the same lines."""

from __future__ import annotations

import asyncio

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_metadata.llm import Endpoint, achat, transport
from llm_metadata.llm.lines import LineSplitter
from tests.test_llm_sse import REQUEST, split

NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])
CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)
LINES = st.lists(st.text(st.characters(exclude_characters="\r\n"), max_size=20), max_size=8)


@given(lines=LINES, newline=NEWLINES, cuts=CUTS, ended=st.booleans())
def test_it_gives_back_the_lines_however_the_bytes_were_split(lines, newline, cuts, ended):
    body = newline.join(lines) + (newline if ended and lines else "")
    splitter = LineSplitter()
    found = [line for chunk in split(body.encode(), cuts) for line in splitter.feed(chunk)]
    if splitter.rest:
        found.append(splitter.rest)
    expected = body.encode().splitlines()
    # An unterminated empty last line is no line; a terminated one is kept (as splitlines does).
    assert found == expected


def test_it_holds_a_cr_at_a_chunk_end_until_it_knows_whether_a_lf_follows():
    splitter = LineSplitter()
    assert splitter.feed(b"one\r") == [b"one"]
    assert splitter.feed(b"\ntwo\r") == [b"two"]
    assert splitter.feed(b"three\n") == [b"three"]
    assert splitter.rest == b""


RECORDS = [
    {"model": "m", "message": {"role": "assistant", "content": "Bon"}, "done": False},
    {"model": "m", "message": {"role": "assistant", "content": "jour ✓"}, "done": False},
    {
        "model": "m",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 3,
        "eval_count": 2,
    },
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(newline=NEWLINES, cuts=CUTS, ended=st.booleans())
def test_ollama_reads_ndjson_split_anywhere_with_any_line_end(monkeypatch, newline, cuts, ended):
    text = newline.join(orjson.dumps(record).decode() for record in RECORDS)
    chunks = split((text + (newline if ended else "")).encode(), cuts)

    async def body():
        for chunk in chunks:
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, content=body())

    client = httpx.AsyncClient(base_url="http://llm.test", transport=httpx.MockTransport(handler))
    monkeypatch.setattr(transport, "get_client", lambda endpoint: client)
    result = asyncio.run(achat(Endpoint(url="http://llm.test", kind="ollama"), REQUEST))
    assert (result.status, result.text) == ("ok", "Bonjour ✓")
    assert (result.prompt_tokens, result.completion_tokens, result.finish_reason) == (3, 2, "stop")
