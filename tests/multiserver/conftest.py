"""The multi-server tests: marked `multiserver`, run only when DATABASE_URL is PostgreSQL.

Two app servers cannot share a SQLite file the way servers share a database, so on SQLite these
tests are deselected at collection (marked `postgresql`; the run's header says so), never
skipped; CI runs them in its PostgreSQL pass. They need HAProxy (`make haproxy`), Redis on
127.0.0.1:6379 and moto's S3 server (requirements-dev.txt); a missing one fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import s3_server
from tests.e2e.processes import FakeLLM, e2e_database, free_port, start_fake_llm, stop

from .cluster import AppServer, Cluster, cluster_env, start_haproxy

HERE = Path(__file__).parent
PASSWORD = "multi-Server-Horse-42"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests here are marked `multiserver` and `postgresql`; the second mark has them
    deselected on SQLite by the root conftest (this hook runs first)."""
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.multiserver)
            item.add_marker(pytest.mark.postgresql)


def _forget_redis_keys(prefix: str) -> None:
    import redis

    from .cluster import REDIS_URL

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("multiserver")
    database_url, drop_database = e2e_database(folder, "multiserver")
    s3 = s3_server.start(folder / "moto.log")
    fake: FakeLLM | None = None
    servers: dict[str, AppServer] = {}
    haproxy = None
    prefix = ""
    try:
        fake = start_fake_llm()
        bucket = s3.new_bucket()
        env, prefix = cluster_env(folder, database_url, fake, s3, bucket)
        for name in ("a", "b"):
            port = free_port()
            servers[name] = AppServer(
                name, port, {**env, "PORT": str(port)}, folder / f"server-{name}.log"
            )
        cluster = Cluster(
            servers=servers,
            folder=folder,
            database_url=database_url,
            s3=s3,
            bucket=bucket,
            fake_llm=fake,
            cache_prefix=prefix,
        )
        cluster.manage("migrate", "--noinput", "-v", "0")
        cluster.manage("collectstatic", "--noinput", "-v", "0")
        for server in servers.values():
            server.start()
        for server in servers.values():
            server.wait_healthy()
        haproxy, cluster.url = start_haproxy(folder, servers)
        cluster.haproxy = haproxy
        yield cluster
    finally:
        if haproxy is not None:
            haproxy.kill()
            haproxy.wait()
        for server in servers.values():
            server.stop()
        if fake is not None:
            stop(fake.process)
        s3.stop()
        if prefix:
            _forget_redis_keys(prefix)
        drop_database()


@pytest.fixture
def user(cluster: Cluster) -> str:
    """A new user in the cluster's database (its password is PASSWORD)."""
    name = f"user{os.urandom(5).hex()}"
    cluster.shell(
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user({name!r}, {name + '@example.com'!r}, {PASSWORD!r})"
    )
    return name


@pytest.fixture
def fake_llm(cluster: Cluster) -> Iterator[FakeLLM]:
    """The cluster's fake LLM, reset to its defaults (80 ms between tokens) for each test."""
    cluster.fake_llm.reset()
    yield cluster.fake_llm
    cluster.fake_llm.reset()
