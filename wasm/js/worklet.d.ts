// The AudioWorkletGlobalScope names worklet.js uses (TypeScript's DOM library has none of them);
// for `tsc --checkJs` only (jsconfig.json), not shipped.

declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: any);
}

declare function registerProcessor(name: string, processorCtor: new (options?: any) => AudioWorkletProcessor): void;
