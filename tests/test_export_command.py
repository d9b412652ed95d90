"""`manage.py export_messages`: formats, filters, output file, clear errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from llm_metadata import exports
from llm_metadata.models import Message
from tests.factories import make_conversation, make_turn


@pytest.fixture
def messages(alice: User, bob: User) -> None:
    make_turn(make_conversation(alice), "alice asks", "alice hears", model_name="alpha")
    make_turn(make_conversation(bob), "bob asks", "bob hears", model_name="beta")


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("export_messages", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_writes_csv_to_standard_output(messages: None) -> None:
    rows = list(csv.reader(io.StringIO(_run("--format", "csv").lstrip("\ufeff"))))
    assert tuple(rows[0]) == exports.CSV_HEADER
    assert [row[exports.CSV_HEADER.index("content")] for row in rows[1:]] == [
        "alice asks",
        "alice hears",
        "bob asks",
        "bob hears",
    ]


def test_it_filters_by_user_and_model(messages: None) -> None:
    lines = _run("--format", "jsonl", "--user", "bob").splitlines()
    assert [json.loads(line)["content"] for line in lines] == ["bob asks", "bob hears"]
    assert len(_run("--format", "jsonl", "--model", "alpha").splitlines()) == 2


def test_it_filters_by_date(messages: None) -> None:
    Message.objects.filter(content__startswith="alice").update(
        created=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    )
    lines = _run("--format", "jsonl", "--since", "2025-06-01").splitlines()
    assert [json.loads(line)["owner"] for line in lines] == ["bob", "bob"]


def test_it_writes_a_file_in_small_batches(messages: None, tmp_path: Path) -> None:
    target = tmp_path / "all.jsonl"
    err = io.StringIO()
    call_command(
        "export_messages",
        "--format",
        "jsonl",
        "--output",
        str(target),
        "--batch-size",
        "1",
        stderr=err,
    )
    assert len(target.read_text().splitlines()) == 4
    assert f"Wrote 4 messages to {target}" in err.getvalue()


def test_it_names_bad_arguments(messages: None) -> None:
    with pytest.raises(CommandError, match="No user named 'carol'"):
        _run("--user", "carol")
    with pytest.raises(CommandError, match="--since must be a date"):
        _run("--since", "last week")
