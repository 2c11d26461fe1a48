// The official `openai` npm SDK (4.104.0, pinned in package.json) against stt-server's
// OpenAI-compatible file API: client.audio.transcriptions.create in every response format,
// with word timestamps and with stream: true, and client.models.list().
//
// Usage: node openai_files.mjs PORT API_KEY JOBS.json
//   JOBS.json: [{"name", "file", "format", "words"?: bool, "stream"?: bool, "extra"?: {}}, ...]
// Prints one JSON object on stdout: {"models": [ids], "results": [{name, format, ok, value |
// error, stream_events?}]}; the Python driver (tests/integ/test_sdk_openai_files.py) asserts on
// it. Each SDK call is what an application writes, nothing more.
import fs from 'node:fs';
import OpenAI from 'openai';

const [port, apiKey, jobsPath] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey, maxRetries: 0 });
const jobs = JSON.parse(fs.readFileSync(jobsPath, 'utf8'));

const out = { models: [], results: [] };
const models = await client.models.list();
for await (const m of models) out.models.push(m.id);

for (const job of jobs) {
  const r = { name: job.name, format: job.format, stream: !!job.stream };
  const t0 = Date.now();
  try {
    const params = {
      file: fs.createReadStream(job.file),
      model: 'whisper-1',
      response_format: job.format,
    };
    if (job.words) params.timestamp_granularities = ['word', 'segment'];
    if (job.language) params.language = job.language;
    Object.assign(params, job.extra ?? {}); // our own fields (raw PCM), sent as form fields
    if (job.stream) {
      params.stream = true;
      const stream = await client.audio.transcriptions.create(params);
      const events = [];
      for await (const ev of stream) events.push(ev);
      r.stream_events = events;
      r.value = events.length ? events[events.length - 1] : null;
    } else {
      r.value = await client.audio.transcriptions.create(params);
    }
    r.ok = true;
  } catch (e) {
    r.ok = false;
    r.error = { status: e.status ?? null, message: String(e.message), body: e.error ?? null };
  }
  r.ms = Date.now() - t0;
  out.results.push(r);
}
// An error answer reaches the application as the SDK's APIError with OpenAI's fields.
try {
  await client.audio.transcriptions.create({
    file: fs.createReadStream(jobs[0].file), model: 'no-such-model',
  });
  out.error_check = { thrown: false };
} catch (e) {
  out.error_check = { thrown: true, status: e.status ?? null, type: e.type ?? null,
                      code: e.code ?? null, param: e.param ?? null, message: String(e.message) };
}
process.stdout.write(JSON.stringify(out) + '\n');
