from __future__ import annotations

import datetime as dt
import math
import os
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import soundfile as sf

from origin.recorder.archive import (
    ArchiveError,
    ArchiveWriter,
    delete_older_than,
    layout_path,
    period_bounds,
)
from origin.recorder.sinks import make_sink

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
T = dt.datetime(2026, 1, 10, 14, 30, 15, 500000, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "layout, name, expected",
    [
        ("flat", None, "R/2026-01-10-14.wav"),
        ("flat", "studio", "R/studio-2026-01-10-14.wav"),
        ("hierarchy", None, "R/2026/01/10/14/archive.wav"),
        ("hierarchy", "studio", "R/2026/01/10/14/studio.wav"),
        ("combo", None, "R/2026/01/10/14/2026-01-10-14.wav"),
        ("combo", "studio", "R/2026/01/10/14/studio-2026-01-10-14.wav"),
        ("dailydir", None, "R/2026-01-10/2026-01-10-14.wav"),
        ("dailydir", "studio", "R/2026-01-10/studio-2026-01-10-14.wav"),
        ("accurate", None, "R/2026-01-10/2026-01-10-14-30-15-50.wav"),
        ("accurate", "studio", "R/2026-01-10/2026-01-10-14-30-15-50.wav"),
        ("%Y/%j/%H%M.flac", None, "R/2026/010/1430.flac"),
    ],
)
def test_rotter_layouts(layout, name, expected):
    assert layout_path("R", layout, T, "wav", name=name, tz=UTC) == expected


def test_dst_repeated_hour_gets_distinct_name():
    first = dt.datetime(2026, 10, 25, 0, 0, tzinfo=UTC).timestamp()  # 02:00 CEST
    second = first + 3600  # 02:00 CET, the repeated hour
    a = layout_path("R", "dailydir", first, "wav", tz=BERLIN)
    b = layout_path("R", "dailydir", second, "wav", tz=BERLIN)
    assert a == "R/2026-10-25/2026-10-25-02.wav"
    assert b == "R/2026-10-25/2026-10-25-02-CET.wav"
    # hourly periods stay aligned across the change
    assert period_bounds(second + 1800, 3600, BERLIN) == (second, second + 3600)


def test_periods_align_to_midnight_of_the_clock():
    t = dt.datetime(2026, 3, 1, 0, 17, 42, tzinfo=UTC).timestamp()
    start, end = period_bounds(t, 7 * 3600, UTC)
    assert start == dt.datetime(2026, 3, 1, tzinfo=UTC).timestamp() and end - start == 7 * 3600
    late = dt.datetime(2026, 3, 1, 22, 0, tzinfo=UTC).timestamp()
    s2, e2 = period_bounds(late, 7 * 3600, UTC)
    assert s2 == dt.datetime(2026, 3, 1, 21, tzinfo=UTC).timestamp()
    assert e2 == dt.datetime(2026, 3, 2, tzinfo=UTC).timestamp()  # a new day starts a new period


@pytest.mark.parametrize("offset", [Fraction(29, 4), Fraction(7123456, 1000000)])
def test_rotation_splits_on_exact_samples_and_concatenates(tmp_path, offset):
    rate = 48000
    base = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    t0 = base + float(offset)
    events = []
    w = ArchiveWriter(
        str(tmp_path),
        lambda: make_sink("wav", "24"),
        rate,
        2,
        layout="%H%M%S.wav",
        period=10,
        clock="utc",
        on_event=events.append,
    )
    w.start(t0)
    rng = np.random.default_rng(3)
    total = 35 * rate
    x = rng.integers(-(2**23), 2**23, size=(total, 2)).astype(np.int32) << 8
    i = 0
    while i < total:  # random block sizes, as the jitter buffer delivers
        n = int(rng.integers(1, 3000))
        w.write(x[i : i + n])
        i += n
    w.close()
    # expected boundaries: first sample at or after each 10 s boundary, computed exactly
    bounds = []
    b = 10
    while True:
        k = math.ceil((b - offset) * rate)
        if k >= total:
            break
        bounds.append(k)
        b += 10
    edges = [0, *bounds, total]
    files = w.files
    assert len(files) == len(edges) - 1
    names = [os.path.basename(f) for f in files]
    assert names == ["120000.wav", "120010.wav", "120020.wav", "120030.wav", "120040.wav"]
    parts = [sf.read(f, dtype="int32")[0] for f in files]
    assert [len(p) for p in parts] == [edges[j + 1] - edges[j] for j in range(len(edges) - 1)]
    np.testing.assert_array_equal(np.concatenate(parts), x)
    assert [e["event"] for e in events].count("file_open") == len(files)


def test_restart_in_same_period_appends_wav_and_suffixes_flac(tmp_path):
    rate = 48000
    base = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    x = np.random.default_rng(4).integers(-(2**23), 2**23, size=(rate, 2)).astype(np.int32) << 8
    starts = [base + 60.0, base + 61.25]  # the recorder was down for 0.75 s after the first half second
    for fmt in ("wav", "flac"):
        paths, events = [], []
        for k in range(2):
            w = ArchiveWriter(
                str(tmp_path / fmt),
                lambda f=fmt: make_sink(f, "24"),
                rate,
                2,
                layout="dailydir",
                period=3600,
                clock="utc",
                on_event=events.append,
            )
            w.start(starts[k])
            w.write(x[k * 24000 : (k + 1) * 24000])
            w.close()
            paths.append(w.files[0])
        if fmt == "wav":
            assert paths[0] == paths[1]  # continued, never overwritten
            y, _ = sf.read(paths[0], dtype="int32")
            gap = round((starts[1] - starts[0]) * rate) - 24000
            assert gap == 36000
            np.testing.assert_array_equal(
                y, np.concatenate([x[:24000], np.zeros((gap, 2), np.int32), x[24000:]])
            )
            assert {"event": "gap_filled", "path": paths[0], "frames": gap} in events
        else:
            assert paths[1] == paths[0].replace(".flac", "-1.flac")
            assert len(sf.read(paths[0])[0]) == 24000 and len(sf.read(paths[1])[0]) == 24000


def test_retention_is_off_by_default_and_deletes_old_files(tmp_path, caplog):
    old = tmp_path / "2020-01-01" / "2020-01-01-00.wav"
    old.parent.mkdir()
    old.write_bytes(b"x")
    new = tmp_path / "keep.wav"
    new.write_bytes(b"y")
    other = tmp_path / "notes.txt"
    other.write_bytes(b"z")
    os.utime(old, (0, 0))
    os.utime(other, (0, 0))
    w = ArchiveWriter(str(tmp_path), lambda: make_sink("wav"), 48000, 1, period=10, clock="utc")
    assert w.retain_hours is None
    caplog.set_level("INFO", logger="origin.recorder.archive")
    assert delete_older_than(str(tmp_path), 1.0) == [str(old)]
    assert not old.exists() and not old.parent.exists() and new.exists() and other.exists()
    assert "retention: deleted" in caplog.text


def test_invalid_settings():
    with pytest.raises(ArchiveError, match="period=5 is below the minimum of 10"):
        ArchiveWriter("/tmp", lambda: make_sink("wav"), 48000, 2, period=5)
    with pytest.raises(ArchiveError, match="clock='mars'"):
        ArchiveWriter("/tmp", lambda: make_sink("wav"), 48000, 2, clock="mars")
