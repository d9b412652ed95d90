import pytest


@pytest.mark.django_db
def test_it_serves_landing_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Sign up" in response.content
