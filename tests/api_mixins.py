"""Shared API checks, one class per resource: list, detail, create, update, the outsider's 404,
bad input's 400 (nothing written), and a query count that does not grow with the page size."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import connection
from django.test.utils import CaptureQueriesContext

from finance import tenancy


class ApiResourceChecks:
    url: ClassVar[str]  # e.g. "/api/v1/customers/"
    model: ClassVar[Any]
    writable: ClassVar[bool] = True
    updatable: ClassVar[bool] = True

    # Subclasses implement these three (as plain methods taking the fixtures they need).
    def make(self, org: Any, n: int = 0) -> Any:  # noqa: D102
        raise AssertionError("subclass must implement make()")

    def create_payload(self, org: Any) -> dict[str, Any]:
        raise AssertionError("subclass must implement create_payload()")

    def invalid_payloads(self, org: Any, outsider_org: Any) -> list[dict[str, Any]]:
        raise AssertionError("subclass must implement invalid_payloads()")

    update_payload: ClassVar[dict[str, Any]] = {}

    def count(self, org: Any) -> int:
        with tenancy.tenant(org):
            return self.model.objects.count()

    def test_list_has_results_and_next(self, api, org):
        for n in range(3):
            self.make(org, n)
        response = api.get(self.url, {"page_size": 2})
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body["results"]) == 2
        assert body["next"]
        second = api.get(body["next"])
        assert second.status_code == 200
        ids = {r["id"] for r in body["results"]} | {r["id"] for r in second.json()["results"]}
        assert len(ids) >= 3

    def test_detail(self, api, org):
        obj = self.make(org)
        response = api.get(f"{self.url}{obj.pk}/")
        assert response.status_code == 200
        assert response.json()["id"] == obj.pk

    def test_create(self, api, org):
        if not self.writable:
            return
        before = self.count(org)
        response = api.post(self.url, self.create_payload(org), format="json")
        assert response.status_code == 201, response.content
        assert self.count(org) == before + 1
        assert response.json()["id"]

    def test_update(self, api, org):
        if not (self.writable and self.updatable and self.update_payload):
            return
        obj = self.make(org)
        response = api.patch(f"{self.url}{obj.pk}/", self.update_payload, format="json")
        assert response.status_code == 200, response.content
        for field, value in self.update_payload.items():
            assert response.json()[field] == value

    def test_another_organizations_object_is_a_404(self, api, outsider_org):
        theirs = self.make(outsider_org)
        assert api.get(f"{self.url}{theirs.pk}/").status_code == 404
        if self.writable and self.updatable:
            assert (
                api.patch(f"{self.url}{theirs.pk}/", self.update_payload or {}, format="json").status_code
                == 404
            )
        listed = api.get(self.url, {"page_size": 500}).json()["results"]
        assert theirs.pk not in {r["id"] for r in listed}

    def test_bad_input_is_a_400_and_writes_nothing(self, api, org, outsider_org):
        if not self.writable:
            return
        for payload in self.invalid_payloads(org, outsider_org):
            before = self.count(org)
            response = api.post(self.url, payload, format="json")
            assert response.status_code == 400, (payload, response.content)
            assert isinstance(response.json(), dict)
            assert self.count(org) == before

    def test_malformed_json_is_a_400(self, api):
        if not self.writable:
            return
        response = api.post(self.url, data="{not json", content_type="application/json")
        assert response.status_code == 400

    def test_read_only_key_cannot_write(self, read_api, org):
        if not self.writable:
            return
        response = read_api.post(self.url, self.create_payload(org), format="json")
        assert response.status_code == 403

    def test_no_key_is_a_401(self, client):
        response = client.get(self.url)
        assert response.status_code in (401, 403)
        assert response.status_code == 401

    def test_query_count_does_not_grow_with_page_size(self, api, org):
        for n in range(12):
            self.make(org, n)
        api.get(self.url)  # warm up: the key's first use of the minute records last_used_at
        counts = []
        for size in (2, 10):
            with CaptureQueriesContext(connection) as queries:
                response = api.get(self.url, {"page_size": size})
            assert response.status_code == 200
            assert len(response.json()["results"]) == size
            counts.append(len(queries))
        assert counts[0] == counts[1], counts
