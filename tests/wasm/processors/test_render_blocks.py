"""The render's array path (planar ``array('d')`` blocks through :class:`ChannelChain` and the
worker's :class:`FileJob` buffers) against the list path, on CPython.

Kernels off (CPython's default) the array path goes through channel lists, so it equals the list
path. With the kernels installed as Python twins of the JavaScript (``wasm/js/kernels_chain.js``
and the dynamics twins of ``test_dynamics_kernels``: the same arithmetic statement for statement)
the array path runs every stage on the block and still gives the list path's output and state bit
for bit — mono (the chain's pass-through tests, the compressor fused with the EQ) and linked
channels, odd block sizes and blocks shorter than ``KERNEL_MIN``. ``tests/node/test_render_blocks_node.py``
runs the JavaScript itself inside Pyodide."""

from __future__ import annotations

import math
import random
from array import array

import pytest
from aimixer_dsp.backend import KERNEL_MIN, set_kernel
from aimixer_dsp.errors import InvalidBufferError, NonFiniteInputError
from aimixer_dsp.render import ChannelChain, FileJob, NormalizePass, render

from .test_dynamics_kernels import TWINS


def finite_twin(block: array) -> int:
    for i, v in enumerate(block):
        if v - v != 0:
            return i
    return -1


def scale_twin(block: array, g: float) -> None:
    for i in range(len(block)):
        block[i] = block[i] * g


