"""The --levels report protocol module: what the worker writes, the supervisor reads back."""

from __future__ import annotations

import math

import pytest

from origin.recorder import protocol


def test_round_trip_of_each_message_type() -> None:
    ch = [{"name": "L", "level_db": -20.0, "level_linear": 0.1, "peak_db": -6.0, "clipping": False}]
    for msg in (
        protocol.levels(ch),
        protocol.event("file_open", path="/a/b.wav", append=False),
        protocol.stats({"bytes_written": 10, "current_file": "/a/b.wav", "errors": []}),
        protocol.final({"state": "stopped"}),
    ):
        back = protocol.parse(protocol.dumps(msg).encode())
        assert back == msg and isinstance(back["time"], float)
    assert protocol.event("x", event="spoofed")["event"] == "x"


@pytest.mark.parametrize(
    "line",
    [b"not json", b"[1, 2]", b'{"type": "mystery"}', b'{"type": "event"}', b'{"type": "event", "event": 3}',
     b'{"no": "type"}', b'{"type": "levels", "pad": "' + b"x" * (protocol.MAX_REPORT_BYTES) + b'"}'],
)  # fmt: skip
def test_anything_else_is_not_a_message(line: bytes) -> None:
    assert protocol.parse(line) is None


def test_non_finite_numbers_cannot_be_written() -> None:
    with pytest.raises(ValueError):
        protocol.dumps(protocol.stats({"seconds": math.inf}))
