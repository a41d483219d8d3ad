// Web Worker entry: boots the Engine (Pyodide + aimixer_dsp + onnxruntime-web) and answers the
// typed requests of protocol.js, one at a time, in arrival order. After each reply the engine
// does the work it deferred off the audio path (genre analysis, resetting the stateless chain)
// before the next request is handled.

import { createHandler } from "./engine.js";
import { AIMixerError, EVT, MSG } from "./protocol.js";

const handle = createHandler((msg) => self.postMessage(msg));
let queue = Promise.resolve();

function transferList(result) {
  if (!result) return [];
  if (result.processedBuffer instanceof Float32Array) return [result.processedBuffer.buffer];
  if (Array.isArray(result.channels)) return result.channels.filter((c) => c instanceof Float32Array).map((c) => c.buffer);
  return [];
}

self.onmessage = (ev) => {
  const msg = ev.data || {};
  if (msg.type === MSG.CANCEL) {
    // not queued: the running file job checks for it between blocks
    handle(msg).then(
      (result) => self.postMessage({ type: EVT.RESULT, id: msg.id, result }),
      (e) => self.postMessage({ type: EVT.ERROR, id: msg.id, error: AIMixerError.from(e).toJSON() }),
    );
    return;
  }
  queue = queue.then(async () => {
    try {
      const result = await handle(msg);
      const transfer = transferList(result);
      self.postMessage({ type: EVT.RESULT, id: msg.id, result }, transfer);
    } catch (e) {
      self.postMessage({ type: EVT.ERROR, id: msg.id, error: AIMixerError.from(e).toJSON() });
    }
    await handle.idle();
  });
};
