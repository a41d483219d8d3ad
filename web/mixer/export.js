// Export of a rendered file: WAV (16/24-bit PCM or 32-bit float) and Opus in an Ogg container
// through WebCodecs' AudioEncoder (where the browser has it). Everything stays in the page.

/** RIFF/WAVE bytes of planar float channels. `bits`: 16 | 24 (PCM, clipped) or 32 (IEEE float). */
export function encodeWav(channels, sampleRate, bits) {
  const ch = channels.length;
  const n = channels[0].length;
  const bps = bits / 8;
  const dataBytes = n * ch * bps;
  const buf = new ArrayBuffer(44 + dataBytes);
  const v = new DataView(buf);
  const str = (o, s) => {
    for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i));
  };
  str(0, "RIFF");
  v.setUint32(4, 36 + dataBytes, true);
  str(8, "WAVE");
  str(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, bits === 32 ? 3 : 1, true); // 3 = IEEE float, 1 = PCM
  v.setUint16(22, ch, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * ch * bps, true);
  v.setUint16(32, ch * bps, true);
  v.setUint16(34, bits, true);
  str(36, "data");
  v.setUint32(40, dataBytes, true);
  let o = 44;
  if (bits === 32) {
    const out = new Float32Array(buf, 44, n * ch);
    for (let i = 0, k = 0; i < n; i++) for (let c = 0; c < ch; c++) out[k++] = channels[c][i];
    return new Uint8Array(buf);
  }
  const full = bits === 16 ? 32767 : 8388607;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < ch; c++) {
      let s = channels[c][i];
      s = s > 1 ? 1 : s < -1 ? -1 : s;
      const q = Math.round(s * full);
      if (bits === 16) {
        v.setInt16(o, q, true);
        o += 2;
      } else {
        v.setUint8(o, q & 0xff);
        v.setUint8(o + 1, (q >> 8) & 0xff);
        v.setUint8(o + 2, (q >> 16) & 0xff);
        o += 3;
      }
    }
  }
  return new Uint8Array(buf);
}

// ---- Ogg Opus (RFC 7845) ---------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

function oggCrc(bytes) {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]) & 0xff]) >>> 0;
  return crc >>> 0;
}

function oggPage(packet, { serial, seq, granule, bos = false, eos = false }) {
  const lacing = [];
  let left = packet.length;
  while (left >= 255) {
    lacing.push(255);
    left -= 255;
  }
  lacing.push(left);
  const page = new Uint8Array(27 + lacing.length + packet.length);
  const v = new DataView(page.buffer);
  page.set([0x4f, 0x67, 0x67, 0x53], 0); // "OggS"
  v.setUint8(4, 0);
  v.setUint8(5, (bos ? 2 : 0) | (eos ? 4 : 0));
  v.setBigUint64(6, BigInt(granule), true);
  v.setUint32(14, serial, true);
  v.setUint32(18, seq, true);
  v.setUint8(26, lacing.length);
  page.set(lacing, 27);
  page.set(packet, 27 + lacing.length);
  v.setUint32(22, oggCrc(page), true);
  return page;
}

/** True when this browser can encode Opus with WebCodecs. */
export async function canEncodeOpus(channels = 2) {
  if (typeof AudioEncoder === "undefined") return false;
  try {
    const r = await AudioEncoder.isConfigSupported({ codec: "opus", sampleRate: 48000, numberOfChannels: channels, bitrate: 160000 });
    return !!r.supported;
  } catch {
    return false;
  }
}

/**
 * Ogg Opus bytes of planar 48 kHz channels (1 or 2), encoded by WebCodecs' AudioEncoder.
 * @param {Float32Array[]} channels
 * @param {number} sampleRate
 * @param {{bitrate?: number, onProgress?: (fraction: number) => void}} [opts]
 */
export async function encodeOpus(channels, sampleRate, { bitrate = 160000, onProgress } = {}) {
  const ch = channels.length;
  if (ch > 2) throw new Error("Opus export supports mono and stereo; render a stereo mix for more channels");
  const n = channels[0].length;
  const packets = [];
  let failure = null;
  const enc = new AudioEncoder({
    output: (chunk) => {
      const b = new Uint8Array(chunk.byteLength);
      chunk.copyTo(b);
      packets.push({ data: b, samples: Math.round(((chunk.duration || 20000) * 48000) / 1e6) });
    },
    error: (e) => {
      failure = e;
    },
  });
  enc.configure({ codec: "opus", sampleRate, numberOfChannels: ch, bitrate });
  const step = 48000;
  for (let s = 0; s < n; s += step) {
    const k = Math.min(step, n - s);
    const planar = new Float32Array(k * ch);
    for (let c = 0; c < ch; c++) planar.set(channels[c].subarray(s, s + k), c * k);
    const data = new AudioData({
      format: "f32-planar",
      sampleRate,
      numberOfFrames: k,
      numberOfChannels: ch,
      timestamp: Math.round((s / sampleRate) * 1e6),
      data: planar,
    });
    enc.encode(data);
    data.close();
    if (onProgress) onProgress((s + k) / n);
    if (enc.encodeQueueSize > 8) await new Promise((r) => setTimeout(r, 0));
  }
  await enc.flush();
  enc.close();
  if (failure) throw failure;
  const preSkip = 312;
  const serial = (Math.random() * 0xffffffff) >>> 0;
  const head = new Uint8Array(19);
  const hv = new DataView(head.buffer);
  head.set([...new TextEncoder().encode("OpusHead")], 0);
  hv.setUint8(8, 1);
  hv.setUint8(9, ch);
  hv.setUint16(10, preSkip, true);
  hv.setUint32(12, sampleRate, true);
  hv.setInt16(16, 0, true);
  hv.setUint8(18, 0);
  const vendor = new TextEncoder().encode("AI Mixer (WebCodecs)");
  const tags = new Uint8Array(8 + 4 + vendor.length + 4);
  tags.set(new TextEncoder().encode("OpusTags"), 0);
  new DataView(tags.buffer).setUint32(8, vendor.length, true);
  tags.set(vendor, 12);
  const pages = [oggPage(head, { serial, seq: 0, granule: 0, bos: true }), oggPage(tags, { serial, seq: 1, granule: 0 })];
  let granule = 0;
  packets.forEach((p, i) => {
    granule += p.samples;
    const last = i === packets.length - 1;
    pages.push(oggPage(p.data, { serial, seq: i + 2, granule: last ? preSkip + n : granule, eos: last }));
  });
  const total = pages.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of pages) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
