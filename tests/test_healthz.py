from __future__ import annotations

import pytest
from django.db import OperationalError, connection
from django.urls import reverse


@pytest.mark.django_db
def test_it_reports_ok_when_the_database_answers(client):
    response = client.get(reverse("llm_metadata:healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_reports_503_without_details_when_the_database_fails(client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("could not connect to server: secret-host:5432")

    monkeypatch.setattr(connection, "cursor", unreachable)
    response = client.get(reverse("llm_metadata:healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error"}
    assert b"secret-host" not in response.content


@pytest.mark.django_db
def test_it_accepts_only_safe_methods(client):
    assert client.post(reverse("llm_metadata:healthz")).status_code == 405
