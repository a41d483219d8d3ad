// AudioWorklet processor: 128-frame render quanta <-> SharedArrayBuffer rings <-> the worker,
// which processes 960-sample frames. Output sample n is processed input sample n - L, where
// L = the ring latency (constant). A quantum whose processed samples have not arrived in time is
// output as silence and counted as a dropout; input that finds the ring full is an overrun.
// (Self-contained: AudioWorklet modules cannot import the SDK's other modules portably.)

const IN_WRITE = 0;
const IN_READ = 1;
const OUT_WRITE = 2;
const DROPOUTS = 3;
const OVERRUNS = 4;
const STATE = 5;
const LATENCY = 6;
const QUANTA = 7;

class AIMixerProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { rings, captureSamples, frameSize } = options.processorOptions;
    this.frameSize = frameSize || 960;
    this.header = new Int32Array(rings.header);
    this.input = new Float32Array(rings.input);
    this.output = new Float32Array(rings.output);
    this.latency = Atomics.load(this.header, LATENCY);
    this.pos = 0; // absolute input sample position
    this.capIn = captureSamples > 0 ? new Float32Array(captureSamples) : null;
    this.capOut = captureSamples > 0 ? new Float32Array(captureSamples) : null;
    this.port.onmessage = (ev) => {
      if (ev.data && ev.data.type === "getCapture") {
        const n = Math.min(this.pos, this.capIn ? this.capIn.length : 0);
        this.port.postMessage({
          type: "capture",
          input: this.capIn ? this.capIn.slice(0, n) : new Float32Array(0),
          output: this.capOut ? this.capOut.slice(0, n) : new Float32Array(0),
        });
      }
    };
  }

  process(inputs, outputs) {
    const h = this.header;
    if (Atomics.load(h, STATE) !== 1) return false;
    const inCh = inputs[0] && inputs[0][0];
    const outCh = outputs[0][0];
    const n = outCh.length;
    const cap = this.input.length;
    const pos = this.pos;
    // input -> ring (silence when the source has no channel yet)
    const read = Atomics.load(h, IN_READ);
    if (pos + n - read > cap) {
      Atomics.add(h, OVERRUNS, 1);
    } else {
      for (let i = 0; i < n; i++) this.input[(pos + i) % cap] = inCh ? inCh[i] : 0;
    }
    Atomics.store(h, IN_WRITE, pos + n);
    // wake the worker only when a whole frame is waiting (not on every quantum)
    if (pos + n - read >= this.frameSize) Atomics.notify(h, IN_WRITE);
    // ring -> output, delayed by the ring latency
    const start = pos - this.latency;
    const ocap = this.output.length;
    if (start + n <= 0) {
      outCh.fill(0);
    } else if (Atomics.load(h, OUT_WRITE) >= start + n) {
      for (let i = 0; i < n; i++) {
        const k = start + i;
        outCh[i] = k >= 0 ? this.output[k % ocap] : 0;
      }
    } else {
      outCh.fill(0);
      Atomics.add(h, DROPOUTS, 1);
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(outCh);
    if (this.capIn && pos < this.capIn.length) {
      const m = Math.min(n, this.capIn.length - pos);
      for (let i = 0; i < m; i++) {
        this.capIn[pos + i] = inCh ? inCh[i] : 0;
        this.capOut[pos + i] = outCh[i];
      }
    }
    this.pos = pos + n;
    Atomics.add(h, QUANTA, 1);
    return true;
  }
}

registerProcessor("aimixer-processor", AIMixerProcessor);
