"""DATABASE_REPLICA_URL: analytics and the bulk export read from the replica, every write goes to
the primary, and without it everything reads the primary. A second database stands in for the
replica (PostgreSQL in a PostgreSQL run, SQLite files otherwise) holding other rows than the
primary, so that which one was read shows in the figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import e2e_database

ROOT = Path(__file__).resolve().parent.parent


def _run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_REPLICA_URL": "", **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(primary, replica) URLs of two new databases, migrated and seeded differently."""
    folder = tmp_path_factory.mktemp("replica")
    (primary, drop_primary), (replica, drop_replica) = (
        e2e_database(folder, role) for role in ("primary", "replica")
    )
    try:
        for url, model, turns in ((primary, "primary-model", 1), (replica, "replica-model", 3)):
            _run({"DATABASE_URL": url}, "manage.py", "migrate", "-v", "0")
            _run(
                {"DATABASE_URL": url},
                "-m",
                "tests.workers.replica_probe",
                "seed",
                model,
                str(turns),
            )
        yield primary, replica
    finally:
        drop_primary()
        drop_replica()


def probe(env: dict[str, str]) -> dict:
    return json.loads(_run(env, "-m", "tests.workers.replica_probe", "probe"))


def test_analytics_and_exports_read_the_replica_and_writes_go_to_the_primary(
    databases: tuple[str, str],
) -> None:
    primary, replica = databases
    seen = probe({"DATABASE_URL": primary, "DATABASE_REPLICA_URL": replica})
    assert seen["analytics"] == ["replica-model"]
    assert seen["answers"] == 3
    assert seen["export_models"] == ["replica-model"]
    assert seen["export_rows"] == 6
    assert seen["new_conversations"] == {"default": 1, "replica": 0}


def test_without_a_replica_everything_reads_the_primary(databases: tuple[str, str]) -> None:
    primary, _ = databases
    seen = probe({"DATABASE_URL": primary})
    assert seen["analytics"] == ["primary-model"]
    assert seen["export_models"] == ["primary-model"]
    assert seen["export_rows"] == 2
    assert seen["new_conversations"] == {"default": 1}
