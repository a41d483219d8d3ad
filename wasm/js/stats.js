// The worker's timing statistics: the engine's whole call per frame on the audio path (with a
// ring of the last frames' times for percentiles) and the deferred work after each hand-back.

/**
 * frameMs: the engine's whole call for a frame on the audio path (input copy, Python call incl.
 * the DSP, output copy, metrics JSON); genreMs: the deferred genre analysis + model (after the
 * frame has been handed back); meterMs: the deferred loudness-meter work (the K-weighting of
 * frames that complete no 100 ms block, see MixerSession.defer_metering). The pure DSP time is
 * counted on the Python side (FrameIO.stats()).
 */
export class FrameStats {
  constructor() {
    this.frames = 0;
    this.totalMs = 0;
    this.maxMs = 0;
    this.genreMs = 0;
    this.genreMaxMs = 0;
    this.genreRuns = 0;
    this.meterMs = 0;
    this.recent = new Float32Array(4096); // the last frames' times (ms), a ring
    /** @type {{frames: number, ms: number} | null} the background JIT warm-up (startup.js) */
    this.warmup = null;
  }

  /** @param {number} ms one frame's time on the audio path */
  record(ms) {
    this.frames += 1;
    this.totalMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
    this.recent[this.frames % this.recent.length] = ms;
  }

  /** @param {number} ms one settle's genre analysis + model time */
  recordGenre(ms) {
    this.genreMs += ms;
    this.genreRuns += 1;
    if (ms > this.genreMaxMs) this.genreMaxMs = ms;
  }

  /**
   * A percentile of the last (up to 4096) frames' times on the audio path, in ms.
   * @param {number} q in [0, 1]
   */
  percentile(q) {
    const n = Math.min(this.frames, this.recent.length);
    if (!n) return 0;
    const v = (n === this.recent.length ? this.recent.slice() : this.recent.slice(1, n + 1)).sort();
    return v[Math.min(n - 1, Math.floor(q * n))];
  }

  /**
   * Worker-side timing. `meanFrameMs`/`maxFrameMs`: the engine's whole call per frame on the audio
   * path; `meanDspMs`/`maxDspMs`: the DSP alone (`MixerSession.process`, timed in Python);
   * `meanOverheadMs` = the difference (copies, the call, metrics JSON); `meanGenreMs`: the deferred
   * genre analysis + model per frame, run after the frame has been handed back;
   * `meanDeferredMeterMs`: the deferred loudness-meter work per frame (also after the hand-back);
   * `meanWorkerMs` = frame + genre + deferred meter: the worker's whole CPU time per frame.
   *
   * @param {{frames: number, dspMsTotal: number, dspMsMax: number}} py the Python side's figures
   * @returns {import("./protocol.js").WorkerStats}
   */
  report(py) {
    const { frames, totalMs, maxMs, genreMs, genreMaxMs, meterMs } = this;
    const meanFrameMs = frames ? totalMs / frames : 0;
    const meanDspMs = py.frames ? py.dspMsTotal / py.frames : 0;
    const meanGenreMs = frames ? genreMs / frames : 0;
    return {
      frames,
      meanFrameMs,
      maxFrameMs: maxMs,
      p50FrameMs: this.percentile(0.5),
      p99FrameMs: this.percentile(0.99),
      dspFrames: py.frames,
      meanDspMs,
      maxDspMs: py.dspMsMax,
      meanOverheadMs: frames && py.frames === frames ? meanFrameMs - meanDspMs : null,
      meanGenreMs,
      maxGenreMs: genreMaxMs,
      meanDeferredMeterMs: frames ? meterMs / frames : 0,
      warmup: this.warmup || null,
      meanWorkerMs: meanFrameMs + meanGenreMs + (frames ? meterMs / frames : 0),
    };
  }
}
