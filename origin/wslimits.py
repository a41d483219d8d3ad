"""WebSocket size limits enforced inside Hypercorn's protocol layer (before any app code runs).

Hypercorn (0.18) assembles each incoming WebSocket message in a ``WebsocketBuffer`` and checks
``websocket_max_message_size`` only *after* writing each chunk; once a message is over the limit
it sends close 1009 but keeps appending the rest of the frame, so a client that streams a 60 MB
frame costs the server 60 MB (and the allocator does not give it back). Its permessage-deflate
extension (wsproto) also decompresses each chunk without an output bound.

:func:`install` replaces both, process-wide, with bounded versions:

* :class:`BoundedMessageBuffer` refuses a chunk that would take the message past the limit
  *before* storing it, and once over the limit stores nothing more on that connection (every
  later chunk is dropped and the close 1009 stands), so memory per connection never exceeds
  the limit;
* :class:`BoundedDeflate` inflates with ``max_length`` and fails the message with 1009 as soon
  as its inflated size would pass the limit (no decompression bomb).

``aimixer serve`` calls :func:`install` with :data:`MAX_MESSAGE_BYTES` and sets Hypercorn's
``websocket_max_message_size`` to the same value.
"""

from __future__ import annotations

import zlib
from typing import Any

__all__ = ["MAX_MESSAGE_BYTES", "install", "BoundedMessageBuffer", "BoundedDeflate"]

#: Largest WebSocket message the origin accepts (a /ws JSON frame is ~20 KB; 1 MiB of binary
#: audio is 273 frames, 5.5 s).
MAX_MESSAGE_BYTES = 1 << 20

_limit = MAX_MESSAGE_BYTES
_installed = False


def install(max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
    """Put the bounded buffer and deflate extension into Hypercorn (idempotent)."""
    global _limit, _installed
    _limit = int(max_message_bytes)
    if _installed:
        return
    from hypercorn.protocol import ws_stream

    BoundedMessageBuffer.too_large = ws_stream.FrameTooLargeError
    # Hypercorn has no hook for these: we replace its module's classes with our duck-typed ones
    ws_stream.WebsocketBuffer = BoundedMessageBuffer  # type: ignore[misc,assignment]
    ws_stream.PerMessageDeflate = _deflate_class()  # type: ignore[misc,assignment]
    _installed = True


class BoundedMessageBuffer:
    """Drop-in for Hypercorn's ``WebsocketBuffer`` that never holds more than ``max_length``."""

    too_large: type[Exception] = Exception  # set by install(): Hypercorn's FrameTooLargeError

    def __init__(self, max_length: int) -> None:
        self.max_length = min(int(max_length), _limit)
        self.parts: list[Any] = []
        self.text: bool | None = None
        self.length = 0
        self.overflowed = False

    def extend(self, event: Any) -> None:
        data = event.data
        if self.overflowed or self.length + len(data) > self.max_length:
            self.overflowed = True  # from now on every chunk of this connection is dropped
            self.parts = []
            raise self.too_large()
        if self.text is None:
            self.text = isinstance(data, str)
        self.parts.append(data)
        self.length += len(data)

    def clear(self) -> None:
        self.parts = []
        self.text = None
        self.length = 0

    def to_message(self) -> dict[str, Any]:
        if self.text:
            return {"type": "websocket.receive", "bytes": None, "text": "".join(self.parts)}
        return {"type": "websocket.receive", "bytes": b"".join(self.parts), "text": None}


def _deflate_class() -> type:
    from wsproto.extensions import PerMessageDeflate
    from wsproto.frame_protocol import CloseReason

    class _BoundedDeflate(PerMessageDeflate):
        """permessage-deflate whose inflated message size is bounded by the limit."""

        _inflated = 0

        def frame_inbound_payload_data(self, proto: Any, data: bytes) -> bytes | CloseReason:
            if not self._inbound_compressed or not self._inbound_is_compressible:
                return data
            assert self._decompressor is not None
            room = _limit - self._inflated
            try:
                out = self._decompressor.decompress(bytes(data), room + 1)
            except zlib.error:
                return CloseReason.INVALID_FRAME_PAYLOAD_DATA
            self._inflated += len(out)
            if self._inflated > _limit or self._decompressor.unconsumed_tail:
                return CloseReason.MESSAGE_TOO_BIG
            return out

        def frame_inbound_complete(self, proto: Any, fin: bool) -> bytes | CloseReason | None:
            if fin:
                self._inflated = 0
            return super().frame_inbound_complete(proto, fin)

    global BoundedDeflate
    BoundedDeflate = _BoundedDeflate
    return _BoundedDeflate


BoundedDeflate: type | None = None  # the class, once install() built it
