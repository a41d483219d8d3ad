"""AI Mixer origin: the Quart server, studio recorder engine and the ``aimixer`` CLI."""

from __future__ import annotations

__version__ = "0.1.0"
