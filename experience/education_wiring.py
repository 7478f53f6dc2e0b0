"""What the education part of experience plugs in at start-up (signal receivers, panels, jobs,
webhook events). Called from `ExperienceConfig.ready()`."""

from __future__ import annotations


def connect() -> None:
    """Nothing to connect yet."""