def eqblock_twin(block: array, off: int, n: int, coeffs: array, states: array, gain: float) -> None:
    for k in range(len(states) // 2):
        b1, b2, a1, a2 = coeffs[4 * k : 4 * k + 4]
        s1, s2 = states[2 * k], states[2 * k + 1]
        for i in range(off, off + n):
            u = block[i]
            y = u + s1
            s1 = b1 * u - a1 * y + s2
            s2 = b2 * u - a2 * y
            block[i] = y
        states[2 * k], states[2 * k + 1] = s1, s2
    for i in range(off, off + n):
        block[i] = gain * block[i]


def peaks_twin(block: array, thr: float, out: array) -> None:
    hi, first, last = 0.0, -1, -1
    for i, v in enumerate(block):
        a = -v if v < 0 else v
        hi = max(hi, a)
        if a >= thr:
            first = i if first < 0 else first
            last = i
    out[0], out[1], out[2] = hi, first, last


CHAIN_TWINS = {"finite": finite_twin, "scale": scale_twin, "eqblock": eqblock_twin, "peaks": peaks_twin}


class Kernels:
    """Every twin installed (dynamics and chain), counting calls, for a ``with`` block."""

    def __enter__(self) -> dict:
        self.calls = dict.fromkeys({**TWINS, **CHAIN_TWINS}, 0)

        def counted(name, fn):
            def call(*a):
                self.calls[name] += 1
                return fn(*a)

            return call

        for k, fn in {**TWINS, **CHAIN_TWINS}.items():
            set_kernel(k, counted(k, fn))
        return self.calls

    def __exit__(self, *exc) -> None:
        for k in {**TWINS, **CHAIN_TWINS}:
            set_kernel(k, None)


def signal(n: int, seed: int, scale: float) -> list:
    """Transients (a kick every 0.25 s), tones, a stretch of digital silence and clipping."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = i / 48000
        beat = t % 0.25
        v = 0.9 * math.exp(-beat / 0.03) * math.sin(2 * math.pi * 60 * beat)
        v += 0.2 * math.sin(2 * math.pi * (220 + 40 * seed) * t) + 0.05 * (rng.random() - 0.5)
        if 0.30 <= t < 0.42:
            v = 0.0
        out.append(max(-1.0, min(1.0, scale * v)))
    return [float(v) for v in array("f", out)]


CONFIGS = {
    "rock": {"genre": "rock"},
    "all": {
        "gain": 6.0,
        "noiseGate": {"enabled": True, "threshold": -35.0, "hold": 2.0, "range": -40.0},
        "compressor": {"enabled": True, "threshold": -24.0, "ratio": 6.0, "knee": 6.0, "makeup": 3.0},
        "eq": {"enabled": True, "low": 4.0, "mid": -3.0, "high": 5.0},
        "limiter": {"enabled": True, "ceiling": -1.0, "lookahead": 3.0, "release": 20.0},
    },
    "open": {  # a gate that stays open (its pass-through) and a long look-ahead
        "noiseGate": {"enabled": True, "threshold": -60.0, "hold": 1000.0},
        "eq": {"enabled": False},
        "limiter": {"enabled": True, "ceiling": -0.5, "lookahead": 20.0},
    },
}
SIZES = [3001, 256, 100, 4097, 255, 20000, 1000, 7]


def _settings(cfg: dict) -> dict:
    from aimixer_dsp.presets import resolve_settings

    c = dict(cfg)
    return resolve_settings({k: v for k, v in c.items() if k != "genre"}, c.get("genre"))


def _run_chain(cfg: dict, cols: list, as_block: bool) -> tuple:
    ch = len(cols)
    cc = ChannelChain(_settings(cfg), ch)
    out: list = [[] for _ in cols]
    s = 0
    for k in SIZES:
        part = [c[s : s + k] for c in cols]
        s += k
        if as_block:
            blk = array("d")
            for p in part:
                blk += array("d", p)
            y = cc.process(blk)
            n = len(y) // ch
            y = [y[c * n : (c + 1) * n].tolist() for c in range(ch)]
        else:
            y = cc.process(part)
        for o, v in zip(out, y, strict=True):
            o.extend(v)
    tail = cc.finish(as_block=as_block)
    if as_block:
        n = len(tail) // ch
        tail = [tail[c * n : (c + 1) * n].tolist() for c in range(ch)]
    for o, v in zip(out, tail, strict=True):
        o.extend(v)
    state = [
        (type(p).__name__, {k: v for k, v in vars(p).items() if isinstance(v, int | float | list)})
        for p in [*cc.chain, *cc._eqs]
    ]
    return out, state, cc._dl, cc._dm


@pytest.mark.parametrize("channels", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_chain_array_path_equals_list_path(channels: int, name: str) -> None:
    total = sum(SIZES)
    cols = [signal(total, c, 1.4 + 0.3 * c) for c in range(channels)]
    cfg = CONFIGS[name]
    plain_list = _run_chain(cfg, cols, False)
    plain_block = _run_chain(cfg, cols, True)  # kernels off: through the lists
    assert plain_block == plain_list
    with Kernels() as calls:
        want = _run_chain(cfg, cols, False)
        listed = dict(calls)
        got = _run_chain(cfg, cols, True)
    assert len(got[0][0]) == total
    assert got == want  # output, every stage's state, the linked delay lines: bit for bit
    blocked = {k: calls[k] - listed[k] for k in calls}
    long_blocks = sum(k >= KERNEL_MIN for k in SIZES)
    assert blocked["eqblock"] + blocked["compressor"] >= long_blocks  # the array path ran natively
    if channels == 1:
        assert blocked["peaks"] > 0


def _drive(job: FileJob, cols: list, probs: dict | None) -> list:
    """filejobs.js's loop: the blocks through ``job.inp`` / ``job.out`` (float32 between passes)."""
    n = len(cols[0])
    B = job.block
    ch = len(cols)

    def feed(src: list, s: int, k: int) -> None:
        for c in range(ch):
            job.inp[c * B : c * B + k] = array("d", src[c][s : s + k])

    if job.wants_genre:
        for s in range(0, n, B):
            k = min(B, n - s)
            feed(cols, s, k)
            job.analyse(k)
        job.set_genre([dict(probs) for _ in job.genre_vectors()], "unknown")
    src = cols
    for p in range(job.pass_count):
        job.begin(p)
        out: list = [[] for _ in range(ch)]

        def take(got: int, out: list = out) -> None:
            for c in range(ch):
                out[c].extend(job.out[c * B : c * B + got])

        for s in range(0, n, B):
            k = min(B, n - s)
            feed(src, s, k)
            take(job.render(k))
        while got := job.finish():  # the tail, at most a block per call
            take(got)
        src = [array("f", o).tolist() for o in out] if p + 1 < job.pass_count else out
    return src


@pytest.mark.parametrize(
    ("channels", "seconds", "block", "cfg", "target"),
    [
        (2, 1.2, 3001, {"genre": "auto"}, "streaming"),
        (1, 1.2, 4097, {"genre": "auto"}, -20.0),
        (2, 0.2, 100, {"genre": "rock"}, None),
        (2, 0.05, 16, {"genre": "rock"}, "streaming"),  # blocks shorter than the latencies
        (3, 1.0, 1 << 15, CONFIGS["all"], "podcast"),
    ],
)
def test_file_job_array_path_equals_render(
    channels: int, seconds: float, block: int, cfg: dict, target
) -> None:
    n = int(48000 * seconds) + 123
    cols = [signal(n, c, 1.2 + 0.2 * c) for c in range(channels)]
    probs = {"rock": 0.7, "pop": 0.2, "jazz": 0.1}
    want, want_rep = render(cols, 48000, cfg, target=target, predict=lambda v: probs, block=block)
    job = FileJob(channels, 48000, n, cfg, target=target, block=block)
    assert job.inp.typecode == "d" and len(job.inp) == channels * block
    got = _drive(job, cols, probs)
    assert got == want
    assert job.report() == want_rep
    with Kernels() as calls:
        want_k, rep_k = render(cols, 48000, cfg, target=target, predict=lambda v: probs, block=block)
        job = FileJob(channels, 48000, n, cfg, target=target, block=block)
        got_k = _drive(job, cols, probs)
    assert calls["finite"] > 0
    assert got_k == want_k
    assert job.report() == rep_k


def test_job_rejects_non_finite_samples_natively() -> None:
    """The ``finite`` kernel finds a NaN/Inf anywhere in the block; nothing is processed."""
    for bad in (math.nan, math.inf, -math.inf):
        with Kernels():
            job = FileJob(2, 48000, 1000, None, block=500)
            job.begin(0)
            job.inp[500 + 321] = bad  # channel 1, frame 321
            with pytest.raises(NonFiniteInputError) as err:
                job.render(400)
            assert err.value.details["index"] == 321
            assert job.input_meter.frames == 0 and job._chain.seen == 0
            job.inp[500 + 321] = 0.0
            assert job.render(400) == 400 - job._chain.latency


@pytest.mark.parametrize(
    ("cfg", "target", "block", "n"),
    [
        ({"genre": "rock"}, None, 1000, 4000),  # the first block shorter than the latency: no output yet
        ({"limiter": {"enabled": False}}, None, 1000, 2500),  # latency 0: an empty tail
        ({"genre": "jazz"}, "streaming", 50, 1000),  # tails longer than the block (72 and 104 frames)
    ],
)
def test_job_buffers_stay_put_while_the_worker_views_them(cfg: dict, target, block: int, n: int) -> None:
    """The worker keeps ``getBuffer`` views of ``inp``/``out`` for the whole job: no write may
    resize them (an empty output, a tail of several blocks), and every frame comes out once."""
    job = FileJob(1, 48000, n, cfg, target=target, block=block)
    views = memoryview(job.inp), memoryview(job.out)
    x = signal(n, 3, 1.0)
    cuts = [0, 10, *range(10 + block, n, block), n]  # a first block of 10 frames: no output yet
    for p in range(job.pass_count):
        job.begin(p)
        written = 0
        for s, e in zip(cuts, cuts[1:], strict=False):
            job.inp[: e - s] = array("d", x[s:e])
            written += job.render(e - s)
        while got := job.finish():
            written += got
        assert written == n
        assert len(job.out) == block and job.finish() == 0
    del views


@pytest.mark.parametrize("stage", ["chain", "normalize"])
def test_blocks_must_hold_whole_frames(stage: str) -> None:
    """A planar block whose length is no multiple of the channel count (or not float64) is
    rejected before any kernel or state sees it."""
    proc = (
        ChannelChain(_settings({"genre": "rock"}), 2)
        if stage == "chain"
        else NormalizePass(0.0, -1.0, 2, 48000)
    )
    with Kernels() as calls:
        for bad in (array("d", bytes(8 * 1001)), array("f", bytes(4 * 1000))):
            with pytest.raises(InvalidBufferError, match="planar block of 2 channel"):
                proc.process(bad)
    assert sum(calls.values()) == 0 and proc.seen == 0
