"""Settings for several workers and servers: the shared cache, sessions, object storage, the
read replica and PgBouncer, each switched on by its environment variable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.test_settings import load_settings

SCALE_VARIABLES = (
    "REDIS_URL",
    "CACHE_KEY_PREFIX",
    "DATABASE_REPLICA_URL",
    "DATABASE_PGBOUNCER",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)


def scale_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for name in SCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return load_settings(monkeypatch, **env)


def test_without_redis_the_cache_is_a_database_table_and_sessions_the_database(monkeypatch):
    values = scale_settings(monkeypatch)
    cache = values["CACHES"]["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert cache["LOCATION"] == values["CACHE_TABLE"]
    assert "SESSION_ENGINE" not in values  # Django's default: database sessions


def test_redis_url_switches_the_cache_to_redis_and_sessions_to_cached_db(monkeypatch):
    values = scale_settings(
        monkeypatch, REDIS_URL="redis://cache.internal:6379/2", CACHE_KEY_PREFIX="llm"
    )
    cache = values["CACHES"]["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://cache.internal:6379/2"
    assert cache["KEY_PREFIX"] == "llm"
    assert values["SESSION_ENGINE"] == "django.contrib.sessions.backends.cached_db"


def test_it_refuses_a_redis_url_of_another_scheme(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        scale_settings(monkeypatch, REDIS_URL="http://cache.internal:6379")


def test_a_bucket_name_stores_uploads_in_s3_privately(monkeypatch):
    values = scale_settings(
        monkeypatch,
        AWS_STORAGE_BUCKET_NAME="uploads",
        AWS_S3_ENDPOINT_URL="https://s3.internal:9000/",
        AWS_ACCESS_KEY_ID="id",
        AWS_SECRET_ACCESS_KEY="secret",
    )
    storage = values["STORAGES"]["default"]
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "uploads"
    assert options["endpoint_url"] == "https://s3.internal:9000"
    assert (options["access_key"], options["secret_key"]) == ("id", "secret")
    assert options["default_acl"] == "private"
    assert options["file_overwrite"] is False
    local = scale_settings(monkeypatch)["STORAGES"]["default"]
    assert local["BACKEND"] == "django.core.files.storage.FileSystemStorage"


def test_it_refuses_an_s3_endpoint_that_is_not_a_url(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="AWS_S3_ENDPOINT_URL"):
        scale_settings(monkeypatch, AWS_STORAGE_BUCKET_NAME="b", AWS_S3_ENDPOINT_URL="s3.internal")


def test_a_replica_url_adds_the_replica_alias_with_the_same_pool(monkeypatch):
    values = scale_settings(
        monkeypatch,
        DATABASE_URL="postgres://u@primary.internal/app",
        DATABASE_REPLICA_URL="postgres://u@replica.internal/app",
    )
    replica = values["DATABASES"]["replica"]
    assert replica["HOST"] == "replica.internal"
    assert replica["OPTIONS"]["pool"] == values["DATABASES"]["default"]["OPTIONS"]["pool"]
    assert replica["TEST"] == {"MIRROR": "default"}
    assert "replica" not in scale_settings(monkeypatch)["DATABASES"]


def test_it_refuses_a_malformed_replica_url(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_REPLICA_URL"):
        scale_settings(monkeypatch, DATABASE_REPLICA_URL="nosuchdb://x/y")


def test_pgbouncer_turns_off_server_side_cursors_and_prepared_statements(monkeypatch):
    url = "postgres://u@pgbouncer.internal:6432/app"
    plain = scale_settings(monkeypatch, DATABASE_URL=url)["DATABASES"]["default"]
    assert plain["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert "prepare_threshold" not in plain["OPTIONS"]
    bounced = scale_settings(monkeypatch, DATABASE_URL=url, DATABASE_PGBOUNCER="1")
    database = bounced["DATABASES"]["default"]
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert database["OPTIONS"]["prepare_threshold"] is None
