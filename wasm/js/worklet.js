// AudioWorklet processor: 128-frame render quanta <-> SharedArrayBuffer rings <-> the worker,
// which processes 960-sample frames. Output sample n is processed input sample n - L, where
// L = the ring latency (constant). A quantum whose processed samples have not arrived in time is
// output as silence and counted as a dropout; input that finds the ring full is an overrun.
// With `channels` = 2 the rings hold one planar ring per channel (channel c at c * length / 2);
// the header's counters count sample frames (all channels move together).
// (Self-contained: AudioWorklet modules cannot import the SDK's other modules portably.)

/// <reference path="./worklet.d.ts" />

const IN_WRITE = 0;
const IN_READ = 1;
const OUT_WRITE = 2;
const DROPOUTS = 3;
const OVERRUNS = 4;
const STATE = 5;
const LATENCY = 6;
const QUANTA = 7;

class AIMixerProcessor extends AudioWorkletProcessor {
  /** @param {{processorOptions: {rings: {header: SharedArrayBuffer, input: SharedArrayBuffer,
   *   output: SharedArrayBuffer}, channels?: number, captureSamples: number, frameSize?: number}}} options */
  constructor(options) {
    super();
    const { rings, channels, captureSamples, frameSize } = options.processorOptions;
    this.frameSize = frameSize || 960;
    this.channels = channels || 1;
    this.header = new Int32Array(rings.header);
    const input = new Float32Array(rings.input);
    const output = new Float32Array(rings.output);
    this.cap = input.length / this.channels; // samples per channel ring
    /** @type {Float32Array[]} one ring per channel */
    this.input = [];
    /** @type {Float32Array[]} */
    this.output = [];
    for (let c = 0; c < this.channels; c++) {
      this.input.push(input.subarray(c * this.cap, (c + 1) * this.cap));
      this.output.push(output.subarray(c * this.cap, (c + 1) * this.cap));
    }
    this.latency = Atomics.load(this.header, LATENCY);
    this.pos = 0; // absolute input sample position
    const keep = (/** @type {number} */ c) => (captureSamples > 0 ? new Float32Array(captureSamples) : null);
    this.capIn = this.input.map((_, c) => keep(c));
    this.capOut = this.input.map((_, c) => keep(c));
    this.port.onmessage = (ev) => {
      if (ev.data && ev.data.type === "getCapture") {
        const n = Math.min(this.pos, captureSamples > 0 ? captureSamples : 0);
        const take = (/** @type {(Float32Array | null)[]} */ bufs) => bufs.map((b) => (b ? b.slice(0, n) : new Float32Array(0)));
        this.port.postMessage({ type: "capture", inputs: take(this.capIn), outputs: take(this.capOut) });
      }
    };
  }

  /**
   * @param {Float32Array[][]} inputs
   * @param {Float32Array[][]} outputs
   */
  process(inputs, outputs) {
    const h = this.header;
    if (Atomics.load(h, STATE) !== 1) return false;
    const ins = inputs[0] || [];
    const outs = outputs[0];
    const n = outs[0].length;
    const cap = this.cap;
    const pos = this.pos;
    const chans = this.channels;
    // input -> rings (silence when the source has no channel yet; a missing channel copies channel 0)
    const read = Atomics.load(h, IN_READ);
    if (pos + n - read > cap) {
      Atomics.add(h, OVERRUNS, 1);
    } else {
      for (let c = 0; c < chans; c++) {
        const src = ins[c] || ins[0];
        const ring = this.input[c];
        for (let i = 0; i < n; i++) ring[(pos + i) % cap] = src ? src[i] : 0;
      }
    }
    Atomics.store(h, IN_WRITE, pos + n);
    // wake the worker only when a whole frame is waiting (not on every quantum)
    if (pos + n - read >= this.frameSize) Atomics.notify(h, IN_WRITE);
    // rings -> output, delayed by the ring latency
    const start = pos - this.latency;
    const ready = start + n <= 0 || Atomics.load(h, OUT_WRITE) >= start + n;
    if (start + n > 0 && !ready) Atomics.add(h, DROPOUTS, 1);
    for (let c = 0; c < chans; c++) {
      const out = outs[c];
      if (!out) continue;
      if (start + n <= 0 || !ready) {
        out.fill(0);
      } else {
        const ring = this.output[c];
        for (let i = 0; i < n; i++) {
          const k = start + i;
          out[i] = k >= 0 ? ring[k % cap] : 0;
        }
      }
    }
    for (let c = chans; c < outs.length; c++) outs[c].set(outs[0]);
    const capIn = this.capIn[0];
    if (capIn && pos < capIn.length) {
      const m = Math.min(n, capIn.length - pos);
      for (let c = 0; c < chans; c++) {
        const src = ins[c] || ins[0];
        const ci = this.capIn[c];
        const co = this.capOut[c];
        const out = outs[c] || outs[0];
        for (let i = 0; i < m; i++) {
          ci[pos + i] = src ? src[i] : 0;
          co[pos + i] = out[i];
        }
      }
    }
    this.pos = pos + n;
    Atomics.add(h, QUANTA, 1);
    return true;
  }
}

registerProcessor("aimixer-processor", AIMixerProcessor);
