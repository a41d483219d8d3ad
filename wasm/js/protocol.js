// The typed message protocol between the SDK (page / Node) and the engine (Web Worker / in-process),
// and the SDK's error type. Shared by every runtime; no dependencies.

/**
 * Request types (page -> worker). Every request carries a numeric `id` and its `type`; the
 * payload and the reply of each are the typedefs below (`<Name>Request` -> `<Name>Reply`).
 */
export const MSG = Object.freeze({
  INIT: "init", // InitRequest -> InitReply
  PROCESS_FRAME: "processFrame", // FrameRequest -> MixResult
  EXTRACT_FEATURES: "extractFeatures", // ExtractFeaturesRequest -> the /extract-features response
  CLASSIFY_GENRE: "classifyGenre", // ClassifyGenreRequest -> ClassifyGenreReply
  SESSION_CREATE: "sessionCreate", // {} -> {sessionId}
  SESSION_PROCESS: "sessionProcess", // SessionProcessRequest -> MixResult & {sessionId}
  SESSION_RESET: "sessionReset", // {sessionId} -> {}
  SESSION_CLOSE: "sessionClose", // {sessionId} -> {}
  LIVE_START: "liveStart", // LiveStartRequest -> LiveStartReply
  LIVE_CONFIG: "liveConfig", // {config} -> {}
  LIVE_STOP: "liveStop", // {} -> LiveStopReply
  STATS: "stats", // {} -> WorkerStats
  MODEL_READY: "modelReady", // {} -> {model: boolean} once the genre model has loaded (or failed)
  PROCESS_FILE: "processFile", // ProcessFileRequest -> {channels: Float32Array[], report}
  ANALYZE_FILE: "analyzeFile", // AnalyzeFileRequest -> the analysis report
  CANCEL: "cancel", // {jobId} -> {} (handled at once, not queued behind the job)
  CONTROLS: "controls", // {} -> aimixer_dsp.presets.controls()
});

/** Event / reply types (worker -> page). */
export const EVT = Object.freeze({
  PROGRESS: "progress", // Progress
  RESULT: "result", // {id, result}
  ERROR: "error", // {id, error: {code, message, details}}
  LIVE_METRICS: "liveMetrics", // LiveMetricsEvent
  JOB_PROGRESS: "jobProgress", // {jobId, phase: "analyse"|"classify"|"render"|"loudness", done, total}
});

// ---- message payloads (JSDoc types, checked by `tsc --checkJs`, see jsconfig.json) ------------

/**
 * The `/process-audio` config (genre, gain, stages, bypass); validated by the package.
 * @typedef {{genre?: string | null, [field: string]: any}} MixConfig
 */

/**
 * @typedef {object} Metrics
 * @property {number | null} peak
 * @property {number | null} rms
 * @property {number | null} lufs
 * @property {number | null} momentaryLufs
 * @property {number | null} shortTermLufs
 * @property {string | null} genre
 * @property {number | null} confidence
 * @property {number | null} processingTime
 * @property {number | null} latencySamples
 * @property {number | null} truePeak
 * @property {number | null} truePeakMax
 */

/**
 * A frame's result (the origin's `/process-audio` response).
 * @typedef {object} MixResult
 * @property {Float32Array} [processedBuffer]
 * @property {Metrics} metrics
 * @property {Record<string, any>} appliedSettings
 * @property {string} [sessionId] session responses only
 */

/**
 * @typedef {object} InitRequest
 * @property {string} bundleUrl where manifest.json lives
 * @property {Manifest} manifest
 * @property {{loadModel?: boolean, lazyModel?: boolean, snapshot?: boolean, kernels?: boolean,
 *   warmupFrames?: number}} [options]
 */

/**
 * @typedef {object} InitReply
 * @property {string} pyodideVersion
 * @property {boolean} model the bundle has a genre model (false once it failed to load)
 * @property {boolean} snapshot booted from the interpreter snapshot
 * @property {string | null} snapshotError why the snapshot could not be used
 */

/** @typedef {{samples: Float32Array, config?: MixConfig | null}} FrameRequest */
/** @typedef {{sessionId: string, samples: Float32Array, config?: MixConfig | null}} SessionProcessRequest */

/**
 * @typedef {object} ExtractFeaturesRequest
 * @property {Float32Array} samples
 * @property {{sampleRate?: number, numCoefficients?: number, numFilters?: number, fftSize?: number,
 *   hopSize?: number, windowType?: string}} [opts]
 */

/**
 * `features`: the MFCC matrix of extractFeatures ([frames][coefficients], arrays or typed
 * arrays) or 48-value window vectors; or null with `opts.audioBuffer` (>= 3 s of 48 kHz audio).
 * The feature settings in `opts` are those the matrix was extracted with.
 * @typedef {object} ClassifyGenreRequest
 * @property {ArrayLike<number>[] | null} [features]
 * @property {{returnProbabilities?: boolean, audioBuffer?: Float32Array | number[], numFilters?: number,
 *   fftSize?: number, hopSize?: number, sampleRate?: number, windowType?: string}} [opts]
 */

