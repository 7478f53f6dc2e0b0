"""Bench only: the WSGI application with bench/_projected.py's proposed fixes applied."""

import _projected

from finance.wsgi import application  # sets Django up

_projected.apply()

__all__ = ["application"]
