"""OpenAPI post-processing: every operation documents its error responses, and every POST the
`Idempotency-Key` header, so the schema describes the API an integrator actually meets."""

from __future__ import annotations

from typing import Any

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": "Field errors: each key is a field (or `non_field_errors`, or `items` for bulk "
    "requests, a list with one object of field errors per item) with a list of messages.",
    "additionalProperties": {},
}
IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Replays the first response for the same key and body (kept at least 24 h); "
    "a different body with the same key is 422; a retry while the first is still running is 409.",
}


def _ref(name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    schemas["FieldErrors"] = FIELD_ERRORS
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", _ref("Error", "Missing or invalid API key."))
            responses.setdefault(
                "403", _ref("Error", "The key's scope or the user's role does not allow this.")
            )
            if "{" in path or method != "post":
                responses.setdefault("404", _ref("Error", "Not found (also for another organization's id)."))
            if method in {"post", "put", "patch"} or (method == "get" and operation.get("parameters")):
                responses.setdefault("400", _ref("FieldErrors", "Invalid input; nothing was written."))
            if method in {"post", "put", "patch"}:
                responses.setdefault("413", _ref("Error", "The request body is too large."))
            if method == "post":
                responses.setdefault(
                    "409", _ref("Error", "A request with this Idempotency-Key is in progress.")
                )
                responses.setdefault(
                    "422", _ref("Error", "This Idempotency-Key was used with another request.")
                )
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                    parameters.append(IDEMPOTENCY_PARAMETER)
    return result
