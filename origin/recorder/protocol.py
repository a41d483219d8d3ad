"""The ``aimixer record --levels`` report protocol, declared once for both sides.

The worker (:mod:`origin.commands.record`) builds its reports with :func:`levels`,
:func:`event`, :func:`stats` and :func:`final` and writes them with :func:`dumps` (one JSON
object per stdout line or per datagram, see :mod:`origin.recorder.report`); the supervisor
(:mod:`origin.studio.supervisor`) reads them with :func:`parse`, which returns a typed message
or ``None`` for anything that is not one. The fields are documented in :mod:`origin.recorder`.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal, TypedDict

from origin.jsonutil import loads

__all__ = [
    "LEVELS",
    "EVENT",
    "STATS",
    "FINAL",
    "FILE_OPEN",
    "MAX_REPORT_BYTES",
    "ChannelLevel",
    "LevelsMessage",
    "EventMessage",
    "StatsMessage",
    "FinalMessage",
    "Message",
    "levels",
    "event",
    "stats",
    "final",
    "dumps",
    "parse",
]

LEVELS: Literal["levels"] = "levels"
EVENT: Literal["event"] = "event"
STATS: Literal["stats"] = "stats"
FINAL: Literal["final"] = "final"
_TYPES = frozenset((LEVELS, EVENT, STATS, FINAL))

#: the event that names the file now being written (``path``)
FILE_OPEN = "file_open"
#: longest report a reader accepts (a line on stdout, a datagram)
MAX_REPORT_BYTES = 1 << 20


class ChannelLevel(TypedDict, total=False):
    name: str
    level_db: float
    level_linear: float
    peak_db: float
    true_peak_db: float
    clipping: bool


class LevelsMessage(TypedDict):
    type: Literal["levels"]
    time: float
    channels: list[ChannelLevel]


class EventMessage(TypedDict, total=False):
    type: Literal["event"]
    event: str  # always present (parse checks it)
    time: float
    path: str


class StatsMessage(TypedDict, total=False):
    type: Literal["stats"]
    time: float
    state: str
    bytes_written: int
    current_file: str | None
    errors: list[str]


class FinalMessage(TypedDict, total=False):
    type: Literal["final"]
    time: float
    state: str


Message = LevelsMessage | EventMessage | StatsMessage | FinalMessage


def _now() -> float:
    return round(time.time(), 3)


def levels(channels: list[ChannelLevel]) -> LevelsMessage:
    """A ``levels`` report of the channels' meters (``ChannelLevel`` dicts)."""
    return {"type": LEVELS, "time": _now(), "channels": channels}


def event(name: str, **fields: Any) -> EventMessage:
    """An ``event`` report: ``name`` plus its fields (an engine event dict's ``time`` wins)."""
    return {"type": EVENT, "time": _now(), **fields, "event": name}  # type: ignore[typeddict-item]


def stats(fields: dict[str, Any]) -> StatsMessage:
    """A ``stats`` report of the recorder's ``stats()``."""
    return {"type": STATS, "time": _now(), **fields}  # type: ignore[typeddict-item]


def final(fields: dict[str, Any]) -> FinalMessage:
    """The ``final`` report written when the worker stops (its last stats)."""
    return {"type": FINAL, "time": _now(), **fields}  # type: ignore[typeddict-item]


def dumps(msg: Message) -> str:
    """One report as compact JSON (``ValueError`` for NaN/Inf, which JSON cannot carry)."""
    return json.dumps(msg, separators=(",", ":"), allow_nan=False)


def parse(data: bytes | str) -> Message | None:
    """A report line or datagram as a message, or ``None`` when it is not one (not JSON, too
    long, not an object, an unknown ``type``, an event without a name)."""
    if len(data) > MAX_REPORT_BYTES:
        return None
    try:
        msg = loads(data)
    except ValueError:
        return None
    if not isinstance(msg, dict) or msg.get("type") not in _TYPES:
        return None
    if msg["type"] == EVENT and not isinstance(msg.get("event"), str):
        return None
    return msg  # type: ignore[return-value]
