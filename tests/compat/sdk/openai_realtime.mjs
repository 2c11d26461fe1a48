// The official OpenAI SDK's Realtime client (openai 4.104.0, `openai/beta/realtime/ws`
// OpenAIRealtimeWS) in a transcription session against stt-server's /v1/realtime.
//
// Usage: node openai_realtime.mjs PORT API_KEY AUDIO.pcm [MODEL]
//   AUDIO.pcm: raw pcm16 LE mono at 24 kHz, streamed at real time in 100 ms appends, then
//   1.5 s of silence; the script waits until every committed item has its completed event.
// Prints one JSON object: {types, items: [{item_id, previous_item_id, audio_start_ms,
// audio_end_ms, deltas, transcript}], transcript, errors, created, updated}.
//
// How the SDK meets this server:
//  - baseURL http://127.0.0.1:PORT/v1: the SDK derives wss://127.0.0.1:PORT/v1/realtime?model=M
//    (buildRealtimeURL always sets the scheme to wss and adds only `model`). The server speaks
//    plain ws here, so the socket is made with the `ws` option createConnection (net.connect):
//    the HTTP upgrade and every frame are exactly what the SDK sends, only TLS is left out.
//  - The SDK cannot add intent=transcription: the server accepts a session without intent and
//    makes it a transcription session at its first transcription event (the update below),
//    sending transcription_session.created then .updated.
import net from 'node:net';
import fs from 'node:fs';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/beta/realtime/ws';

const [port, apiKey, audioPath, model = 'whisper-1'] = process.argv.slice(2);
const pcm = fs.readFileSync(audioPath);
const client = new OpenAI({ apiKey, baseURL: `http://127.0.0.1:${port}/v1` });
const plainTcp = (o) => net.connect({ host: o.host, port: Number(o.port) });
const rt = new OpenAIRealtimeWS({ model, options: { createConnection: plainTcp } }, client);

const out = { url: String(rt.url), types: [], items: [], errors: [], created: null, updated: null };
const byId = new Map();
const item = (id) => {
  if (!byId.has(id)) {
    const it = { item_id: id, previous_item_id: undefined, audio_start_ms: null,
      audio_end_ms: null, deltas: [], transcript: null };
    byId.set(id, it);
    out.items.push(it);
  }
  return byId.get(id);
};

rt.on('event', (e) => out.types.push(e.type));
rt.on('error', (err) => out.errors.push({ message: err.message, error: err.error ?? null }));
rt.on('transcription_session.created', (e) => { out.created = e.session; });
rt.on('transcription_session.updated', (e) => { out.updated = e.session; });
rt.on('input_audio_buffer.speech_started', (e) => {
  item(e.item_id).audio_start_ms = e.audio_start_ms;
});
rt.on('input_audio_buffer.speech_stopped', (e) => {
  item(e.item_id).audio_end_ms = e.audio_end_ms;
});
rt.on('input_audio_buffer.committed', (e) => {
  item(e.item_id).previous_item_id = e.previous_item_id;
});
rt.on('conversation.item.input_audio_transcription.delta', (e) => {
  item(e.item_id).deltas.push(e.delta);
});
rt.on('conversation.item.input_audio_transcription.completed', (e) => {
  item(e.item_id).transcript = e.transcript;
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const done = () => {
  const committed = out.items.filter((i) => i.previous_item_id !== undefined);
  return committed.length > 0 && committed.every((i) => i.transcript !== null) &&
    out.types.filter((t) => t === 'input_audio_buffer.speech_started').length === committed.length;
};

await new Promise((resolve, reject) => {
  rt.socket.once('open', resolve);
  rt.socket.once('error', reject);
});
rt.send({
  type: 'transcription_session.update',
  session: {
    input_audio_format: 'pcm16',
    input_audio_transcription: { model, language: 'en' },
    turn_detection: {
      type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 700,
    },
  },
});
const CHUNK = 4800; // 100 ms of 24 kHz pcm16
const audio = Buffer.concat([pcm, Buffer.alloc(24000 * 2 * 1.5)]);
const t0 = Date.now();
for (let i = 0, k = 0; i < audio.length; i += CHUNK, k++) {
  const chunk = audio.subarray(i, i + CHUNK).toString('base64');
  rt.send({ type: 'input_audio_buffer.append', audio: chunk });
  const wait = t0 + (k + 1) * 100 - Date.now();
  if (wait > 0) await sleep(wait);
}
const deadline = Date.now() + 60000;
while (!done() && Date.now() < deadline) await sleep(100);
out.transcript = out.items.filter((i) => i.transcript).map((i) => i.transcript).join(' ');
out.complete = done();
rt.close();
await sleep(200);
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(0);
