// The official Deepgram JavaScript SDK (@deepgram/sdk, pinned in package.json) against
// stt-server's Deepgram-compatible live endpoint: client.listen.v1.connect() with the base URL
// pointed at the server, audio streamed at real time, the SDK's own sendMedia, sendKeepAlive,
// sendFinalize and sendCloseStream. Driven by tests/integ/test_sdk_deepgram.py.
//
// Usage: node deepgram_live.mjs PLAN.json
// PLAN: {"base_url": "ws://127.0.0.1:PORT", "api_key": "...", "sessions": [{"name": "...",
//   "query": {connect() options}, "frame_bytes": N, "bytes_per_s": N,
//   "steps": [{"audio": "file.raw"} | {"silence_s": s} | {"keepalive_pause_s": s,
//             "every_s": s} | {"finalize": true} | {"wait_s": s} | {"close": true}]}]}
// Sessions run side by side. Prints one JSON object: {"sessions": [{"name", "messages":
// [{"t": seconds since open, "msg": {...}}], "close_code", "close_reason", "errors": [...],
// "sent_bytes"}]}.
import { readFileSync } from "node:fs";
import { DeepgramClient } from "@deepgram/sdk";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function runSession(client, s) {
  const out = { name: s.name, messages: [], errors: [], close_code: null, close_reason: null,
                sent_bytes: 0 };
  const conn = await client.listen.v1.connect({ ...s.query, reconnectAttempts: 0 });
  let t0 = 0;
  let closed;
  const closedP = new Promise((r) => { closed = r; });
  conn.on("message", (msg) => {
    out.messages.push({ t: (Date.now() - t0) / 1000, msg });
  });
  conn.on("error", (e) => out.errors.push(String(e && (e.message || e.type || e))));
  conn.on("close", (e) => {
    if (out.close_code === null) {
      out.close_code = e && e.code !== undefined ? e.code : null;
      out.close_reason = e && e.reason !== undefined ? String(e.reason) : null;
    }
    closed();
  });
  conn.connect();
  await conn.waitForOpen();
  t0 = Date.now();
  // Real time: each frame leaves at its own time on a clock that does not drift.
  let clock = Date.now();
  const pace = async (bytes) => {
    clock += (bytes / s.bytes_per_s) * 1000;
    const wait = clock - Date.now();
    if (wait > 0) await sleep(wait);
  };
  const sendBytes = async (buf) => {
    for (let i = 0; i < buf.length; i += s.frame_bytes) {
      const chunk = buf.subarray(i, Math.min(i + s.frame_bytes, buf.length));
      conn.sendMedia(chunk);
      out.sent_bytes += chunk.length;
      await pace(chunk.length);
    }
  };
  const silenceByte = s.query.encoding === "mulaw" ? 0xff : s.query.encoding === "alaw" ? 0xd5 : 0;
  for (const step of s.steps) {
    if (step.audio) {
      await sendBytes(readFileSync(step.audio));
    } else if (step.silence_s) {
      await sendBytes(Buffer.alloc(Math.round(step.silence_s * s.bytes_per_s), silenceByte));
    } else if (step.keepalive_pause_s) {
      // No audio at all: only KeepAlive keeps the connection open past the 10 s window.
      const end = Date.now() + step.keepalive_pause_s * 1000;
      while (Date.now() < end) {
        conn.sendKeepAlive({ type: "KeepAlive" });
        out.messages.push({ t: (Date.now() - t0) / 1000, sent: "KeepAlive" });
        await sleep(Math.min(step.every_s * 1000, Math.max(0, end - Date.now())));
      }
      clock = Date.now();
    } else if (step.finalize) {
      conn.sendFinalize({ type: "Finalize" });
      out.messages.push({ t: (Date.now() - t0) / 1000, sent: "Finalize" });
    } else if (step.wait_s) {
      await sleep(step.wait_s * 1000);
      clock = Date.now();
    } else if (step.close) {
      conn.sendCloseStream({ type: "CloseStream" });
      out.messages.push({ t: (Date.now() - t0) / 1000, sent: "CloseStream" });
    }
  }
  // The server answers CloseStream with the last Results, Metadata and a close.
  await Promise.race([closedP, sleep(60000)]);
  if (out.close_code === null) out.errors.push("no close within 60 s of CloseStream");
  return out;
}

const client = new DeepgramClient({ apiKey: plan.api_key, baseUrl: plan.base_url,
                                    reconnect: false });
const results = await Promise.all(plan.sessions.map((s) => runSession(client, s).catch((e) => ({
  name: s.name, messages: [], errors: [String(e && (e.stack || e))], close_code: null }))));
// Exit once the whole report is written (a pipe takes 64 KiB at a time).
process.stdout.write(JSON.stringify({ sessions: results }) + "\n", () => process.exit(0));
