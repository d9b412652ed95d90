"""Two app servers behind HAProxy serve one user as one app, and losing one loses nothing else.

A per-user limit is counted once across both servers (the calls a minute, in Redis), as is
allauth's failed-login limit.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from .cluster import GRACEFUL_TIMEOUT, Cluster
from .conftest import PASSWORD
from .visitor import FORM, Stream, Visitor

WAIT = 60.0  # seconds: generous bounds for a loaded 2-core machine; no test asserts durations


@pytest.fixture
def visitor(cluster: Cluster, user: str) -> Iterator[Visitor]:
    """`user`, signed in through the balancer."""
    visitor = Visitor(cluster.url)
    assert visitor.sign_in(user, PASSWORD).status_code == 302
    yield visitor
    visitor.close()


def stored(cluster: Cluster, conversation_ids: list[str]) -> dict[str, list[list]]:
    """Each conversation's messages in the cluster's database: [role, status, content]."""
    code = (
        "import json; from llm_metadata.models import Message; "
        f"ids = {conversation_ids!r}; rows = {{i: [] for i in ids}}; "
        "[rows[str(m.conversation_id)].append([m.role, m.status, m.content]) "
        "for m in Message.objects.filter(conversation_id__in=ids).order_by('created', 'id')]; "
        "print(json.dumps(rows))"
    )
    return json.loads(cluster.shell(code))


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def conversation_of(stream: Stream) -> str:
    return stream.events[0].data["conversation_id"]


class Reader(threading.Thread):
    """Reads one stream to its end in the background; `error` holds how it broke, if it did."""

    def __init__(self, stream: Stream) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            for _ in self.stream.read():
                pass
        except httpx.HTTPError as exc:
            self.error = exc

    def deltas(self) -> int:
        return sum(1 for event in self.stream.events if event.name == "delta")


def test_a_user_signed_in_through_one_server_chats_through_the_other(
    cluster: Cluster, user: str, fake_llm
) -> None:
    visitor = Visitor(cluster.url)
    signed_in = visitor.sign_in(user, PASSWORD)
    assert signed_in.status_code == 302
    token = visitor.csrf_token("/ask/")
    visitor.next_to(signed_in.headers["X-Served-By"])
    with visitor.stream("What is the capital of France?", token=token) as stream:
        events = [event.name for event in stream.read()]
    assert stream.served_by != signed_in.headers["X-Served-By"]
    assert events[0] == "meta" and events[-1] == "done"
    assert stream.text == "The capital of France is Paris."
    rows = stored(cluster, [conversation_of(stream)])[conversation_of(stream)]
    assert rows == [
        ["user", "ok", "What is the capital of France?"],
        ["assistant", "ok", "The capital of France is Paris."],
    ]


def test_a_file_uploaded_through_one_server_is_read_back_through_the_other(
    cluster: Cluster, visitor: Visitor, fake_llm
) -> None:
    data = b"city,country\nParis,France\n" * 500
    token = visitor.csrf_token("/ask/")
    posted = visitor.http.post(
        "/ask/",
        data={
            "csrfmiddlewaretoken": token,
            "question": "Which cities?",
            "model": "fake-small",
            "temperature": "0.5",
            "top_k": "40",
            "top_p": "0.9",
            "max_tokens": "100",
            "conversation": "",
        },
        files={"file_upload": ("cities.csv", data, "text/csv")},
    )
    assert posted.status_code == 302
    uploaded_by = posted.headers["X-Served-By"]
    page = visitor.get("/ask/").text
    link = re.search(r'href="(/attachment/\d+/)"', page)
    assert link, "the chat page links the attachment"
    visitor.next_to(uploaded_by)
    download = visitor.get(link.group(1))
    assert download.status_code == 200
    assert download.headers["X-Served-By"] != uploaded_by
    assert download.content == data
    assert any(key.endswith("cities.csv") for key in cluster.s3.keys(cluster.bucket))


def test_stop_mid_stream_keeps_the_partial_answer_as_cancelled(
    cluster: Cluster, visitor: Visitor, fake_llm
) -> None:
    fake_llm.configure(tokens=300)  # about 24 s: far longer than the test reads
    with visitor.stream("Tell me everything.") as stream:
        for _ in stream.read():
            if sum(1 for e in stream.events if e.name == "delta") >= 3:
                break
        seen = stream.text
    # Leaving the block closed the connection: the browser's Stop.
    conversation = conversation_of(stream)

    def answer_stored() -> bool:
        return len(stored(cluster, [conversation])[conversation]) == 2

    wait_for(answer_stored, "the cancelled answer")
    (_, _, asked), (role, status, text) = stored(cluster, [conversation])[conversation]
    assert (asked, role, status) == ("Tell me everything.", "assistant", "cancelled")
    assert text.startswith(seen) and len(text) < len(" lorem") * 300


def test_failed_logins_are_counted_once_across_both_servers(cluster: Cluster, user: str) -> None:
    """allauth allows 5 failed logins per account in 5 minutes (settings.ACCOUNT_RATE_LIMITS),
    counted in the shared cache: spread over two servers of two workers each, still 5."""
    visitor = Visitor(cluster.url)
    token = visitor.csrf_token("/accounts/login/")
    served = set()
    for _ in range(5):
        failed = visitor.sign_in(user, "not-the-password", token=token)
        assert failed.status_code == 200
        assert "The username and/or password you specified are not correct" in failed.text
        served.add(failed.headers["X-Served-By"])
    assert served == {"a", "b"}
    # The right password, after five failures:
    refused = visitor.sign_in(user, PASSWORD, token=token)
    assert refused.status_code != 302
    assert "Too many failed login attempts" in refused.text


def test_a_users_rate_limit_is_counted_once_across_both_servers(
    cluster: Cluster, user: str, visitor: Visitor, fake_llm
) -> None:
    """The user's own limit of 3 calls a minute: 3 streams through the balancer (they alternate
    between the servers), then each server refuses the next with 429, and the fake LLM was
    asked 3 times."""
    cluster.shell(
        "from django.contrib.auth.models import User; "
        "from llm_metadata.limits_models import UserLimit; "
        f"UserLimit.objects.create(user=User.objects.get(username={user!r}), "
        "rate_limit_per_minute=3)"
    )
    fake_llm.configure(delay=0.0)
    if time.time() % 60 > 40:  # all within one minute's window
        time.sleep(61 - time.time() % 60)
    token = visitor.csrf_token("/ask/")

    def chats() -> int:
        return sum(1 for r in fake_llm.requests() if r["path"].endswith("/chat/completions"))

    before = chats()
    admitted = set()
    for n in range(3):
        with visitor.stream(f"Question {n}", token=token) as stream:
            for _ in stream.read():
                pass
            assert stream.events[-1].name == "done"
            admitted.add(stream.served_by)
    assert admitted == {"a", "b"}
    refused_by = set()
    for _ in range(2):
        data = {**FORM, "question": "One more?", "max_tokens": "600", "conversation": ""}
        refused = visitor.http.post("/ask/stream/", data=data, headers={"X-CSRFToken": token})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "limit of 3 model calls a minute" in refused.json()["message"]
        refused_by.add(refused.headers["X-Served-By"])
    assert refused_by == {"a", "b"}
    assert chats() - before == 3


def test_a_server_killed_mid_stream_loses_only_its_own_streams(
    cluster: Cluster, visitor: Visitor, fake_llm
) -> None:
    fake_llm.configure(tokens=60)  # about 5 s each
    token = visitor.csrf_token("/ask/")
    with ExitStack() as open_streams:
        streams = [
            open_streams.enter_context(visitor.twin().stream(f"Question {i}", token=token))
            for i in range(4)
        ]
        assert {stream.served_by for stream in streams} == {"a", "b"}
        readers = [Reader(stream) for stream in streams]
        for reader in readers:
            reader.start()
        wait_for(lambda: all(r.deltas() >= 2 for r in readers), "every stream under way")
        victim = streams[0].served_by
        try:
            cluster.servers[victim].signal(signal.SIGKILL)
            # The balancer sends the next request to the server still up.
            assert visitor.get("/ask/").status_code == 200
            for reader in readers:
                reader.join(WAIT)
        finally:
            cluster.servers[victim].wait_stopped(timeout=WAIT)
    try:
        for reader in readers:
            assert not reader.is_alive()
            if reader.stream.served_by == victim:
                assert reader.error is not None  # the client sees the connection break
                assert reader.stream.last != "done"
            else:
                assert reader.error is None
                assert reader.stream.last == "done"
                assert reader.stream.text == "".join(
                    [" lorem", " ipsum", " dolor", " sit", " amet", ","][i % 6] for i in range(60)
                )
        conversations = [conversation_of(reader.stream) for reader in readers]
        rows = stored(cluster, conversations)
        for reader, conversation in zip(readers, conversations, strict=True):
            assert rows[conversation][0][:2] == ["user", "ok"]  # every question is kept
            if reader.stream.served_by != victim:
                assert rows[conversation][1][:2] == ["assistant", "ok"]
    finally:
        cluster.restart(victim)


def test_sigterm_finishes_running_streams_cancels_the_overlong_and_loses_no_new_request(
    cluster: Cluster, visitor: Visitor, fake_llm
) -> None:
    token = visitor.csrf_token("/ask/")
    fake_llm.configure(tokens=15)  # about 1.2 s: finishes within the graceful timeout
    with ExitStack() as open_streams:
        short = [
            open_streams.enter_context(visitor.twin().stream(f"Short {i}", token=token))
            for i in range(2)
        ]
        readers = [Reader(stream) for stream in short]
        for reader in readers:
            reader.start()
        # Their calls have reached the fake LLM (which fixes a reply's length when called).
        wait_for(lambda: all(r.deltas() >= 1 for r in readers), "the short streams under way")
        fake_llm.configure(tokens=400)  # about 32 s: longer than the graceful timeout
        overlong = open_streams.enter_context(visitor.twin().stream("Long", token=token))
        readers.append(Reader(overlong))
        readers[-1].start()
        wait_for(lambda: readers[-1].deltas() >= 1, "the long stream under way")
        assert {short[0].served_by, short[1].served_by} == {"a", "b"}
        draining = cluster.servers[overlong.served_by]
        try:
            draining.signal(signal.SIGTERM)
            fake_llm.configure(tokens=5)
            # New requests while one server drains: none is lost.
            for _ in range(6):
                assert visitor.get("/ask/").status_code == 200
            with visitor.stream("Asked during the drain", token=token) as during:
                assert [e.name for e in during.read()][-1] == "done"
            assert draining.wait_stopped(timeout=GRACEFUL_TIMEOUT + WAIT) == 0
            for reader in readers:
                reader.join(WAIT)
        finally:
            if draining.process is not None and draining.process.poll() is None:
                draining.signal(signal.SIGKILL)
    try:
        for reader in readers[:2]:
            assert reader.error is None and reader.stream.last == "done"
        assert readers[2].stream.last != "done"  # cut when the graceful timeout ran out
        conversation = conversation_of(overlong)

        def answer_stored() -> bool:
            return len(stored(cluster, [conversation])[conversation]) == 2

        wait_for(answer_stored, "the overlong answer's row")
        (_, _, _), (role, status, text) = stored(cluster, [conversation])[conversation]
        assert (role, status) == ("assistant", "cancelled")
        assert text.startswith(overlong.text) and text
    finally:
        cluster.restart(draining.name)
