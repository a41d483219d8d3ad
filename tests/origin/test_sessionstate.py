"""The session state format (origin.sessionstate): a restored session continues exactly, and a
hostile blob is refused with SessionStateError (never code execution, never a crash)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from aimixer_dsp.genre import StreamingGenreClassifier
from aimixer_dsp.mixer import MixerSession

from origin.sessionstate import MAX_STATE_BYTES, SessionStateError, dump_session, load_session


def test_restored_session_continues_bit_for_bit():
    rng = np.random.default_rng(3)
    frames = [(rng.standard_normal(960) * 0.3).astype(np.float32) for _ in range(200)]
    cfg = {"compressor": {"ratio": 4, "threshold": -20}, "noiseGate": {"threshold": -50}, "genre": "jazz"}
    a = MixerSession(genre_tracker=StreamingGenreClassifier())
    b = MixerSession(genre_tracker=StreamingGenreClassifier())
    for i, f in enumerate(frames):
        ra, rb = a.process(f, cfg), b.process(f, cfg)
        assert np.array_equal(np.asarray(ra["processedBuffer"]), np.asarray(rb["processedBuffer"]))
        ma, mb = dict(ra["metrics"]), dict(rb["metrics"])
        ma.pop("processingTime"), mb.pop("processingTime")
        assert ma == mb
        blob = dump_session(b, {"frames": i})
        b, meta = load_session(blob)
        assert meta == {"frames": i}
    assert json.loads(blob)["format"] == "aimixer.session" and json.loads(blob)["version"] == 1
    # the genre tracker's pending window carried over too
    assert np.array_equal(a.genre_tracker.pending_features, b.genre_tracker.pending_features)


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        (b"not json", "not JSON"),
        (b'{"format":"x","version":1}', "not an aimixer.session"),
        (b'{"format":"aimixer.session","version":99,"root":null}', "version 99"),
        (b'{"format":"aimixer.session","version":1,"root":{"o":"Popen","s":{},"id":0}}', "unknown class"),
        (b'{"format":"aimixer.session","version":1,"root":{"r":5}}', "dangling"),
        (b'{"format":"aimixer.session","version":1,"root":{"zz":1}}', "unknown node"),
        (b'{"format":"aimixer.session","version":1,"root":[1,2]}', "unexpected node"),
        (b'{"format":"aimixer.session","version":1,"root":{"fl":"AAA=","id":0}}', "malformed"),
        (
            b'{"format":"aimixer.session","version":1,"root":{"a":"'
            + base64.b64encode(b"x" * 8)
            + b'","dtype":"|O","shape":[1],"id":0}}',
            "not allowed",
        ),
        (b" " * (MAX_STATE_BYTES + 1), "exceeds"),
    ],
)
def test_hostile_state_is_refused(blob, match):
    with pytest.raises(SessionStateError, match=match):
        load_session(blob)
