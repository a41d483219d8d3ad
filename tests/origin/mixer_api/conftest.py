"""Mixer-API tests run against an app with only the mixer domain registered (plus helpers)."""

from __future__ import annotations

import pytest


@pytest.fixture
def app_packages() -> tuple[str, ...]:
    return ("origin.mixer_api",)
