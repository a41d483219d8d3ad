// The typed message protocol between the SDK (page / Node) and the engine (Web Worker / in-process),
// and the SDK's error type. Shared by every runtime; no dependencies.

/** Request types (page -> worker). Every request carries a numeric `id`. */
export const MSG = Object.freeze({
  INIT: "init", // {bundleUrl, manifest, options} -> {phases, versions}
  PROCESS_FRAME: "processFrame", // {samples: Float32Array, config} -> MixResult
  EXTRACT_FEATURES: "extractFeatures", // {samples, opts} -> features response
  CLASSIFY_GENRE: "classifyGenre", // {features, opts: {returnProbabilities, audioBuffer, numFilters, fftSize, hopSize, sampleRate, windowType}} -> classification
  SESSION_CREATE: "sessionCreate", // {config} -> {sessionId}
  SESSION_PROCESS: "sessionProcess", // {sessionId, samples, config} -> MixResult
  SESSION_RESET: "sessionReset", // {sessionId} -> {}
  SESSION_CLOSE: "sessionClose", // {sessionId} -> {}
  LIVE_START: "liveStart", // {sessionId, rings, config, port?} -> {latencySamples}
  LIVE_CONFIG: "liveConfig", // {config} -> {}
  LIVE_STOP: "liveStop", // {} -> {stats}
  STATS: "stats", // {} -> {frames, meanFrameMs, ...}
  MODEL_READY: "modelReady", // {} -> {model: bool} once the genre model has loaded (or failed)
  PROCESS_FILE: "processFile", // {jobId, channels: Float32Array[], sampleRate, config, targetLufs, truePeak} -> {channels, report}
  ANALYZE_FILE: "analyzeFile", // {jobId, channels, sampleRate, genre} -> analysis
  CANCEL: "cancel", // {jobId} -> {} (handled at once, not queued behind the job)
  CONTROLS: "controls", // {} -> aimixer_dsp.presets.controls()
});

/** Event / reply types (worker -> page). */
export const EVT = Object.freeze({
  PROGRESS: "progress", // {phase, state: "start"|"done", elapsedMs}
  RESULT: "result", // {id, result}
  ERROR: "error", // {id, error: {code, message, details}}
  LIVE_METRICS: "liveMetrics", // {metrics, frames, dropouts, overruns}
  JOB_PROGRESS: "jobProgress", // {jobId, phase: "analyse"|"classify"|"render"|"loudness", done, total}
});

/** Named init phases, in order. */
export const PHASES = Object.freeze(["runtime", "package", "model"]);

export const SAMPLE_RATE = 48000;
export const FRAME_SIZE = 960;
export const GENRES = Object.freeze(["speech", "rock", "jazz", "electronic", "classical"]);

/** Python exception class name -> API error code (mirrors the origin's codes). */
export const PY_ERROR_CODES = Object.freeze({
  ParameterError: "INVALID_PARAMETER",
  InvalidBufferError: "INVALID_BUFFER_SIZE",
  NonFiniteInputError: "INVALID_AUDIO",
  InvalidSampleRateError: "INVALID_SAMPLE_RATE",
  MissingFeaturesError: "MISSING_FEATURES",
  DSPError: "DSP_ERROR",
});

/**
 * The SDK's error. `code` mirrors the origin's error codes (`INVALID_BUFFER_SIZE`,
 * `INVALID_PARAMETER`, `UNAUTHORIZED`, `SERVICE_UNAVAILABLE`, ...).
 */
export class AIMixerError extends Error {
  constructor(code, message, details = {}, status = undefined) {
    super(message);
    this.name = "AIMixerError";
    this.code = code;
    this.details = details || {};
    if (status !== undefined) this.status = status;
  }

  toJSON() {
    return { code: this.code, message: this.message, details: this.details };
  }

  static from(obj) {
    if (obj instanceof AIMixerError) return obj;
    if (obj && typeof obj === "object" && typeof obj.code === "string") {
      return new AIMixerError(obj.code, obj.message || obj.code, obj.details || {}, obj.status);
    }
    return new AIMixerError("INTERNAL_ERROR", String((obj && obj.message) || obj));
  }
}

/** Layout of the SharedArrayBuffer rings used by live audio (indices into the Int32 header). */
export const RING = Object.freeze({
  IN_WRITE: 0, // samples written by the worklet (absolute count)
  IN_READ: 1, // samples consumed by the worker
  OUT_WRITE: 2, // processed samples written by the worker
  DROPOUTS: 3, // output quanta the worklet had to fill with silence
  OVERRUNS: 4, // input quanta lost because the input ring was full
  STATE: 5, // 1 running, 0 stopped
  LATENCY: 6, // ring latency in samples
  QUANTA: 7, // quanta rendered by the worklet
  HEADER_INTS: 8,
});
