"""Uploads in S3: against moto's S3 server over real HTTP, configured through the environment
variables (AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, …) exactly as in production."""

from __future__ import annotations

import logging
import runpy
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from llm_metadata.models import Conversation, Message
from tests import s3_server
from tests.test_chat_page import ASK, form

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "main" / "settings.py"


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[s3_server.S3Server]:
    server = s3_server.start(tmp_path_factory.mktemp("s3") / "moto.log")
    yield server
    server.stop()


def storage_from_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict:
    """STORAGES["default"] as main/settings.py builds it from these variables."""
    with monkeypatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return runpy.run_path(str(SETTINGS_FILE))["STORAGES"]["default"]


@pytest.fixture
def bucket(s3: s3_server.S3Server, settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket, and the app's default storage pointed at it."""
    name = s3.new_bucket()
    default = storage_from_environment(monkeypatch, s3.env(name))
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    settings.STORAGES = {**settings.STORAGES, "default": default}
    return name


def upload(client: Client, name: str = "notes.md", data: bytes = b"# Notes\n") -> Message:
    client.post(ASK, form(file_upload=SimpleUploadedFile(name, data)))
    return Message.objects.filter(role="user").latest("created")


def test_it_stores_uploads_in_the_bucket_and_streams_them_to_their_owner_only(
    s3: s3_server.S3Server, bucket: str, alice_client: Client, bob_client: Client, fake_openai
) -> None:
    asked = upload(alice_client, data=b"# Notes\n" * 1000)
    assert s3.keys(bucket) == [asked.attachment.name]
    assert asked.attachment.name.startswith("attachments/")
    url = reverse("llm_metadata:attachment-download", args=[asked.pk])
    response = alice_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"# Notes\n" * 1000
    assert 'filename="notes.md"' in response["Content-Disposition"]
    assert bob_client.get(url).status_code == 404


def test_two_uploads_of_one_name_are_two_objects(
    s3: s3_server.S3Server, bucket: str, alice_client: Client, fake_openai
) -> None:
    first = upload(alice_client, data=b"first")
    second = upload(alice_client, data=b"second")
    assert first.attachment.name != second.attachment.name
    assert s3.keys(bucket) == sorted([first.attachment.name, second.attachment.name])
    assert second.attachment.read() == b"second"


def test_deleting_a_conversation_deletes_its_objects(
    s3: s3_server.S3Server,
    bucket: str,
    alice: User,
    alice_client: Client,
    fake_openai,
    django_capture_on_commit_callbacks,
) -> None:
    asked = upload(alice_client)
    other = upload(alice_client, "other.md")
    assert len(s3.keys(bucket)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            reverse("llm_metadata:conversation-delete", args=[asked.conversation_id])
        )
    assert response.status_code == 302
    assert not Conversation.objects.filter(owner=alice).exists()
    assert s3.keys(bucket) == []
    assert other.conversation_id == asked.conversation_id


def test_an_object_gone_from_the_bucket_is_a_404(
    s3: s3_server.S3Server, bucket: str, alice_client: Client, fake_openai
) -> None:
    asked = upload(alice_client)
    s3.client().delete_object(Bucket=bucket, Key=asked.attachment.name)
    url = reverse("llm_metadata:attachment-download", args=[asked.pk])
    assert alice_client.get(url).status_code == 404


def test_a_storage_that_fails_on_delete_is_logged_and_the_rows_still_go(
    s3: s3_server.S3Server,
    bucket: str,
    settings,
    monkeypatch: pytest.MonkeyPatch,
    alice_client: Client,
    fake_openai,
    django_capture_on_commit_callbacks,
    llm_log: pytest.LogCaptureFixture,
) -> None:
    asked = upload(alice_client)
    # The storage stops answering: an endpoint where nothing listens.
    dead = {**s3.env(bucket), "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": storage_from_environment(monkeypatch, dead),
    }
    delete = reverse("llm_metadata:conversation-delete", args=[asked.conversation_id])
    with (
        llm_log.at_level(logging.ERROR, logger="llm_metadata"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = alice_client.post(delete)
    assert response.status_code == 302
    assert not Message.objects.filter(pk=asked.pk).exists()
    assert f"could not delete the stored file {asked.attachment.name}" in llm_log.text
    assert s3.keys(bucket) == [asked.attachment.name]  # left for the operator, and said so
