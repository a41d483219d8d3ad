// Web Worker entry: boots the Engine (Pyodide + aimixer_dsp + onnxruntime-web) and answers the
// typed requests of protocol.js, one at a time, in arrival order. After each reply the engine
// does the work it deferred off the audio path (genre analysis, resetting the stateless chain)
// before the next request is handled.

import { createHandler } from "./engine.js";
import { AIMixerError, EVT } from "./protocol.js";

const handle = createHandler((msg) => self.postMessage(msg));
let queue = Promise.resolve();

self.onmessage = (ev) => {
  const msg = ev.data || {};
  queue = queue.then(async () => {
    try {
      const result = await handle(msg);
      const transfer =
        result && result.processedBuffer instanceof Float32Array ? [result.processedBuffer.buffer] : [];
      self.postMessage({ type: EVT.RESULT, id: msg.id, result }, transfer);
    } catch (e) {
      self.postMessage({ type: EVT.ERROR, id: msg.id, error: AIMixerError.from(e).toJSON() });
    }
    await handle.idle();
  });
};
