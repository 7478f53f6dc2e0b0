"""Bench only: the WSGI application with bench/_projected.py's patches named in KEHU_BENCH_PATCHES
(comma-separated: `projected`, the fixes proposed in docs/performance.md; `one_by_one`, the bulk
import without its fast path, as before it; `bare`, a bare Django JSON view at /bench/bare/)."""

import os

import _projected

from finance.wsgi import application  # sets Django up

for _name in filter(None, os.environ.get("KEHU_BENCH_PATCHES", "").split(",")):
    getattr(_projected, _name)()

__all__ = ["application"]
