// Live audio in the worker: SharedArrayBuffer rings (written and read by worklet.js) <-> 960-sample
// frames through one session. Stereo (`channels` = 2): one planar ring per channel in each buffer
// (channel c at c * length / 2), a frame is both channels' 960 samples back to back, processed
// by a linked session (jsbridge.LinkedSession). Each frame's output is published before the deferred work (genre
// analysis, metering) of that frame runs; late frames are counted and logged.

import { AIMixerError, FRAME_SIZE, RING } from "./protocol.js";
import { now } from "./startup.js";

/** @typedef {import("./protocol.js").Session} Session */
/** @typedef {import("./protocol.js").LiveRings} LiveRings */
/** @typedef {import("./protocol.js").LiveStopReply} LiveStopReply */
/** @typedef {import("./protocol.js").MixConfig} MixConfig */

/**
 * What the live loop uses of the engine.
 * @typedef {object} LiveHost
 * @property {(s: Session, samples: Float32Array, configJson: string | undefined,
 *   opts: {wantResult: boolean, out: Float32Array}) => import("./protocol.js").MixResult | null} runFrame
 *   one frame through the session's chain, timed into the stats
 * @property {(s: Session) => Promise<void>} settle the session's deferred work
 * @property {(s: Session) => void} forget drop the session from the engine's deferred-work set
 * @property {(s: Session) => void} release forget the session and destroy it (and its frame path)
 * @property {(s: Session) => number[] | null} gainReduction
 * @property {() => object} stats
 */

/** Copy `n` samples of a ring starting at absolute position `pos` into `dst`. */
function readRing(/** @type {Float32Array} */ ring, /** @type {number} */ pos, /** @type {Float32Array} */ dst) {
  const cap = ring.length;
  const n = dst.length;
  const at = pos % cap;
  if (at + n <= cap) dst.set(ring.subarray(at, at + n));
  else for (let i = 0; i < n; i++) dst[i] = ring[(pos + i) % cap];
}

/** Copy `src` into a ring at absolute position `pos`. */
function writeRing(/** @type {Float32Array} */ ring, /** @type {number} */ pos, /** @type {Float32Array} */ src) {
  const cap = ring.length;
  const n = src.length;
  const at = pos % cap;
  if (at + n <= cap) ring.set(src, at);
  else for (let i = 0; i < n; i++) ring[(pos + i) % cap] = src[i];
}

/** One running live stream: the loop over the rings, its counters and its session. */
export class LiveLoop {
  /**
   * @param {{host: LiveHost, session: Session, rings: LiveRings, config: MixConfig | null,
   *   configJson: string | undefined, postMetrics: (m: object) => void, metricsEvery: number,
   *   channels?: number}} opts
   */
  constructor({ host, session, rings, config, configJson, postMetrics, metricsEvery, channels = 1 }) {
    this.host = host;
    this.s = session;
    this.channels = channels;
    this.header = new Int32Array(rings.header);
    const input = new Float32Array(rings.input);
    const output = new Float32Array(rings.output);
    const cap = input.length / channels;
    const part = (/** @type {Float32Array} */ a, /** @type {number} */ c) => a.subarray(c * cap, (c + 1) * cap);
    /** @type {Float32Array[]} one ring per channel */
    this.input = Array.from({ length: channels }, (_, c) => part(input, c));
    /** @type {Float32Array[]} */
    this.output = Array.from({ length: channels }, (_, c) => part(output, c));
    this.config = config;
    this.configJson = configJson;
    this.postMetrics = postMetrics;
    this.metricsEvery = metricsEvery;
    this.running = true;
    this.frames = 0;
    this.late = 0;
    /** @type {{frame: number, backlogSamples: number, frameMs: number, prevSettleMs: number, sinceLastFrameMs: number}[]} */
    this.lateLog = []; // the first 100 late frames
    this.lastSettleMs = 0;
    this.lastFrameAt = 0;
    this.frame = new Float32Array(FRAME_SIZE * channels); // planar: channel c at c * FRAME_SIZE
    this.processed = new Float32Array(FRAME_SIZE * channels);
    const slot = (/** @type {Float32Array} */ a, /** @type {number} */ c) => a.subarray(c * FRAME_SIZE, (c + 1) * FRAME_SIZE);
    this.frameParts = this.input.map((_, c) => slot(this.frame, c));
    this.processedParts = this.input.map((_, c) => slot(this.processed, c));
    this.latency = Atomics.load(this.header, RING.LATENCY);
    /** @type {Promise<void>} */
    this.done = this.loop();
  }

