"""The demo organization: each app registers a seeder that adds its part of the story."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from finance.models import Organization


@dataclass(frozen=True)
class Seeder:
    order: int
    name: str
    seed: Callable[[Organization], None]


SEEDERS: dict[str, Seeder] = {}


def register_seeder(seeder: Seeder) -> None:
    SEEDERS[seeder.name] = seeder


def seeders() -> list[Seeder]:
    return sorted(SEEDERS.values(), key=lambda s: s.order)
