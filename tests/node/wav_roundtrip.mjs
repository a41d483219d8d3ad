// encodeWavFloat32 / decodeWav of the SDK's origin twin (wasm/js/files.js), against soundfile:
// argv[2] = JSON {encode: [{path, channels, frames, sampleRate, raw}], decode: [{path, raw}],
// hostile: [path]}. Encodes planar float32 `raw` files to WAV; decodes WAVs to planar float32;
// reports the error code of decoding each hostile file.
import { readFileSync, writeFileSync } from "node:fs";
import { decodeWav, encodeWavFloat32 } from "../../wasm/js/files.js";

const job = JSON.parse(readFileSync(process.argv[2], "utf-8"));
const out = { decoded: [], hostile: [] };
for (const e of job.encode) {
  const rb = readFileSync(e.raw); // (a small file's Buffer may sit inside a shared pool)
  const raw = new Float32Array(rb.buffer.slice(rb.byteOffset, rb.byteOffset + rb.byteLength));
  const chans = [];
  for (let c = 0; c < e.channels; c++) chans.push(raw.slice(c * e.frames, (c + 1) * e.frames));
  writeFileSync(e.path, Buffer.from(encodeWavFloat32(chans, e.sampleRate)));
}
for (const d of job.decode) {
  const b = readFileSync(d.path);
  const wav = decodeWav(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const n = wav.channels[0].length;
  const flat = new Float32Array(wav.channels.length * n);
  wav.channels.forEach((c, i) => flat.set(c, i * n));
  writeFileSync(d.raw, Buffer.from(flat.buffer));
  out.decoded.push({ channels: wav.channels.length, frames: n, sampleRate: wav.sampleRate });
}
for (const path of job.hostile) {
  const b = readFileSync(path);
  try {
    decodeWav(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    out.hostile.push(null);
  } catch (e) {
    out.hostile.push(e.code || String(e));
  }
}
console.log(JSON.stringify(out));