  /** @param {MixConfig | null} config @param {string | undefined} configJson */
  setConfig(config, configJson) {
    this.config = config;
    this.configJson = configJson;
  }

  /** One frame: ring -> buffer -> DSP -> ring. The output is published before the genre work. */
  frameOnce(/** @type {number} */ read) {
    const { header, host } = this;
    const t0 = now();
    // samples that arrived after this frame was complete: how late the worker picked it up
    const backlog = Atomics.load(header, RING.IN_WRITE) - (read + FRAME_SIZE);
    for (let c = 0; c < this.channels; c++) readRing(this.input[c], read, this.frameParts[c]);
    Atomics.store(header, RING.IN_READ, read + FRAME_SIZE);
    const want = (this.frames + 1) % this.metricsEvery === 0;
    let res = null;
    try {
      res = host.runFrame(this.s, this.frame, this.configJson, { wantResult: want, out: this.processed });
    } catch (e) {
      this.postMetrics({ error: AIMixerError.from(e).toJSON() });
      this.processed.fill(0);
    }
    const ow = Atomics.load(header, RING.OUT_WRITE);
    for (let c = 0; c < this.channels; c++) writeRing(this.output[c], ow, this.processedParts[c]);
    Atomics.store(header, RING.OUT_WRITE, ow + FRAME_SIZE);
    // late: the worklet already had to play (silence) where this frame's first samples go
    if (Atomics.load(header, RING.IN_WRITE) - this.latency > ow) {
      this.late += 1;
      if (this.lateLog.length < 100) {
        this.lateLog.push({
          frame: this.frames,
          backlogSamples: backlog,
          frameMs: now() - t0,
          prevSettleMs: this.lastSettleMs,
          sinceLastFrameMs: t0 - this.lastFrameAt,
        });
      }
    }
    this.lastFrameAt = t0;
    this.frames += 1;
    if (res && res.metrics) {
      const gr = host.gainReduction(this.s);
      this.postMetrics({
        metrics: res.metrics,
        gainReduction: gr && { noiseGate: gr[0], compressor: gr[1], limiter: gr[2] },
        frames: this.frames,
        lateFrames: this.late,
        dropouts: Atomics.load(header, RING.DROPOUTS),
        overruns: Atomics.load(header, RING.OVERRUNS),
        stats: host.stats(),
      });
    }
  }

  async loop() {
    const { header } = this;
    while (this.running) {
      const read = Atomics.load(header, RING.IN_READ);
      const v = Atomics.load(header, RING.IN_WRITE);
      if (v - read >= FRAME_SIZE) {
        this.frameOnce(read);
        // the genre analysis of this frame (and the model when a window is due) runs now,
        // after its output is in the ring, and before the next frame. Catching up after a
        // stall (another frame already waiting) with a fixed genre, it waits until the worker
        // is idle: the verdict cannot change such frames, and flush() replays the queued
        // blocks window by window, so the tracker ends up exactly where it would have been.
        const behind = Atomics.load(header, RING.IN_WRITE) - (read + FRAME_SIZE) >= FRAME_SIZE;
        if (behind && !(this.config && this.config.genre === "auto")) continue;
        const t = now();
        try {
          await this.host.settle(this.s);
          this.host.forget(this.s);
        } catch (e) {
          this.postMetrics({ error: AIMixerError.from(e).toJSON() });
        }
        this.lastSettleMs = now() - t;
        continue;
      }
      if (typeof Atomics.waitAsync === "function") {
        const w = Atomics.waitAsync(header, RING.IN_WRITE, v, 50);
        if (w.async) await w.value;
      } else {
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  }

  /**
   * Stop the loop; the counters now. The session is destroyed once the loop has ended.
   * @returns {LiveStopReply}
   */
  stop() {
    this.running = false;
    const out = {
      frames: this.frames,
      lateFrames: this.late,
      lateLog: this.lateLog,
      dropouts: Atomics.load(this.header, RING.DROPOUTS),
      overruns: Atomics.load(this.header, RING.OVERRUNS),
    };
    const s = this.s;
    Promise.resolve(this.done).finally(() => this.host.release(s));
    return out;
  }
}