/**
 * @typedef {object} ClassifyGenreReply
 * @property {string} genre
 * @property {number} confidence
 * @property {string | null} secondaryGenre
 * @property {string} modelVersion
 * @property {"mfccMatrix" | "windowVectors" | "audioBuffer"} inputKind
 * @property {number} windows
 * @property {Record<string, number>} [probabilities] with `returnProbabilities`
 */

/**
 * The live rings (see RING, worklet.js). `input`/`output` hold `channels` planar rings of equal
 * length back to back (channel c at c * length / channels).
 * @typedef {object} LiveRings
 * @property {SharedArrayBuffer} header Int32, RING.HEADER_INTS entries
 * @property {SharedArrayBuffer} input Float32
 * @property {SharedArrayBuffer} output Float32
 */

/**
 * @typedef {object} LiveStartRequest
 * @property {LiveRings} rings
 * @property {MixConfig | null} config
 * @property {number} [metricsEvery] post metrics every this many frames (default 5)
 * @property {number} [channels] 1 (default) or 2: stereo, linked detection
 */

/** @typedef {{ok: true, channels: number}} LiveStartReply */

/**
 * @typedef {object} LateFrame
 * @property {number} frame
 * @property {number} backlogSamples samples that had arrived after the frame was complete
 * @property {number} frameMs
 * @property {number} prevSettleMs the previous frame's deferred work
 * @property {number} sinceLastFrameMs
 */

/**
 * @typedef {object} LiveStopReply
 * @property {number} frames
 * @property {number} [lateFrames]
 * @property {LateFrame[]} [lateLog] the first 100 late frames
 * @property {number} [dropouts]
 * @property {number} [overruns]
 */

/**
 * Posted every `metricsEvery` frames, or `{error}` when a frame failed.
 * @typedef {object} LiveMetricsEvent
 * @property {Metrics} [metrics]
 * @property {{noiseGate: number, compressor: number, limiter: number} | null} [gainReduction] dB
 * @property {number} [frames]
 * @property {number} [lateFrames]
 * @property {number} [dropouts]
 * @property {number} [overruns]
 * @property {WorkerStats} [stats]
 * @property {{code: string, message: string, details: object}} [error]
 */

/**
 * @typedef {object} ProcessFileRequest
 * @property {string} jobId
 * @property {Float32Array[]} channels
 * @property {number} sampleRate
 * @property {MixConfig | null} [config]
 * @property {number | string | null} [targetLufs]
 * @property {number | null} [truePeak]
 * @property {number} [block]
 */

/**
 * @typedef {object} AnalyzeFileRequest
 * @property {string} jobId
 * @property {Float32Array[]} channels
 * @property {number} sampleRate
 * @property {boolean} [genre]
 * @property {number} [block]
 */

/**
 * An init phase's start or end (`state`), with extras (versions, `error`).
 * @typedef {{phase: string, state: "start" | "done" | "error", elapsedMs: number, [extra: string]: any}} Progress
 */

/**
 * The worker's timing (see stats.js).
 * @typedef {object} WorkerStats
 * @property {number} frames
 * @property {number} meanFrameMs
 * @property {number} maxFrameMs
 * @property {number} p50FrameMs
 * @property {number} p99FrameMs
 * @property {number} dspFrames
 * @property {number} meanDspMs
 * @property {number} maxDspMs
 * @property {number | null} meanOverheadMs
 * @property {number} meanGenreMs
 * @property {number} maxGenreMs
 * @property {number} meanDeferredMeterMs
 * @property {{frames: number, ms: number} | null} warmup
 * @property {number} meanWorkerMs
 */

// ---- the worker's own types -------------------------------------------------------------------

/**
 * `manifest.json` of the bundle (wasm/build_bundle.py): logical name -> hashed file.
 * @typedef {object} Manifest
 * @property {Record<string, {file: string, size?: number, sha256?: string}>} files
 * @property {{wheel: string, wheelDir: string} | null} [snapshot]
 */

/**
 * The Python modules the engine calls (PyProxies).
 * @typedef {object} PyModules
 * @property {any} json
 * @property {any} array
 * @property {any} sys
 * @property {any} dsp
 * @property {any} mixer
 * @property {any} features
 * @property {any} bridge
 * @property {any} genre null when the wheel has no genre module
 */

/**
 * A worker-side session: a MixerSession proxy and its genre tracker.
 * @typedef {object} Session
 * @property {any} session
 * @property {any} tracker the DeferredTracker once the session asked for "auto"
 * @property {boolean} trackable
 * @property {boolean} needsReset
 * @property {any} [frames] its own FramePath (frames.js; a stereo live session), else the engine's
 */

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
