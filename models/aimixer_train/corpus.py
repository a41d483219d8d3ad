"""Seeded, reproducible synthetic training corpus for the genre model.

Nothing is downloaded. Music is procedural MIDI (one generator per style, written with
:mod:`mido`) rendered by ``fluidsynth`` with the FluidR3 General MIDI soundfont; speech is
``espeak-ng`` with many languages, voice variants, rates and pitches. Clips are 48 kHz mono.

Every clip ``i`` of a corpus with seed ``S`` draws all its random choices from
``numpy.random.default_rng([S, i])``, so a clip does not depend on which worker rendered it or
in which order. Its manifest entry records the seed, the instrument programs (music) or the
voice (speech), the style parameters and the augmentations, plus a ``group`` used for grouped
cross-validation:

* music: ``"<style>:prog<P>"`` where ``P`` is the clip's lead/harmony program, so evaluation
  holds out whole instrument programs (and with them every seed in the group);
* speech: ``"speech:<variant>"`` (the espeak-ng voice variant), so evaluation holds out whole
  voices across languages.

External tools are called with fixed arguments and no wall-clock input; ``fluidsynth``
fast-render (``-F``) and ``espeak-ng -w`` are deterministic for the same input.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 48000
GENRES = ("speech", "rock", "jazz", "electronic", "classical")
CORPUS_VERSION = 2

SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)


class CorpusError(RuntimeError):
    """A missing tool or a failed render (message names what and why)."""


def find_soundfont() -> str:
    """Return the General MIDI soundfont path (env ``AIMIXER_SOUNDFONT`` overrides)."""
    env = os.environ.get("AIMIXER_SOUNDFONT")
    if env:
        if not Path(env).is_file():
            raise CorpusError(f"AIMIXER_SOUNDFONT={env} does not exist")
        return env
    for cand in SOUNDFONT_CANDIDATES:
        if Path(cand).is_file():
            return cand
    raise CorpusError("no GM soundfont found; install the Debian package fluid-soundfont-gm")


def check_tools() -> None:
    """Raise :class:`CorpusError` unless fluidsynth, espeak-ng and the soundfont are present."""
    for tool, pkg in (("fluidsynth", "fluidsynth"), ("espeak-ng", "espeak-ng")):
        if shutil.which(tool) is None:
            raise CorpusError(f"{tool} not found on PATH; install the Debian package {pkg}")
    find_soundfont()


# ----------------------------------------------------------------------------- MIDI helpers

TPB = 480  # ticks per beat


class _Track:
    """Collect absolute-time events and turn them into a mido track."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int, Any]] = []  # (tick, order, message)
        self._n = 0

    def add(self, tick: float, msg: Any) -> None:
        self._n += 1
        self.events.append((max(0, int(round(tick))), self._n, msg))

    def note(self, ch: int, note: int, start: float, dur: float, vel: int) -> None:
        import mido

        note = int(min(127, max(0, note)))
        vel = int(min(127, max(1, vel)))
        self.add(start, mido.Message("note_on", channel=ch, note=note, velocity=vel))
        # note_off sorts before a note_on at the same tick thanks to a slightly earlier tick
        end = max(start + 1, start + dur)
        self.events.append(
            (max(0, int(round(end)) - 0), -1, mido.Message("note_off", channel=ch, note=note, velocity=0))
        )

    def cc(self, ch: int, control: int, value: int, tick: float) -> None:
        import mido

        self.add(
            tick,
            mido.Message("control_change", channel=ch, control=control, value=int(min(127, max(0, value)))),
        )

    def program(self, ch: int, program: int, tick: float = 0) -> None:
        import mido

        self.add(tick, mido.Message("program_change", channel=ch, program=int(program)))

    def to_midi(self, tempo_map: list[tuple[int, int]]) -> Any:
        import mido

        mid = mido.MidiFile(ticks_per_beat=TPB)
        track = mido.MidiTrack()
        mid.tracks.append(track)
        evs = [(t, -2, mido.MetaMessage("set_tempo", tempo=int(us))) for t, us in tempo_map]
        evs += self.events
        evs.sort(key=lambda e: (e[0], e[1]))
        last = 0
        for tick, _, msg in evs:
            track.append(msg.copy(time=tick - last))
            last = tick
        track.append(mido.MetaMessage("end_of_track", time=TPB * 2))
        return mid


MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)


def _scale_note(root: int, scale: tuple[int, ...], degree: int) -> int:
    octv, idx = divmod(degree, len(scale))
    return root + 12 * octv + scale[idx]


def _triad(root: int, scale: tuple[int, ...], degree: int, size: int = 3) -> list[int]:
    return [_scale_note(root, scale, degree + 2 * k) for k in range(size)]


def _setup_channel(
    tr: _Track,
    rng: np.random.Generator,
    ch: int,
    program: int,
    vol: tuple[int, int] = (80, 115),
    reverb: int | None = None,
) -> None:
    if ch != 9:
        tr.program(ch, program)
    tr.cc(ch, 7, int(rng.integers(vol[0], vol[1] + 1)), 0)
    tr.cc(ch, 10, int(rng.integers(24, 104)), 0)  # pan
    tr.cc(ch, 91, int(reverb if reverb is not None else rng.integers(0, 70)), 0)
    tr.cc(ch, 93, int(rng.integers(0, 30)), 0)  # chorus


# ----------------------------------------------------------------------------- styles
# Each style writer returns (midi, params, programs, lead_program).


