"""The tally of one audio stream and its end: shared by ``/stream-audio`` (SSE) and ``/ws``.

A stream counts its processed frames, their processing time and its refused frames in a
:class:`StreamTally`; :meth:`StreamTally.complete` gives the summary both endpoints send last
(SSE ``complete``, WS ``stream.complete``) and emits the owner's ``processing.complete``
webhook with the session's genre verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from aimixer_dsp import FRAME_SIZE, SAMPLE_RATE

if TYPE_CHECKING:
    from origin.sessions import SessionEntry

    from .service import MixerService

__all__ = ["StreamTally"]


@dataclass(slots=True)
class StreamTally:
    """Counts of one stream: processed ``frames``, their summed ``latency_ms``, refused ``errors``."""

    frames: int = 0
    latency_ms: float = 0.0
    errors: int = 0

    def processed(self, ms: float) -> None:
        """One frame processed in ``ms`` milliseconds."""
        self.frames += 1
        self.latency_ms += ms

    def summary(self, session_id: str) -> dict[str, Any]:
        """``{totalChunks, totalDuration (s), averageLatency (ms), sessionId, errors}``."""
        n = self.frames
        return {
            "totalChunks": n,
            "totalDuration": round(n * FRAME_SIZE / SAMPLE_RATE, 6),
            "averageLatency": round(self.latency_ms / n, 4) if n else 0.0,
            "sessionId": session_id,
            "errors": self.errors,
        }

    def complete(
        self, svc: MixerService, owner: str, entry: SessionEntry, source: Literal["ws", "stream-audio"]
    ) -> dict[str, Any]:
        """The stream's summary; emits ``processing.complete`` to ``owner``'s webhooks."""
        summary = self.summary(entry.id)
        tracker = getattr(entry.session, "genre_tracker", None)
        svc.webhooks.emit(
            owner,
            "processing.complete",
            {
                "sessionId": entry.id,
                "duration": summary["totalDuration"],
                "totalChunks": summary["totalChunks"],
                "averageLatency": summary["averageLatency"],
                "genre": getattr(tracker, "genre", None),
                "confidence": round(float(getattr(tracker, "confidence", 0.0) or 0.0), 4),
                "source": source,
            },
        )
        return summary
