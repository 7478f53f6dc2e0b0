"""Security headers on every response Django renders (issue 8 §5, OWASP ASVS 5.0 level 2).

- `Content-Security-Policy`: scripts, styles, fonts, images and XHR only from our own origin; no
  inline script, no inline style attribute, no `eval`; no framing, no plugins, no `<base>`; forms
  post only to us. Kehu's own behaviour lives in `static/js/kehu.js` (event delegation on `data-`
  attributes) and htmx runs with `allowEval: false` and no injected indicator styles (see the
  `htmx-config` meta in `templates/base.html`). Styles are strict too (`style-src 'self'`): the
  few `style="..."` attributes in templates and SVG charts became classes in `static/css/kehu.css`.
- Two stand-alone pages render inline `<script>`/`<style>` blocks that we do not write ourselves
  or that must also work inside a PDF: the Swagger UI of `/api/docs/` (drf-spectacular's template:
  an inline `<script>` and `<style>`) and the browser view of a customer statement (a `<style>`
  block WeasyPrint also reads). For those views only (`INLINE_HASHED_VIEWS`), the policy allows
  exactly the inline blocks of that response by their SHA-256 hashes, never `'unsafe-inline'`.
- `Permissions-Policy` turns off camera, microphone, geolocation, payment and USB;
  `Cross-Origin-Resource-Policy: same-origin`. (`Cross-Origin-Opener-Policy`, `X-Frame-Options`,
  `X-Content-Type-Options`, `Referrer-Policy` and HSTS come from Django's own middleware.)
- `Cache-Control: no-store` and `Pragma: no-cache` on every response that reaches this middleware:
  every page carries tenant data or a CSRF token (the sign-in page and the public survey pages
  included), and every API response is tenant data. Static files are served by WhiteNoise before
  this middleware and keep their long-lived caching.

A view may set its own `Content-Security-Policy` header; the middleware leaves it alone.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

CSP_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
NO_STORE = "no-store"

# URL names whose inline <script>/<style> blocks are allowed by hash (see the module docstring).
INLINE_HASHED_VIEWS = frozenset({"api-docs", "customer-statement"})
_INLINE_BLOCK = re.compile(
    rb"<(script|style)\b(?P<attrs>[^>]*)>(?P<body>.*?)</(?:script|style)\s*>", re.IGNORECASE | re.DOTALL
)


def build_policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in directives.items())


CONTENT_SECURITY_POLICY = build_policy(CSP_DIRECTIVES)


def _sha256(source: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source).digest()).decode("ascii") + "'"


def inline_hashed_policy(content: bytes) -> str:
    """The policy, extended with the hashes of the inline script and style blocks in `content`."""
    scripts: list[str] = []
    styles: list[str] = []
    for match in _INLINE_BLOCK.finditer(content):
        if b"src=" in match.group("attrs").lower():
            continue  # an external script: allowed by 'self', its (empty) body needs no hash
        target = scripts if match.group(1).lower() == b"script" else styles
        target.append(_sha256(match.group("body")))
    directives = dict(CSP_DIRECTIVES)
    if scripts:
        directives["script-src"] += " " + " ".join(dict.fromkeys(scripts))
    if styles:
        directives["style-src"] += " " + " ".join(dict.fromkeys(styles))
    return build_policy(directives)


def _policy_for(request: HttpRequest, response: HttpResponse) -> str | None:
    if (
        settings.DEBUG
        and response.status_code >= 400
        and not response.get("Content-Type", "").startswith("application/json")
    ):
        return None  # Django's technical error pages (DEBUG only) use inline script and style
    match = getattr(request, "resolver_match", None)
    if (
        match is not None
        and match.view_name in INLINE_HASHED_VIEWS
        and not response.streaming
        and response.get("Content-Type", "").startswith("text/html")
    ):
        return inline_hashed_policy(response.content)
    return CONTENT_SECURITY_POLICY


class SecurityHeadersMiddleware:
    """Adds the headers above to every response that reaches it (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            policy = _policy_for(request, response)
            if policy:
                response["Content-Security-Policy"] = policy
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        # Tenant data and CSRF tokens must not stay in any cache, the browser's included.
        if NO_STORE not in response.get("Cache-Control", ""):
            response["Cache-Control"] = NO_STORE
        response["Pragma"] = "no-cache"
        return response