def _rock(rng: np.random.Generator, seconds: float) -> tuple[Any, dict[str, Any], dict[str, Any], int]:
    tempo = float(rng.uniform(96, 170))
    key = int(rng.integers(38, 50))  # E2..B2 area
    guitar = int(rng.choice([29, 30, 29, 30, 27, 31]))  # overdriven, distortion, clean-ish, harmonics
    guitar2 = int(rng.choice([29, 30, 25, 27]))
    bass = int(rng.choice([33, 34, 35, 36]))
    progs = [[0, 5, 3, 4], [0, 3, 4, 3], [0, 6, 3, 4], [0, 4, 5, 3], [0, 0, 3, 4], [5, 3, 0, 4]]
    prog = progs[int(rng.integers(len(progs)))]
    scale = MAJOR if rng.random() < 0.5 else MINOR
    tr = _Track()
    _setup_channel(tr, rng, 0, guitar, (95, 127))
    has_g2 = bool(rng.random() < 0.6)
    if has_g2:
        _setup_channel(tr, rng, 1, guitar2, (70, 105))
    _setup_channel(tr, rng, 2, bass, (90, 120))
    _setup_channel(tr, rng, 9, 0, (95, 127), reverb=int(rng.integers(0, 50)))
    beats = int(seconds * tempo / 60) + 8
    bars = beats // 4 + 1
    chug = int(rng.choice([2, 2, 4, 1]))  # subdivisions per beat for the rhythm guitar
    kick_pats: list[list[float]] = [[0, 2], [0, 2, 2.5], [0, 1.5, 2], [0, 0.75, 2, 3.5]]
    kick_pat = kick_pats[int(rng.integers(4))]
    open_hat = bool(rng.random() < 0.3)
    ride = bool(rng.random() < 0.2)
    for bar in range(bars):
        deg = prog[bar % len(prog)]
        root = _scale_note(key, scale, deg)
        while root > key + 7:
            root -= 12
        t0 = bar * 4 * TPB
        # rhythm guitar: power chords
        step = TPB / chug
        for k in range(4 * chug):
            st = t0 + k * step
            vel = int(rng.integers(85, 120)) if k % chug == 0 else int(rng.integers(60, 100))
            for iv in (0, 7, 12):
                tr.note(0, root + 12 + iv, st, step * 0.9, vel)
        if has_g2:  # lead-ish line / sustained chord
            if rng.random() < 0.5:
                for iv in (0, 7, 12, 16 if scale is MAJOR else 15):
                    tr.note(1, root + 24 + iv, t0, 4 * TPB * 0.95, int(rng.integers(70, 100)))
            else:
                for k in range(8):
                    n = _scale_note(key + 24, scale, deg + int(rng.integers(-2, 6)))
                    tr.note(1, n, t0 + k * TPB / 2, TPB / 2 * 0.9, int(rng.integers(70, 110)))
        # bass: eighths on the root
        for k in range(8):
            tr.note(2, root, t0 + k * TPB / 2, TPB / 2 * 0.85, int(rng.integers(90, 120)))
        # drums: backbeat
        for b in kick_pat:
            tr.note(9, 36, t0 + b * TPB, 60, int(rng.integers(100, 127)))
        for b in (1, 3):
            tr.note(9, 38, t0 + b * TPB, 60, int(rng.integers(105, 127)))
        for k in range(8):
            n = 51 if ride else (46 if open_hat and k % 2 == 1 else 42)
            tr.note(9, n, t0 + k * TPB / 2, 60, int(rng.integers(70, 110)))
        if bar % 4 == 0:
            tr.note(9, 49, t0, 120, int(rng.integers(95, 127)))
    midi = tr.to_midi([(0, int(60e6 / tempo))])
    params = {"tempo": round(tempo, 2), "key": key, "progression": prog, "chug": chug, "secondGuitar": has_g2}
    programs = {"guitar": guitar, "bass": bass, **({"guitar2": guitar2} if has_g2 else {})}
    return midi, params, programs, guitar


