"""Browser sessions end after 30 minutes without a request and 8 hours after sign-in, whatever
the activity; API keys are not sessions."""

from __future__ import annotations

import time

import pytest

from finance.middleware import SESSION_SEEN_KEY, SESSION_STARTED_KEY

pytestmark = pytest.mark.django_db


def shift(client, **seconds_ago: int) -> None:
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[{"started": SESSION_STARTED_KEY, "seen": SESSION_SEEN_KEY}[key]] = now - ago
    session.save()


def test_signing_in_starts_both_clocks_and_activity_keeps_the_session(client, org, members):
    client.force_login(members["owner"])
    assert client.session[SESSION_STARTED_KEY] >= int(time.time()) - 5
    shift(client, seen=29 * 60)
    assert client.get("/customers/").status_code == 200
    assert client.session[SESSION_SEEN_KEY] >= int(time.time()) - 5  # the request counted


def test_thirty_minutes_without_a_request_signs_out(client, org, members):
    client.force_login(members["owner"])
    shift(client, seen=31 * 60)
    response = client.get("/customers/?q=x")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "next=/customers/%3Fq%3Dx" in response["Location"]
    assert client.get("/customers/").status_code == 302  # really signed out


def test_eight_hours_after_sign_in_signs_out_however_active(client, org, members):
    client.force_login(members["owner"])
    shift(client, started=8 * 3600 + 10, seen=10)
    assert client.get("/customers/").status_code == 302


def test_an_expired_session_on_the_api_or_htmx_gets_401(client, org, members):
    client.force_login(members["owner"])
    shift(client, seen=31 * 60)
    response = client.get("/api/v1/customers/")
    assert response.status_code == 401
    client.force_login(members["owner"])
    shift(client, seen=31 * 60)
    assert client.get("/customers/", headers={"HX-Request": "true"}).status_code == 401


def test_api_keys_are_not_sessions(api):
    assert api.get("/api/v1/customers/").status_code == 200
