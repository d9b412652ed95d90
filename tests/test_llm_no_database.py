"""`llm/` knows HTTP and nothing else: it imports nothing of the app and makes no query.

These tests have no `db` mark, so pytest-django blocks every database access; each one first
shows that a query fails here, then drives the package against the fake servers.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from llm_metadata.llm import ChatRequest, achat, chat, list_models, stream_chat
from llm_metadata.models import ModelProfile

pytestmark = pytest.mark.usefixtures("llm_clients")

PACKAGE = Path(__file__).resolve().parent.parent / "llm_metadata" / "llm"
# What the package may import besides itself and the standard library.
ALLOWED = {"asgiref", "httpx", "orjson"}
NO_DATABASE = "Database access not allowed"


def imported_roots(path: Path) -> set[str]:
    """Top-level names a module imports; `from ..x` (out of the package) counts as the app."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            roots.add("llm_metadata")
    return roots


def ask() -> ChatRequest:
    return ChatRequest(
        model="fake-small",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        temperature=0.2,
        top_k=10,
        top_p=0.9,
        max_tokens=50,
        context_length=2048,
    )


@pytest.fixture(params=["fake_openai", "fake_ollama"])
def fake(request):
    return request.getfixturevalue(request.param)


def test_it_imports_neither_django_nor_the_app():
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 8
    for module in modules:
        foreign = imported_roots(module) - ALLOWED - sys.stdlib_module_names
        assert foreign == set(), f"{module.name} imports {foreign}"
    assert imported_roots(Path(__file__).parent.parent / "llm_metadata" / "catalog.py") >= {
        "django"
    }  # the walk does see imports: the app side's catalogue uses Django


def test_a_query_fails_in_these_tests():
    with pytest.raises(RuntimeError, match=NO_DATABASE):
        ModelProfile.objects.count()


async def test_it_streams_an_answer_without_the_database(fake):
    with pytest.raises(RuntimeError, match=NO_DATABASE):
        await ModelProfile.objects.acount()  # asgiref's worker thread is blocked too
    stream = stream_chat(fake.endpoint(), ask())
    assert "".join([text async for text in stream]) == "The capital of France is Paris."
    assert (await stream.aclose()).completion_tokens == 6
    sent = fake.state.last["body"]
    if fake.state.kind == "ollama":  # the context length came in the request, not from a table
        assert sent["options"]["num_ctx"] == 2048


async def test_it_reports_a_failure_without_the_database(fake):
    with pytest.raises(RuntimeError, match=NO_DATABASE):
        await ModelProfile.objects.acount()
    fake.state.mode = "cut"
    ended = await achat(fake.endpoint(), ask())
    assert (ended.status, ended.text) == ("error", "The capital")
    assert "lost before the answer was complete" in ended.error


def test_it_answers_sync_callers_and_lists_models_without_the_database(fake):
    with pytest.raises(RuntimeError, match=NO_DATABASE):
        ModelProfile.objects.count()
    assert chat(fake.endpoint(), ask()).text == "The capital of France is Paris."
    assert list_models(fake.endpoint()) == ["fake-small", "fake-large"]