def _jazz(rng: np.random.Generator, seconds: float) -> tuple[Any, dict[str, Any], dict[str, Any], int]:
    tempo = float(rng.uniform(90, 230))
    key = int(rng.integers(36, 48))
    comp = int(rng.choice([0, 1, 0, 26, 4, 11]))  # piano, bright piano, jazz guitar, e-piano, vibes
    horn = int(rng.choice([56, 65, 66, 57, 64, 71, 73, 59]))  # trumpet, alto, tenor, trombone, soprano...
    has_horn = bool(rng.random() < 0.75)
    bass = 32  # acoustic (upright) bass
    swing = float(rng.uniform(0.6, 0.7))
    tr = _Track()
    _setup_channel(tr, rng, 0, comp, (70, 105))
    if has_horn:
        _setup_channel(tr, rng, 1, horn, (80, 115))
    _setup_channel(tr, rng, 2, bass, (95, 127))
    _setup_channel(tr, rng, 9, 0, (70, 105))
    # ii-V-I style changes: (degree offset in semitones, chord quality)
    forms = [
        [(2, "m7"), (7, "7"), (0, "maj7"), (0, "maj7")],
        [(0, "maj7"), (9, "m7"), (2, "m7"), (7, "7")],
        [(2, "m7"), (7, "7"), (0, "maj7"), (9, "7")],
        [(0, "m7"), (5, "7"), (10, "maj7"), (3, "maj7")],
        [(5, "maj7"), (5, "m7"), (0, "maj7"), (7, "7")],
    ]
    form = forms[int(rng.integers(len(forms)))]
    quality = {"maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10), "7": (0, 4, 7, 10)}
    beats = int(seconds * tempo / 60) + 8
    bars = beats // 4 + 1

    def sw(beat_pos: float) -> float:  # swing the off-beat eighths
        b = int(beat_pos)
        frac = beat_pos - b
        return (b + (swing if abs(frac - 0.5) < 1e-6 else frac)) * TPB

    prev_bass = key
    for bar in range(bars):
        off, q = form[bar % len(form)]
        nxt_off, _ = form[(bar + 1) % len(form)]
        root = key + off
        t0 = bar * 4 * TPB
        tones = quality[q]
        # walking bass: chord tones then a chromatic approach into the next root
        line = [root, root + tones[int(rng.integers(1, 4))], root + tones[int(rng.integers(1, 3))]]
        target = key + nxt_off
        line.append(target + (1 if rng.random() < 0.5 else -1))
        for k, n in enumerate(line):
            while n - prev_bass > 7:
                n -= 12
            while prev_bass - n > 7:
                n += 12
            n = min(max(n, 28), 55)
            tr.note(2, n, t0 + k * TPB, TPB * 0.9, int(rng.integers(90, 120)))
            prev_bass = n
        # ride: ding, ding-a, ding, ding-a ; hi-hat pedal on 2 and 4
        for b in range(4):
            tr.note(9, 51, t0 + b * TPB, 60, int(rng.integers(70, 100)))
            if b % 2 == 1:
                tr.note(9, 51, t0 + sw(b + 0.5), 60, int(rng.integers(55, 85)))
                tr.note(9, 44, t0 + b * TPB, 60, int(rng.integers(60, 90)))
        if rng.random() < 0.4:
            tr.note(
                9, 38, t0 + sw(int(rng.integers(0, 4)) + 0.5), 60, int(rng.integers(30, 60))
            )  # ghost snare
        # comping: rootless-ish 7th voicings on syncopated hits
        voicing = [root + 12 + t for t in tones[1:]] + [
            root + 24 + tones[0] + (2 if rng.random() < 0.4 else 0)
        ]
        hits = sorted({float(rng.choice([0, 0.5, 1.5, 2, 2.5, 3.5])) for _ in range(int(rng.integers(2, 4)))})
        for h in hits:
            dur = TPB * float(rng.uniform(0.3, 1.2))
            vel = int(rng.integers(55, 95))
            for n in voicing:
                tr.note(0, n, t0 + sw(h), dur, vel)
        # horn: swung eighth-note lines from the chord scale, with rests
        if has_horn:
            scale = DORIAN if q == "m7" else MAJOR
            deg = int(rng.integers(0, 7))
            pos = 0.0
            while pos < 4:
                if rng.random() < 0.2:
                    pos += 0.5
                    continue
                deg += int(rng.choice([-2, -1, -1, 1, 1, 2, 3]))
                deg = int(np.clip(deg, -3, 10))
                n = _scale_note(root + 12 if horn in (57, 58) else root + 24, scale, deg)
                length = 0.5 if rng.random() < 0.8 else 1.0
                tr.note(1, n, t0 + sw(pos), TPB * length * 0.9, int(rng.integers(70, 110)))
                pos += length
    midi = tr.to_midi([(0, int(60e6 / tempo))])
    params = {
        "tempo": round(tempo, 2),
        "key": key,
        "swing": round(swing, 3),
        "form": [f"{o}{q}" for o, q in form],
    }
    programs = {"comping": comp, "bass": bass, **({"horn": horn} if has_horn else {})}
    return midi, params, programs, comp


def _electronic(rng: np.random.Generator, seconds: float) -> tuple[Any, dict[str, Any], dict[str, Any], int]:
    tempo = float(rng.uniform(115, 140))
    key = int(rng.integers(33, 45))
    bass = int(rng.choice([38, 39, 87, 81]))
    lead = int(rng.choice([80, 81, 84, 85, 87, 82]))
    pad = int(rng.choice([88, 89, 90, 91, 94, 95, 50]))
    scale = MINOR if rng.random() < 0.75 else DORIAN
    tr = _Track()
    _setup_channel(tr, rng, 0, lead, (60, 100))
    _setup_channel(tr, rng, 1, pad, (70, 110))
    _setup_channel(tr, rng, 2, bass, (95, 127))
    _setup_channel(tr, rng, 9, 0, (100, 127), reverb=int(rng.integers(0, 30)))
    progs = [[0, 5, 2, 6], [0, 0, 5, 6], [0, 3, 5, 4], [0, 6, 5, 6]]
    prog = progs[int(rng.integers(len(progs)))]
    bass_pat = int(rng.integers(3))  # 0 off-beat eighths, 1 rolling 16ths, 2 octave jumps
    arp_rate = int(rng.choice([2, 4]))
    pump = float(rng.uniform(0.25, 0.8))  # sidechain depth
    has_lead = bool(rng.random() < 0.8)
    beats = int(seconds * tempo / 60) + 8
    bars = beats // 4 + 1
    for bar in range(bars):
        deg = prog[bar % len(prog)]
        chord = _triad(key + 24, scale, deg, 4)
        t0 = bar * 4 * TPB
        for n in chord:
            tr.note(1, n, t0, 4 * TPB * 0.98, int(rng.integers(70, 100)))
        root = _scale_note(key, scale, deg)
        for b in range(4):
            tb = t0 + b * TPB
            tr.note(9, 36, tb, 60, int(rng.integers(115, 127)))  # four on the floor
            tr.note(9, 46 if rng.random() < 0.9 else 42, tb + TPB / 2, 60, int(rng.integers(80, 110)))
            for s in (0.25, 0.75):
                tr.note(9, 42, tb + s * TPB, 40, int(rng.integers(50, 80)))
            if b % 2 == 1:
                tr.note(9, 39 if rng.random() < 0.6 else 38, tb, 60, int(rng.integers(95, 120)))
            # sidechain pumping: duck pad and bass expression after each kick, then ramp back
            for k, frac in enumerate((0.0, 0.15, 0.3, 0.5, 0.75)):
                level = int(127 * (1 - pump * (1 - k / 4)))
                tr.cc(1, 11, level, tb + frac * TPB)
                tr.cc(2, 11, max(level, 70), tb + frac * TPB)
            if bass_pat == 0:
                tr.note(2, root, tb + TPB / 2, TPB * 0.45, int(rng.integers(100, 127)))
            elif bass_pat == 1:
                for s in (0.25, 0.5, 0.75):
                    tr.note(2, root, tb + s * TPB, TPB * 0.22, int(rng.integers(90, 120)))
            else:
                tr.note(2, root, tb, TPB * 0.4, 115)
                tr.note(2, root + 12, tb + TPB / 2, TPB * 0.4, 110)
        if has_lead:
            step = TPB / arp_rate
            tones = chord + [chord[0] + 12]
            for k in range(4 * arp_rate):
                n = (
                    tones[k % len(tones)] + 12
                    if rng.random() < 0.85
                    else tones[int(rng.integers(len(tones)))] + 24
                )
                tr.note(0, n, t0 + k * step, step * 0.8, int(rng.integers(70, 110)))
    midi = tr.to_midi([(0, int(60e6 / tempo))])
    params = {
        "tempo": round(tempo, 2),
        "key": key,
        "progression": prog,
        "bassPattern": bass_pat,
        "arpRate": arp_rate,
        "pump": round(pump, 3),
        "lead": has_lead,
    }
    programs = {"bass": bass, "pad": pad, **({"lead": lead} if has_lead else {})}
    return midi, params, programs, pad


def _classical(rng: np.random.Generator, seconds: float) -> tuple[Any, dict[str, Any], dict[str, Any], int]:
    ensembles = {
        "strings": [48, 49, 40, 41, 42, 44],
        "woodwinds": [73, 68, 71, 70, 72],
        "piano": [0],
        "chamber": [40, 41, 42, 43],
        "winds_strings": [73, 71, 48, 42],
    }
    kind = str(rng.choice(sorted(ensembles)))
    tempo = float(rng.uniform(55, 125))
    key = int(rng.integers(48, 60))
    scale = MAJOR if rng.random() < 0.6 else MINOR
    tr = _Track()
    if kind == "piano":
        voices = [0, 0, 0, 0]
    elif kind == "strings":
        top = int(rng.choice([48, 49, 40]))
        voices = [
            top,
            int(rng.choice([48, 49, 41])),
            int(rng.choice([48, 41, 42])),
            int(rng.choice([42, 43, 48])),
        ]
    elif kind == "woodwinds":
        voices = [int(rng.choice([73, 68])), int(rng.choice([68, 71])), 71, 70]
    elif kind == "chamber":
        voices = [40, 40, 41, 42]
    else:
        voices = [73, 71, 48, 42]
    for ch, p in enumerate(voices):
        _setup_channel(tr, rng, ch, p, (80, 120), reverb=int(rng.integers(40, 110)))
    progs = [
        [0, 3, 4, 0, 5, 1, 4, 0],
        [0, 5, 3, 4, 0, 3, 4, 0],
        [0, 4, 5, 2, 3, 0, 3, 4],
        [0, 1, 4, 0, 5, 3, 4, 4],
    ]
    prog = progs[int(rng.integers(len(progs)))]
    beats_per_bar = int(rng.choice([3, 4]))
    texture = str(rng.choice(["chorale", "melody", "arpeggio"]))
    beats = int(seconds * tempo / 60 * 1.3) + 8
    bars = beats // beats_per_bar + 1
    # rubato: tempo drifts every beat; wide dynamics: expression swells per phrase
    tempo_map: list[tuple[int, int]] = []
    phase = float(rng.uniform(0, 2 * np.pi))
    depth = float(rng.uniform(0.05, 0.2))
    for b in range(bars * beats_per_bar):
        tm = tempo * (1 + depth * np.sin(phase + b * 0.7) + float(rng.normal(0, 0.03)))
        tempo_map.append((b * TPB, int(60e6 / max(30.0, tm))))
    dyn_lo, dyn_hi = int(rng.integers(25, 60)), int(rng.integers(100, 128))
    mel_deg = 7
    for bar in range(bars):
        deg = prog[bar % len(prog)]
        t0 = bar * beats_per_bar * TPB
        chord = _triad(key, scale, deg, 3)
        span = beats_per_bar * TPB
        phrase = (bar % 4) / 3.0
        expr = int(dyn_lo + (dyn_hi - dyn_lo) * (np.sin(np.pi * phrase)))
        for ch in range(4):
            tr.cc(ch, 11, expr, t0)
        vel = int(np.clip(expr + rng.integers(-10, 10), 20, 127))
        bass_note = chord[0] - 24 if kind != "woodwinds" else chord[0] - 12
        if texture == "chorale":
            for b in range(0, beats_per_bar, 1 if rng.random() < 0.5 else beats_per_bar):
                dur = TPB * (1 if b + 1 < beats_per_bar else beats_per_bar - b)
                tr.note(0, chord[2] + 12, t0 + b * TPB, dur * 0.97, vel)
                tr.note(1, chord[1] + 12, t0 + b * TPB, dur * 0.97, vel - 8)
                tr.note(2, chord[0], t0 + b * TPB, dur * 0.97, vel - 8)
                tr.note(3, bass_note, t0 + b * TPB, dur * 0.97, vel)
        else:
            # melody in voice 0, moving stepwise
            pos = 0.0
            while pos < beats_per_bar:
                mel_deg = int(np.clip(mel_deg + int(rng.choice([-2, -1, -1, 1, 1, 2])), 3, 14))
                length = float(rng.choice([0.5, 1, 1, 1.5, 2]))
                length = min(length, beats_per_bar - pos)
                tr.note(
                    0,
                    _scale_note(key + 12, scale, mel_deg),
                    t0 + pos * TPB,
                    length * TPB * 0.95,
                    int(np.clip(vel + rng.integers(-8, 12), 20, 127)),
                )
                pos += length
            if texture == "arpeggio":  # alberti-like broken chords
                pattern = [chord[0], chord[2], chord[1], chord[2]]
                for k in range(beats_per_bar * 2):
                    tr.note(
                        1 if kind != "piano" else 1, pattern[k % 4], t0 + k * TPB / 2, TPB / 2 * 0.9, vel - 15
                    )
            else:
                tr.note(1, chord[1], t0, span * 0.97, vel - 15)
                tr.note(2, chord[2] - 12, t0, span * 0.97, vel - 15)
            tr.note(3, bass_note, t0, span * 0.97, vel - 5)
    midi = tr.to_midi(tempo_map)
    params = {
        "tempo": round(tempo, 2),
        "key": key,
        "ensemble": kind,
        "texture": texture,
        "meter": beats_per_bar,
        "rubato": round(depth, 3),
        "dynamics": [dyn_lo, dyn_hi],
    }
    programs = {f"voice{i}": p for i, p in enumerate(voices)}
    return midi, params, programs, voices[0]


STYLE_WRITERS: dict[
    str, Callable[[np.random.Generator, float], tuple[Any, dict[str, Any], dict[str, Any], int]]
] = {
    "rock": _rock,
    "jazz": _jazz,
    "electronic": _electronic,
    "classical": _classical,
}


def render_midi(midi: Any, workdir: Path, *, gain: float = 0.5, reverb: bool = True) -> np.ndarray:
    """Render a mido MidiFile with fluidsynth at 48 kHz; returns mono float64 in [-1, 1]."""
    import soundfile as sf

    mid_path = workdir / "clip.mid"
    wav_path = workdir / "clip.wav"
    midi.save(str(mid_path))
    cmd = [
        "fluidsynth",
        "-ni",
        "-q",
        "-g",
        f"{gain:.3f}",
        "-R",
        "1" if reverb else "0",
        "-C",
        "1",
        "-o",
        "synth.cpu-cores=1",
        "-F",
        str(wav_path),
        "-r",
        str(SAMPLE_RATE),
        find_soundfont(),
        str(mid_path),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0 or not wav_path.is_file():
        raise CorpusError(f"fluidsynth failed: {res.stderr.strip()[:200]}")
    data, sr = sf.read(str(wav_path), dtype="float64", always_2d=True)
    result: np.ndarray = data.mean(axis=1)
    return result


# ----------------------------------------------------------------------------- speech

_WORDS = {
    "en": "the a studio morning news weather today traffic music listen people city council report said "
    "will would could after before between market price government minister water school children "
    "sport team game season player coach interview question answer really think know right here "
    "there because about very good new first last time year week night program radio station".split(),
    "de": "der die das und ist nicht heute morgen wetter nachrichten stadt regierung wasser schule kinder "
    "spiel mannschaft trainer frage antwort wirklich glaube hier dort weil sehr gut neu erste "
    "letzte zeit jahr woche nacht programm sender musik hören leute markt preis".split(),
    "fr": "le la les et est pas aujourd'hui matin météo nouvelles ville gouvernement eau école enfants "
    "match équipe entraîneur question réponse vraiment pense ici parce que très bon nouveau premier "
    "dernier temps année semaine nuit émission radio musique écouter gens marché prix".split(),
    "es": "el la los y es no hoy mañana tiempo noticias ciudad gobierno agua escuela niños partido equipo "
    "entrenador pregunta respuesta realmente creo aquí allí porque muy bueno nuevo primero último "
    "año semana noche programa radio música escuchar gente mercado precio".split(),
    "it": "il la e è non oggi mattina tempo notizie città governo acqua scuola bambini partita squadra "
    "allenatore domanda risposta davvero penso qui perché molto buono nuovo primo ultimo anno "
    "settimana notte programma radio musica ascoltare gente mercato prezzo".split(),
    "pt": "o a os e é não hoje manhã tempo notícias cidade governo água escola crianças jogo equipe "
    "treinador pergunta resposta realmente acho aqui porque muito bom novo primeiro último ano "
    "semana noite programa rádio música ouvir pessoas mercado preço".split(),
    "nl": "de het een en is niet vandaag morgen weer nieuws stad regering water school kinderen wedstrijd "
    "ploeg trainer vraag antwoord echt denk hier daar omdat heel goed nieuw eerste laatste tijd "
    "jaar week nacht programma radio muziek luisteren mensen markt prijs".split(),
    "pl": "i jest nie dzisiaj rano pogoda wiadomości miasto rząd woda szkoła dzieci mecz drużyna trener "
    "pytanie odpowiedź naprawdę myślę tutaj bo bardzo dobry nowy pierwszy ostatni czas rok "
    "tydzień noc program radio muzyka słuchać ludzie rynek cena".split(),
    "sv": "och är inte idag morgon väder nyheter stad regering vatten skola barn match lag tränare fråga "
    "svar verkligen tror här där eftersom mycket bra ny första sista tid år vecka natt program "
    "radio musik lyssna folk marknad pris".split(),
}
# espeak-ng voices: language code -> the voice name to pass with -v
LANG_VOICES = {
    "en": "en-us",
    "de": "de",
    "fr": "fr-fr",
    "es": "es",
    "it": "it",
    "pt": "pt",
    "nl": "nl",
    "pl": "pl",
    "sv": "sv",
}
VARIANTS = (
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "klatt",
    "klatt3",
    "croak",
    "whisper",
    "adam",
    "linda",
    "steph",
    "john",
    "iven",
    "david",
    "michael",
    "anika",
)


def _sentence(rng: np.random.Generator, lang: str) -> str:
    words = _WORDS[lang]
    n = int(rng.integers(5, 14))
    sent = " ".join(words[int(rng.integers(len(words)))] for _ in range(n))
    punct = str(rng.choice([".", ".", "?", "!", ","]))
    return sent[0].upper() + sent[1:] + punct


def speak(text: str, voice: str, *, rate: int, pitch: int, workdir: Path, wordgap: int = 0) -> np.ndarray:
    """Synthesize ``text`` with espeak-ng and return mono float64 at 48 kHz."""
    import soundfile as sf
    from scipy.signal import resample_poly

    wav = workdir / "speech.wav"
    cmd = [
        "espeak-ng",
        "-v",
        voice,
        "-s",
        str(rate),
        "-p",
        str(pitch),
        "-g",
        str(wordgap),
        "-w",
        str(wav),
        text,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if res.returncode != 0 or not wav.is_file():
        raise CorpusError(f"espeak-ng failed for voice {voice}: {res.stderr.strip()[:200]}")
    data, sr = sf.read(str(wav), dtype="float64", always_2d=True)
    mono = data.mean(axis=1)
    if sr != SAMPLE_RATE:
        from math import gcd

        g = gcd(sr, SAMPLE_RATE)
        mono = resample_poly(mono, SAMPLE_RATE // g, sr // g)
    result: np.ndarray = mono
    return result


def vad_trim(x: np.ndarray, *, aggressiveness: int = 2, frame_ms: int = 30) -> np.ndarray:
    """Trim leading and trailing non-speech with webrtcvad (48 kHz, 30 ms frames)."""
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    n = SAMPLE_RATE * frame_ms // 1000
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    flags = [vad.is_speech(pcm[i : i + n].tobytes(), SAMPLE_RATE) for i in range(0, len(pcm) - n + 1, n)]
    if not any(flags):
        return x
    first = flags.index(True)
    last = len(flags) - 1 - flags[::-1].index(True)
    return x[first * n : (last + 1) * n]


# ----------------------------------------------------------------------------- augmentation


def _normalize(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    m = float(np.max(np.abs(x))) if len(x) else 0.0
    return x * (peak / m) if m > 1e-9 else x


def room_ir(rng: np.random.Generator, rt60: float) -> np.ndarray:
    """A synthetic room impulse response: direct path + exponentially decaying noise tail."""
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / rt60)
    pre = int(rng.uniform(0.002, 0.02) * SAMPLE_RATE)
    tail[:pre] = 0.0
    ir = tail * float(rng.uniform(0.1, 0.4))
    ir[0] = 1.0
    return ir


def reverb(x: np.ndarray, rng: np.random.Generator, rt60: float, wet: float) -> np.ndarray:
    from scipy.signal import fftconvolve

    y = fftconvolve(x, room_ir(rng, rt60))[: len(x)]
    y = _normalize(y, float(np.max(np.abs(x))) or 1.0)
    return (1 - wet) * x + wet * y


def colored_noise(rng: np.random.Generator, n: int, color: str) -> np.ndarray:
    """White, pink (1/f) or brown (1/f^2) noise with unit RMS."""
    white = rng.standard_normal(n)
    if color == "white":
        out = white
    else:
        spec = np.fft.rfft(white)
        f = np.arange(len(spec), dtype=float)
        f[0] = 1.0
        spec = spec / (np.sqrt(f) if color == "pink" else f)
        out = np.fft.irfft(spec, n)
    result: np.ndarray = out / (np.sqrt(np.mean(out**2)) + 1e-12)
    return result


def add_noise(x: np.ndarray, rng: np.random.Generator, snr_db: float, color: str) -> np.ndarray:
    p = float(np.sqrt(np.mean(x**2))) + 1e-12
    return x + colored_noise(rng, len(x), color) * p * 10 ** (-snr_db / 20)


def eq_tilt(x: np.ndarray, tilt_db: float) -> np.ndarray:
    """A gentle spectral tilt: first-order shelf pair around 1 kHz, ``tilt_db`` high minus low."""
    from scipy.signal import lfilter

    a = np.exp(-2 * np.pi * 1000 / SAMPLE_RATE)
    low = lfilter([1 - a], [1, -a], x)
    high = x - low
    g = 10 ** (tilt_db / 40)
    result: np.ndarray = low / g + high * g
    return result


def phone_band(x: np.ndarray) -> np.ndarray:
    """Telephone band: 300-3400 Hz band-pass, through 8 kHz and back, mu-law-like coarse quantizing."""
    from scipy.signal import butter, resample_poly, sosfilt

    sos = butter(4, [300, 3400], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    y = sosfilt(sos, x)
    y = resample_poly(y, 1, 6)
    mu = 255.0
    m = float(np.max(np.abs(y))) or 1.0
    c = np.sign(y / m) * np.log1p(mu * np.abs(y / m)) / np.log1p(mu)
    c = np.round(c * 127) / 127
    y = np.sign(c) * (np.expm1(np.abs(c) * np.log1p(mu)) / mu) * m
    result: np.ndarray = resample_poly(y, 6, 1)[: len(x)]
    return result


def opus_roundtrip(x: np.ndarray, compression_level: float) -> np.ndarray:
    """Encode to Ogg/Opus in memory with libsndfile and decode again (48 kHz)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(
        buf,
        np.clip(x, -1, 1).astype(np.float32),
        SAMPLE_RATE,
        format="OGG",
        subtype="OPUS",
        compression_level=compression_level,
    )
    buf.seek(0)
    y, _ = sf.read(buf, dtype="float64")
    y = y[: len(x)]
    if len(y) < len(x):
        y = np.pad(y, (0, len(x) - len(y)))
    result: np.ndarray = y
    return result


def augment(x: np.ndarray, rng: np.random.Generator, label: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply the random augmentation chain; returns audio and a record of what was done."""
    rec: dict[str, Any] = {}
    if rng.random() < 0.5:
        rec["eqTiltDb"] = round(float(rng.uniform(-6, 6)), 2)
        x = eq_tilt(x, rec["eqTiltDb"])
    if label != "speech" and rng.random() < 0.25:
        rec["reverb"] = {
            "rt60": round(float(rng.uniform(0.2, 1.2)), 3),
            "wet": round(float(rng.uniform(0.1, 0.4)), 3),
        }
        x = reverb(x, rng, rec["reverb"]["rt60"], rec["reverb"]["wet"])
    if label != "speech" and rng.random() < 0.25:
        rec["noise"] = {
            "snrDb": float(rng.choice([15, 20, 30, 40])),
            "color": str(rng.choice(["white", "pink", "brown"])),
        }
        x = add_noise(x, rng, rec["noise"]["snrDb"], rec["noise"]["color"])
    peak_db = float(rng.uniform(-24, -0.5))
    rec["peakDb"] = round(peak_db, 2)
    x = _normalize(x, 10 ** (peak_db / 20))
    if rng.random() < 0.25:
        rec["opusLevel"] = round(float(rng.uniform(0.0, 0.9)), 2)
        x = opus_roundtrip(x, rec["opusLevel"])
    return x, rec


def _fit(x: np.ndarray, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    if len(x) >= n:
        start = 0 if rng is None else int(rng.integers(0, len(x) - n + 1))
        return x[start : start + n]
    return np.pad(x, (0, n - len(x)))


# ----------------------------------------------------------------------------- clips


def _music_clip(
    style: str, rng: np.random.Generator, seconds: float, workdir: Path
) -> tuple[np.ndarray, dict[str, Any]]:
    midi, params, programs, lead = STYLE_WRITERS[style](rng, seconds + 3.0)
    fs_gain = round(float(rng.uniform(0.3, 0.7)), 3)
    fs_reverb = bool(rng.random() < 0.7)
    audio = render_midi(midi, workdir, gain=fs_gain, reverb=fs_reverb)
    skip = int(rng.uniform(0.2, 1.5) * SAMPLE_RATE)
    audio = _fit(audio[skip:], int(seconds * SAMPLE_RATE))
    meta = {
        "style": params,
        "programs": programs,
        "leadProgram": int(lead),
        "fluidsynth": {"gain": fs_gain, "reverb": fs_reverb},
    }
    return audio, meta


def _speech_clip(
    rng: np.random.Generator, seconds: float, workdir: Path
) -> tuple[np.ndarray, dict[str, Any]]:
    lang = str(rng.choice(sorted(LANG_VOICES)))
    variant = str(rng.choice(VARIANTS))
    voice = f"{LANG_VOICES[lang]}+{variant}"
    rate = int(rng.integers(120, 230))
    pitch = int(rng.integers(15, 85))
    wordgap = int(rng.choice([0, 0, 1, 3]))
    need = int(seconds * SAMPLE_RATE)
    parts: list[np.ndarray] = []
    total = 0
    sentences = 0
    while total < need + SAMPLE_RATE and sentences < 12:
        text = " ".join(_sentence(rng, lang) for _ in range(2))
        sp = vad_trim(speak(text, voice, rate=rate, pitch=pitch, workdir=workdir, wordgap=wordgap))
        pause = np.zeros(int(rng.uniform(0.15, 0.6) * SAMPLE_RATE))
        parts += [sp, pause]
        total += len(sp) + len(pause)
        sentences += 2
    x = np.concatenate(parts)
    x = vad_trim(x)
    x = _fit(x, need)
    x = _normalize(x)
    meta: dict[str, Any] = {
        "voice": voice,
        "language": lang,
        "variant": variant,
        "rate": rate,
        "pitch": pitch,
        "wordGap": wordgap,
    }
    if rng.random() < 0.6:
        meta["room"] = {
            "rt60": round(float(rng.uniform(0.15, 0.9)), 3),
            "wet": round(float(rng.uniform(0.1, 0.5)), 3),
        }
        x = reverb(x, rng, meta["room"]["rt60"], meta["room"]["wet"])
    if rng.random() < 0.35:
        style = str(rng.choice(["rock", "jazz", "electronic", "classical"]))
        bed, bed_meta = _music_clip(style, rng, seconds, workdir)
        # podcast bed: its RMS sits 12-26 dB below the speech's RMS
        bed_db = float(rng.uniform(-26, -12))
        bed_rms = float(np.sqrt(np.mean(bed**2))) or 1.0
        x = x + bed * (float(np.sqrt(np.mean(x**2))) / bed_rms) * 10 ** (bed_db / 20)
        meta["bed"] = {"style": style, "levelDb": round(bed_db, 2), "programs": bed_meta["programs"]}
    if rng.random() < 0.5:
        meta["noise"] = {
            "snrDb": float(rng.choice([5, 10, 20, 30])),
            "color": str(rng.choice(["white", "pink", "brown"])),
        }
        x = add_noise(x, rng, meta["noise"]["snrDb"], meta["noise"]["color"])
    if rng.random() < 0.2:
        meta["phoneBand"] = True
        x = phone_band(x)
    return x, meta


def plan_corpus(n_clips: int, seed: int = 0) -> list[dict[str, Any]]:
    """The deterministic list of clip jobs: labels cycle through the five classes."""
    if n_clips < 1:
        raise ValueError(f"clips={n_clips} must be >= 1")
    return [{"index": i, "label": GENRES[i % len(GENRES)], "corpusSeed": int(seed)} for i in range(n_clips)]


def make_clip(
    job: dict[str, Any], seconds: float = 8.0, workdir: str | Path | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Generate one clip (mono float32 at 48 kHz) and its metadata from a plan entry."""
    idx, label, seed = int(job["index"]), str(job["label"]), int(job["corpusSeed"])
    rng = np.random.default_rng([seed, idx])
    clip_seed = int(rng.integers(0, 2**31 - 1))
    rng = np.random.default_rng(clip_seed)
    own_tmp = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="aimixer-corpus-")) if workdir is None else Path(workdir)
    try:
        if label == "speech":
            x, meta = _speech_clip(rng, seconds, wd)
            group = f"speech:{meta['variant']}"
        else:
            x, meta = _music_clip(label, rng, seconds, wd)
            group = f"{label}:prog{meta['leadProgram']}"
        x, aug = augment(x, rng, label)
    finally:
        if own_tmp:
            shutil.rmtree(wd, ignore_errors=True)
    x = np.clip(x, -1.0, 1.0).astype(np.float32)
    meta = {
        "index": idx,
        "label": label,
        "seed": clip_seed,
        "corpusSeed": seed,
        "group": group,
        **meta,
        "augment": aug,
        "seconds": seconds,
    }
    return x, meta


def _worker(args: tuple[dict[str, Any], float, str]) -> dict[str, Any]:
    import soundfile as sf

    job, seconds, out_dir = args
    x, meta = make_clip(job, seconds)
    rel = f"{meta['label']}/{meta['label']}_{meta['corpusSeed']}_{meta['index']:05d}.flac"
    path = Path(out_dir) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    meta["file"] = rel
    return meta


def generate_corpus(
    out_dir: str | Path,
    *,
    clips: int = 750,
    seed: int = 0,
    seconds: float = 8.0,
    jobs: int = 2,
    progress: bool = True,
) -> Path:
    """Write ``clips`` labelled clips under ``out_dir/<genre>/`` plus ``manifest.json``/``.csv``.

    Returns the manifest path. Existing clip files are overwritten; the manifest lists exactly
    the clips of this run, sorted by index.
    """
    check_tools()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = plan_corpus(clips, seed)
    tasks = [(job, float(seconds), str(out)) for job in plan]
    metas: list[dict[str, Any]] = []
    bar = _progress(len(tasks), "corpus", progress)
    if jobs <= 1 or len(tasks) < 4:
        for t in tasks:
            metas.append(_worker(t))
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            for m in ex.map(_worker, tasks, chunksize=4):
                metas.append(m)
                bar.update(1)
    bar.close()
    metas.sort(key=lambda m: m["index"])
    manifest = {
        "version": CORPUS_VERSION,
        "seed": int(seed),
        "clips": len(metas),
        "seconds": seconds,
        "sampleRate": SAMPLE_RATE,
        "soundfont": Path(find_soundfont()).name,
        "items": metas,
    }
    mpath = out / "manifest.json"
    mpath.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    with open(out / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label", "group", "seed", "index", "programs", "voice"])
        for m in metas:
            w.writerow(
                [
                    m["file"],
                    m["label"],
                    m["group"],
                    m["seed"],
                    m["index"],
                    json.dumps(m.get("programs", {}), sort_keys=True),
                    m.get("voice", ""),
                ]
            )
    return mpath


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return _NullBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="clip", file=sys.stderr, dynamic_ncols=True)


def iter_manifest(manifest_path: str | Path) -> Iterable[dict[str, Any]]:
    """Yield manifest items with ``path`` resolved."""
    mp = Path(manifest_path)
    data = json.loads(mp.read_text())
    for item in data["items"]:
        yield {**item, "path": str(mp.parent / item["file"])}


if __name__ == "__main__":  # pragma: no cover
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--clips", type=int, default=750)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    print(generate_corpus(a.out, clips=a.clips, seed=a.seed, jobs=a.jobs))
