/* The configuration table: one declarative list of every option.
 *
 * STT_CONFIG_MAP drives command-line parsing (with argparse-compatible aliases, unique-prefix
 * abbreviations and `--no-<flag>` for booleans), validation (type, min, max, choices), `--help`,
 * the control protocol's get_parameter/set_parameter for session-scoped options, and
 * docs/config.md (`stt-server --dump-config-md`).
 *
 * Columns: XX(scope, type, field, flags, default, min, max, help)
 *   scope   G = process-wide (stt_config_t), S = per session (stt_session_params_t, settable over
 *           the control socket, initial value from the command line).
 *   type    STR, INT, FLOAT, BOOL, INTLIST, STRLIST
 *   field   C field name; also the canonical option name (`--field`).
 *   flags   comma-separated option strings, exactly as the original accepts them; the first long
 *           one is shown in --help.
 *   default textual default ("" for empty; booleans "0"/"1"; lists space-separated)
 *   min/max numeric range (ignored for STR/BOOL/lists; min > max means unbounded)
 *
 * Thread-safety: the config is written only while parsing, before any thread starts; afterwards
 * it is read-only and shared. Session params are copied into each session and owned by it. */
#ifndef STT_CONFIG_H
#define STT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define STT_DEFAULT_INITIAL_PROMPT                                                                 \
    "Incomplete thoughts should end with '...'. Examples of complete thoughts: 'The sky is "      \
    "blue.' 'She walked home.' Examples of incomplete thoughts: 'When the sky...' 'Because he...'"

/* clang-format off */
#define STT_CONFIG_MAP(XX) \
    /* -- original RealtimeSTT stt-server flags (spec section 1) -- */ \
    XX(G, STR,   model, "-m,--model", "", 1, 0, "Main (final) model for the whisper engine: a Whisper size (tiny, tiny.en, base, base.en, small, small.en, medium, medium.en, large-v1, large-v2, large-v3, large-v3-turbo), resolved to ggml-NAME.bin in --download_root, else to a faster-whisper model of that name in the Hugging Face cache; a ggml file path; a faster-whisper (CTranslate2) model directory; or a faster-whisper repository id (Systran/faster-whisper-small) in the Hugging Face cache. faster-whisper models are converted once into --download_root (docs/whisper.md). Naming one selects the whisper engine under --engine auto. The original defaulted to large-v2.") \
    XX(G, STR,   rt_model, "-r,--rt-model,--realtime_model_type", "", 1, 0, "Realtime (partial) model of the whisper engine, named like --model; empty = tiny (the original's default). Naming one selects the whisper engine under --engine auto.") \
    XX(S, STR,   language, "-l,--lang,--language", "en", 1, 0, "Language code; empty means auto-detect. pocketsphinx supports en only.") \
    XX(G, INT,   input_device_index, "-i,--input-device,--input-device-index", "1", 0, 1000000, "Accepted for compatibility; the server has no microphone.") \
    XX(G, INT,   control_port, "-c,--control,--control_port", "8011", 1, 65535, "Control WebSocket port.") \
    XX(G, INT,   data_port, "-d,--data,--data_port", "8012", 1, 65535, "Data WebSocket port.") \
    XX(G, STR,   wake_words, "-w,--wake_words", "", 1, 0, "Comma-separated wake words. Wake-word detection is not implemented; a non-empty value is refused.") \
    XX(G, BOOL,  debug, "-D,--debug", "0", 1, 0, "Debug logging.") \
    XX(G, BOOL,  debug_websockets, "--debug_websockets", "0", 1, 0, "Log WebSocket library internals.") \
    XX(G, STR,   write, "-W,--write", "", 1, 0, "Append the raw incoming PCM of each session (before resampling) to FILE; '%s' in FILE is replaced by the session id.") \
    XX(G, INT,   batch_size, "-b,--batch,--batch_size", "16", 0, 1024, "Main-model batch size (the original batched faster-whisper inference). pocketsphinx decodes one utterance per decoder and has nothing to batch, so it is accepted and has no effect there; the null engine ignores it too.") \
    XX(G, STR,   download_root, "--root,--download_root", "", 1, 0, "Directory of the Whisper ggml files and of the conversions of faster-whisper models; empty = $STT_MODEL_DIR, else $XDG_CACHE_HOME/stt-server/models (~/.cache/stt-server/models). tools/download-model fills it. Also searched first as a Hugging Face hub cache (faster-whisper's download_root), before $HF_HUB_CACHE, $HF_HOME/hub and ~/.cache/huggingface/hub.") \
    XX(G, BOOL,  silence_timing, "-s,--silence_timing", "0", 1, 0, "Dynamic silence timing: post_speech_silence_duration follows the realtime text (end/mid/unknown sentence pauses) and a recording whose realtime text stops changing for 3 s is ended. The original accepted -s but its timing never ran, so it is off unless given.") \
    XX(S, FLOAT, init_realtime_after_seconds, "--init_realtime_after_seconds", "0.2", 0, 3600, "Seconds after recording start before the first realtime update.") \
    XX(G, INT,   realtime_batch_size, "--realtime_batch_size", "16", 0, 1024, "Realtime-model batch size; like --batch_size, no effect with pocketsphinx or null.") \
    XX(G, STR,   initial_prompt_realtime, "--initial_prompt_realtime", "", 1, 0, "Prompt for the realtime model ('\\n' is unescaped).") \
    XX(S, FLOAT, silero_sensitivity, "--silero_sensitivity", "0.05", 0, 1, "Speech sensitivity 0..1 (higher = more speech). Maps onto the VAD's strict speech threshold, see docs/vad.md.") \
    XX(G, STR,   vad, "--vad", "auto", 1, 0, "Voice activity detector: energy (our own level/periodicity/band detector), silero (the Silero VAD v6 network, run in C, with the energy detector as its cheap first stage), or auto: silero with the whisper engine (tens of calls per machine: Silero costs little and is better in noise), energy with the others (thousands of calls per machine: Silero would not keep up); auto falls back to energy with a warning when there is no Silero model. See docs/vad.md for the measured trade-off.") \
    XX(G, STR,   silero_model, "--silero_model", "", 1, 0, "Silero VAD weights (silero_vad_16k.safetensors of the silero-vad 6.2.1 package) for --vad silero; empty = the file scripts/fetch-silero.sh installs under .deps/models/ of the source tree this binary was built from.") \
    XX(G, BOOL,  silero_use_onnx, "--silero_use_onnx", "0", 1, 0, "Accepted for compatibility: the original chose between Silero's PyTorch and ONNX runtimes; here --vad silero always runs the same weights in-process in C (docs/vad.md), so this changes nothing.") \
    XX(S, INT,   webrtc_sensitivity, "--webrtc_sensitivity", "3", 0, 3, "Onset aggressiveness 0..3 (3 = least sensitive). Maps onto the VAD's onset threshold, see docs/vad.md.") \
    XX(S, FLOAT, min_length_of_recording, "--min_length_of_recording", "1.1", 0, 3600, "Minimum recording length in seconds before end-pointing or stop.") \
    XX(S, FLOAT, min_gap_between_recordings, "--min_gap_between_recordings", "0", 0, 3600, "Minimum seconds between the end of one recording and the start of the next.") \
    XX(G, BOOL,  enable_realtime_transcription, "--enable_realtime_transcription", "1", 1, 0, "Send realtime (partial) transcripts.") \
    XX(S, FLOAT, realtime_processing_pause, "--realtime_processing_pause", "0.02", 0, 3600, "Minimum seconds between the starts of two realtime passes of a session.") \
    XX(G, BOOL,  silero_deactivity_detection, "--silero_deactivity_detection", "1", 1, 0, "End of speech decided by the strict VAD test (on) or by the energy detector's loose onset test, WebRTC's role in the original (off). With --vad silero, on means Silero decides the end of speech, as in the original.") \
    XX(S, FLOAT, deactivity_silence_confirmation_duration, "--deactivity_silence_confirmation_duration", "0.16", 0, 3600, "Seconds of VAD silence before it counts as end-of-speech silence.") \
    XX(S, FLOAT, early_transcription_on_silence, "--early_transcription_on_silence", "0.2", 0, 3600, "Speculative final after this much silence (0 = off). No effect with pocketsphinx, which decodes incrementally.") \
    XX(S, INT,   beam_size, "--beam_size", "5", 1, 64, "Main-model beam size.") \
    XX(S, INT,   beam_size_realtime, "--beam_size_realtime", "3", 1, 64, "Realtime-model beam size.") \
    XX(G, STR,   initial_prompt, "--initial_prompt", STT_DEFAULT_INITIAL_PROMPT, 1, 0, "Main-model prompt ('\\n' is unescaped).") \
    XX(G, FLOAT, end_of_sentence_detection_pause, "--end_of_sentence_detection_pause", "0.45", 0, 3600, "Dynamic timing: silence after a complete sentence.") \
    XX(G, FLOAT, unknown_sentence_detection_pause, "--unknown_sentence_detection_pause", "0.7", 0, 3600, "Initial post_speech_silence_duration; dynamic timing: unknown sentence end.") \
    XX(G, FLOAT, mid_sentence_detection_pause, "--mid_sentence_detection_pause", "2.0", 0, 3600, "Dynamic timing: silence after an incomplete sentence.") \
    XX(G, FLOAT, wake_words_sensitivity, "--wake_words_sensitivity", "0.5", 0, 1, "Wake-word sensitivity (accepted; wake words not implemented).") \
    XX(G, FLOAT, wake_word_timeout, "--wake_word_timeout", "5.0", 0, 3600, "Wake-word timeout (accepted; wake words not implemented).") \
    XX(S, FLOAT, wake_word_activation_delay, "--wake_word_activation_delay", "0", 0, 3600, "Wake-word activation delay (accepted; wake words not implemented).") \
    XX(G, STR,   wakeword_backend, "--wakeword_backend", "none", 1, 0, "Wake-word backend; a backend without wake words means wake words disabled.") \
    XX(G, STRLIST, openwakeword_model_paths, "--openwakeword_model_paths", "", 1, 0, "OpenWakeWord model paths (accepted; not implemented).") \
    XX(G, STR,   openwakeword_inference_framework, "--openwakeword_inference_framework", "tensorflow", 1, 0, "OpenWakeWord framework (accepted; not implemented).") \
    XX(G, FLOAT, wake_word_buffer_duration, "--wake_word_buffer_duration", "1.0", 0, 3600, "Wake-word buffer (accepted; not implemented).") \
    XX(G, BOOL,  use_main_model_for_realtime, "--use_main_model_for_realtime", "0", 1, 0, "Use the main model for realtime passes.") \
    XX(G, BOOL,  use_extended_logging, "--use_extended_logging", "0", 1, 0, "Log every message sent to clients.") \
    XX(G, STR,   compute_type, "--compute_type", "default", 1, 0, "Weight type of the Whisper files (whisper engine): default, float16, float32 -> ggml-NAME.bin (f16); int8, int8_float16, int8_float32, q8_0 -> ggml-NAME-q8_0.bin; q5_0, q5_1, q4_0, q4_1 -> ggml-NAME-<type>.bin. A path given to --model is used as it is.") \
    XX(G, INT,   gpu_device_index, "--gpu_device_index", "0", 0, 64, "GPU index (whisper engine built with CUDA).") \
    XX(G, STR,   device, "--device", "cuda", 1, 0, "cuda or cpu (whisper engine; cuda needs a CUDA build, see docs/whisper.md, and falls back to the CPU with a warning when there is none); pocketsphinx always runs on the CPU.") \
    XX(G, BOOL,  handle_buffer_overflow, "--handle_buffer_overflow", "0", 1, 0, "When the engine falls more than allowed_latency_limit chunks behind a call, leave out the oldest audio beyond the limit (audio without speech first), count it (stt_audio_chunks_dropped_total) and send the call a warning event. Off: nothing is dropped and latency grows.") \
    XX(G, INTLIST, suppress_tokens, "--suppress_tokens", "-1", 1, 0, "Whisper suppress_tokens.") \
    XX(G, INT,   allowed_latency_limit, "--allowed_latency_limit", "100", 1, 1000000, "Engine backlog allowed per call, in 512-sample chunks (100 = 3.2 s); see --handle_buffer_overflow.") \
    XX(G, BOOL,  faster_whisper_vad_filter, "--faster_whisper_vad_filter", "0", 1, 0, "Accepted for compatibility; no effect.") \
    XX(G, BOOL,  logchunks, "--logchunks", "0", 1, 0, "Log each received chunk (debug level).") \
    /* -- stt-server extensions -- */ \
    XX(G, STR,   event_loop, "--event_loop", "poll", 1, 0, "The network loop: poll (libwebsockets' own loop, poll() over every socket on each iteration) or libev (epoll). libev used 30 % less CPU at 1,000 calls but the clients' frames went out later (p99 7-9 ms against 5-7 ms; at 2,000 calls 137 ms against 33-57 ms), so poll stays the default (docs/architecture.md, Loop).") \
    XX(G, STR,   host, "--host", "", 1, 0, "Address to bind every port to; empty = all interfaces.") \
    XX(G, INT,   monitor_port, "--monitor_port", "8080", 1, 65535, "Monitoring HTTP port (/health, /livez, /readyz, /metrics).") \
    XX(G, INT,   vosk_port, "--vosk_port", "0", 0, 65535, "A port that speaks only the vosk-server WebSocket protocol on every path (drop-in for vosk clients, e.g. 2700); 0 = off. The data port serves the same protocol at /vosk.") \
    XX(G, STR,   jambonz_api_key, "--jambonz_api_key", "", 1, 0, "API key jambonz must send (Authorization: Bearer KEY) to the jambonz custom speech endpoint /jambonz on the data port; a request without it, or with another, is refused with HTTP 401 before the upgrade. Empty = no key required (use only on a trusted network).") \
    XX(G, STR,   api_key, "--api_key", "", 1, 0, "Comma-separated API keys the standard APIs accept (Deepgram-style /v1/listen, OpenAI-style /v1/audio/transcriptions, /v1/audio/translations, /v1/models and /v1/realtime on the data port): as Authorization: Bearer KEY or Token KEY, or a WebSocket offering the subprotocols token and KEY (browsers). A request without one of them is refused with HTTP 401 in that API's own error shape, before any upgrade. Empty = no key required (use only on a trusted network). Never logged.") \
    XX(G, STR,   served_model_names, "--served_model_names", "", 1, 0, "Comma-separated extra names the standard APIs accept for the loaded model (OpenAI and Deepgram `model`, listed by GET /v1/models), e.g. gpt-4o-transcribe,nova-3 so clients that name a hosted model work unchanged. (Not named --model_...: the original's abbreviation --mod must keep meaning --model.) Always accepted: the model's own name (the last path component of --model), the engine's name, and whisper-1 with the whisper engine. Any other name is refused with a message listing the accepted ones.") \
    XX(G, INT,   upload_max_bytes, "--upload_max_bytes", "26214400", 1024, 2147483647, "Largest request body of the OpenAI-compatible file API (POST /v1/audio/transcriptions and /translations on the data port), in bytes: the whole multipart body, file and fields. A larger Content-Length is answered at once with 413 naming the limit; a body that grows past it is cut off with 413 too. Default 25 MiB, as OpenAI.") \
    XX(G, FLOAT, upload_max_duration, "--upload_max_duration", "7200", 1, 86400, "Longest audio the file API transcribes, in seconds, as the file's header declares it (for MP3 libsndfile's estimate); a longer file gets 413 naming the limit, and decoding stops at the limit whatever the header said.") \
    XX(G, INT,   max_uploads, "--max_uploads", "4", 1, 1024, "Most file API transcriptions at once (uploading, decoding or transcribing); one more is answered with 429, OpenAI's rate-limit error, and Retry-After. Their engine jobs run in the pool's batch class, behind live calls.") \
    XX(G, STR,   jambonz_path, "--jambonz_path", "/jambonz", 1, 0, "Path of the jambonz custom speech (STT) endpoint on the data port: the URL configured in the jambonz portal for the custom speech service (ws://HOST:PORT<path>). Must start with '/'.") \
    XX(G, BOOL,  ws_deflate, "--ws_deflate", "0", 1, 0, "Negotiate the WebSocket permessage-deflate extension (RFC 7692) on the control, data and vosk ports when a client offers it (FreeSWITCH mod_audio_stream does by default; browsers and most libraries do). Off (the default): the offer is declined by omission, which every client must accept, and audio travels uncompressed, as PCM barely compresses; on costs a zlib state per compressing connection.") \
    XX(G, STR,   engine, "--engine", "auto", 1, 0, "Recognition engine: auto (whisper when --model or --rt-model is given, else pocketsphinx), pocketsphinx, whisper, or null (no recognition, for capacity tests).") \
    XX(G, INT,   workers, "--workers", "0", 0, 256, "Engine worker threads; 0 = number of CPU cores.") \
    XX(G, INT,   batch_workers, "--batch_workers", "0", 0, 256, "The bulkhead between file uploads and live calls: at most this many engine workers run upload (batch) jobs at once; the others take only live calls' jobs, so a live final never waits behind an upload's decode. 0 = half of --workers, at least 1 (measured in bench/README.md, \"Bulkhead\"); a value >= --workers turns the bulkhead off.") \
    XX(G, INT,   batch_nice, "--batch_nice", "10", 0, 19, "CPU priority (nice value) of a worker thread while it runs an upload (batch) job; live jobs run at 0. With the cores busy, an upload then gets the CPU the live calls leave, instead of a fair share of it. 0 = uploads at normal priority. Needs the right to lower a thread's nice value again (root or CAP_SYS_NICE); without it the server warns and runs uploads at normal priority.") \
    XX(G, INT,   max_sessions, "--max_sessions", "10000", 1, 1000000, "Hard cap on concurrent data sessions; more are refused with HTTP 503 before the upgrade.") \
    XX(G, BOOL,  admission_control, "--admission_control", "1", 1, 0, "Refuse new sessions (HTTP 503 before the upgrade, /readyz 503) for measured engine load; --no-admission_control leaves only --max_sessions (tests and benchmarks that study something else).") \
    XX(G, FLOAT, admission_max_load, "--admission_max_load", "0.9", 0.05, 1, "Refuse new sessions (HTTP 503 before the upgrade, /readyz 503) while the engine workers are busier than this fraction of the time (measured over the last seconds; accepted again below 0.8 of it), or when the live sessions and the newcomer would load them past it at their measured cost: the engine's worker seconds per second of audio times each session's share of audio received while recording (with 5 s of talking as a prior, so a new session counts fully).") \
    XX(G, FLOAT, admission_max_queue_delay, "--admission_max_queue_delay", "0.5", 0.01, 60, "Refuse new sessions while engine jobs wait longer than this many seconds on average for a worker; accepted again below half of it.") \
    XX(G, INT,   decoders, "--decoders", "0", 0, 4096, "pocketsphinx decoder pool cap (utterances decoded at once; each about 93 MB, created on demand); 0 = 8 x workers.") \
    XX(S, FLOAT, post_speech_silence_duration, "--post_speech_silence_duration", "-1", -1, 3600, "Seconds of confirmed silence that end a recording; -1 = unknown_sentence_detection_pause.") \
    XX(S, FLOAT, pre_recording_buffer_duration, "--pre_recording_buffer_duration", "1.0", 0, 10, "Seconds of audio kept before speech onset and prepended to the recording.") \
    XX(G, FLOAT, engine_pre_roll, "--engine_pre_roll", "0.3", -1, 10, "Seconds of the pre-recording buffer (before the onset was confirmed) that the engine decodes; the whole buffer still goes out in transcription_start. Less is cheaper and gives the first partial sooner (pocketsphinx: 1 s of pre-roll costs ~0.3 s of decoding at the start of every utterance; 0.3 and all of it give the same WER on the librivox test set); -1 = all of it.") \
    XX(G, FLOAT, engine_slice, "--engine_slice", "0.1", 0, 10, "Seconds of audio a worker gives the engine at a time within one job; between slices a feed yields to a waiting final or first partial and resumes later, so a final waits for at most one slice of another call's audio. 0 = each job in one piece.") \
    XX(G, FLOAT, engine_post_roll, "--engine_post_roll", "0.2", -1, 10, "Seconds of audio after the last chunk the VAD heard speech in that the engine decodes; later silence (the end-pointing wait) is held back and fed only if speech resumes, so the final does not wait for it. Silence is the costliest audio for pocketsphinx: 0.2 gives the same WER as all of it on the librivox test set (0.338) and, with end-of-speech feeds run ahead of other feeds, cut the median final latency at 20 calls on 2 cores from 1.07 to 0.78 s (bench/README.md). -1 = all of it.") \
    XX(G, FLOAT, max_utterance_seconds, "--max_utterance_seconds", "60", 1, 3600, "A recording is stopped and transcribed when it reaches this length.") \
    XX(G, INT,   max_frame_bytes, "--max_frame_bytes", "1048576", 64, 67108864, "Largest data frame accepted; larger ones close with 1009.") \
    XX(G, INT,   whisper_threads, "--whisper_threads", "0", 0, 256, "Threads per whisper job (encoder and decoder); 0 = the cores divided by --workers, at least 1.") \
    XX(G, FLOAT, final_min_window, "--final_min_window", "0", 0, 30, "Whisper finals: 0 = encode whisper's full 30 s window, as whisper-cli and faster-whisper do (the default); S > 0 = encode only the utterance's audio, at least S seconds, in 5.12 s blocks: 2-3x less encoder time per final, so a final comes sooner after the end of speech. 10 kept tiny.en's WER on the librivox recordings; shorter windows made tiny.en repeat itself (bench/README.md).") \
    XX(G, FLOAT, realtime_window, "--realtime_window", "10", 0, 30, "Seconds of the newest audio the whisper realtime model decodes for a partial; text of older audio is kept from earlier passes, so a partial costs the same late in a long utterance as early. 0 = decode the whole utterance every time (cost grows with its square).") \
    XX(G, BOOL,  whisper_fallback, "--whisper_fallback", "1", 1, 0, "Whisper temperature fallback: re-decode a window at a higher temperature when the text looks repetitive or unlikely (whisper.cpp's default). --no-whisper_fallback decodes once, as whisper-cli -nf does.") \
    XX(G, BOOL,  word_timestamps, "--word_timestamps", "0", 1, 0, "Whisper finals carry word-level start/end times and probabilities in fullSentence's extended `segments` field.") \
    XX(G, BOOL,  realtimestt_words, "--realtimestt_words", "0", 1, 0, "RealtimeSTT data socket: after each fullSentence, send one transcript_words message (the final's words with start/end in stream seconds and confidences) to every data connection. Off by default, so the original client sees only the original messages; a connection can opt in alone with the URL argument ?words=1 (and out with ?words=0).") \
    XX(G, INT,   breaker_failures, "--breaker_failures", "5", 1, 1000000, "Circuit breaker: this many engine failures in a row open it (engine unavailable: new sessions refused with HTTP 503, /readyz 503, live calls keep buffering).") \
    XX(G, FLOAT, breaker_failure_rate, "--breaker_failure_rate", "0.5", 0.01, 1, "Circuit breaker: a failure rate above this over the last --breaker_window seconds (at least --breaker_min_jobs jobs) opens it too.") \
    XX(G, FLOAT, breaker_window, "--breaker_window", "10", 1, 3600, "Circuit breaker: seconds of job outcomes the failure rate is computed over.") \
    XX(G, INT,   breaker_min_jobs, "--breaker_min_jobs", "10", 1, 1000000, "Circuit breaker: jobs the window must hold before its failure rate can open the breaker.") \
    XX(G, FLOAT, breaker_backoff, "--breaker_backoff", "1", 0.01, 3600, "Circuit breaker: the first open lasts up to this many seconds; each reopening doubles the ceiling (up to --breaker_backoff_max) and the wait is drawn uniformly below it (full jitter).") \
    XX(G, FLOAT, breaker_backoff_max, "--breaker_backoff_max", "60", 0.01, 86400, "Circuit breaker: ceiling of the backoff in seconds.") \
    XX(G, INT,   breaker_probes, "--breaker_probes", "3", 1, 1000, "Circuit breaker: consecutive successful probe jobs (one second of audio each) that close it again from half-open.") \
    XX(G, INT,   breaker_reload_after, "--breaker_reload_after", "3", 0, 1000000, "Circuit breaker: after this many openings in a row without closing (worker states were recreated and probes still fail), the model itself is reloaded (off the loop) before the next probe; 0 = never.") \
    XX(G, FLOAT, job_timeout, "--job_timeout", "10", 0.1, 86400, "Watchdog: an engine job running longer than this many seconds plus --job_timeout_per_audio_second for each second of audio it decodes is aborted (or its worker replaced), counted in stt_engine_timeouts_total, and its call gets error engine_timeout.") \
    XX(G, FLOAT, job_timeout_per_audio_second, "--job_timeout_per_audio_second", "4", 0, 3600, "Watchdog: seconds added to --job_timeout per second of audio the job decodes (large whisper models on a CPU need ~3).") \
    XX(G, FLOAT, final_hold, "--final_hold", "30", 0, 86400, "Seconds an ended utterance waits for a working engine (breaker open, failed or timed-out jobs are retried) before its call gets error transcription_failed; its audio is held meanwhile.") \
    XX(G, FLOAT, idle_timeout, "--idle_timeout", "300", 0, 86400, "Close a data session (1000, 'idle timeout') that sent no audio for this many seconds; 0 = never.") \
    XX(G, FLOAT, max_session_duration, "--max_session_duration", "14400", 0, 604800, "A data session this many seconds old has its recording ended, gets its last final and is closed (1000, 'maximum session duration'); 0 = no limit.") \
    XX(G, FLOAT, stuck_socket_timeout, "--stuck_socket_timeout", "30", 0, 3600, "Close a socket whose queued output has not moved for this many seconds (a peer that stopped reading); 0 = only the 64 MiB queue cap.") \
    XX(G, FLOAT, consistency_check_interval, "--consistency_check_interval", "10", 0, 3600, "Seconds between checks that live sessions, engine jobs, decoding states and fds match the metrics (mismatches are logged and counted in stt_consistency_errors_total); 0 = off.") \
    XX(G, BOOL,  fault_injection, "--fault_injection", "0", 1, 0, "Allow --engine fault, the fault-injection engine (a TEST TOOL: it fails, hangs and slows down jobs on purpose; never in production).") \
    XX(G, STR,   fault_inner, "--fault_inner", "null", 1, 0, "The engine --engine fault wraps: null or pocketsphinx.") \
    XX(G, FLOAT, fault_fail_rate, "--fault_fail_rate", "0", 0, 1, "--engine fault: fraction of jobs that fail (engine error). Control call_method fault changes it live.") \
    XX(G, FLOAT, fault_hang_rate, "--fault_hang_rate", "0", 0, 1, "--engine fault: fraction of jobs that hang for --fault_hang_s (until cancelled).") \
    XX(G, FLOAT, fault_hang_s, "--fault_hang_s", "10", 0, 3600, "--engine fault: how long a hanging job hangs.") \
    XX(G, FLOAT, fault_slow_factor, "--fault_slow_factor", "1", 1, 100, "--engine fault: every job takes this many times as long as the wrapped engine needed.") \
    XX(G, FLOAT, fault_cost_per_audio_s, "--fault_cost_per_audio_s", "0", 0, 10, "--engine fault: every job also takes this many seconds per second of audio it carries (a sleep that cancellation stops), so the null engine stands for an engine of known speed without using a core.") \
    XX(G, STR,   ps_hmm, "--ps_hmm", STT_PS_MODEL_DIR "/en-us", 1, 0, "pocketsphinx acoustic model directory.") \
    XX(G, STR,   ps_lm, "--ps_lm", STT_PS_MODEL_DIR "/en-us.lm.bin", 1, 0, "pocketsphinx language model.") \
    XX(G, STR,   ps_dict, "--ps_dict", STT_PS_MODEL_DIR "/cmudict-en-us.dict", 1, 0, "pocketsphinx pronunciation dictionary.") \
    XX(G, BOOL,  ps_fwdflat, "--ps_fwdflat", "1", 1, 0, "pocketsphinx second (flat-lexicon) search pass when an utterance ends (the engine's default). --no-ps_fwdflat makes finals sooner (five concurrent librivox calls: final after recording_stop p50 0.20 -> 0.03 s) and decoding about 20 % cheaper, at slightly lower accuracy (WER 0.338 -> 0.366 on the same files); bench/capacity.py runs without it.") \
    XX(G, STR,   log_format, "--log_format", "text", 1, 0, "Log format: text or json.") \
    XX(G, FLOAT, drain_timeout, "--drain_timeout", "25", 0, 3600, "Seconds SIGTERM waits for live sessions to finish before closing them.") \
    XX(S, BOOL,  transcription_start_audio, "--transcription_start_audio", "1", 1, 0, "Include audio_bytes_base64 in transcription_start (about 85 KB per second of speech).") \
    /* -- out-of-band results and Asterisk AudioSocket (issue 14) -- */ \
    XX(G, INT,   audiosocket_port, "--audiosocket_port", "0", 0, 65535, "A raw TCP port for Asterisk AudioSocket (dialplan AudioSocket(uuid,host:port), chan_audiosocket, ARI externalMedia with encapsulation audiosocket); results leave out-of-band, keyed by the call's UUID (webhook, /v1/calls/UUID/events). 0 = off.") \
    XX(G, STR,   audiosocket_format, "--audiosocket_format", "slin", 1, 0, "What AudioSocket audio messages of type 0x10 carry: slin (16-bit little-endian PCM at 8 kHz, what the AudioSocket dialplan application sends), ulaw or alaw (chan_audiosocket with c(ulaw) / c(alaw) still sends type 0x10 with that codec's bytes). Types 0x11-0x18 are always slin at 12-192 kHz.") \
    XX(G, INT,   subscriber_max_queue_bytes, "--subscriber_max_queue_bytes", "1048576", 1024, 67108864, "A call-event subscriber (/v1/calls/ID/events) whose unsent events exceed this many bytes is dropped at once (its socket closed without a close handshake, logged as subscriber_too_slow) and counted; the call is never affected.") \
    XX(G, STR,   webhook_url, "--webhook_url", "", 1, 0, "Call events of out-of-band calls (Twilio-family, AudioSocket, ...) are POSTed to this http(s) URL as JSON (docs/protocol.md, Call events); empty = no default webhook.") \
    XX(G, STRLIST, webhook_allow, "--webhook_allow", "", 1, 0, "URL prefixes a call may name as its own webhook (a custom parameter such as Twilio's webhook_url); a URL that starts with none of them is refused, logged and counted. Empty = calls cannot choose a webhook. Each prefix must be an http(s) URL with a host and a path ('https://hooks.example.com/stt/').") \
    XX(G, STR,   webhook_secret, "--webhook_secret", "", 1, 0, "Key of the webhooks' HMAC-SHA256 signature: header X-STT-Signature: sha256=HEX of HMAC(secret, TIMESTAMP + '.' + BODY), TIMESTAMP being the X-STT-Timestamp header. Empty = unsigned.") \
    XX(G, STR,   webhook_ca_file, "--webhook_ca_file", "", 1, 0, "PEM file of the CA certificates that https webhook receivers' certificates are checked against (a private CA; it replaces the system's store, so append it to a copy of the system bundle to reach public receivers too); empty = the system's CA store. Certificates are always verified (host name included); a certificate that does not verify fails the delivery without retries, logged once per destination (webhook_tls) and counted (stt_webhook_deliveries_total{result=\"failed\"}). An unreadable file stops the server at start (exit status 2).") \
    XX(G, STRLIST, webhook_events, "--webhook_events", "call_start speech_start partial final final_failed dtmf call_end", 1, 0, "Which call events are POSTed to webhooks (subscribers get every event).") \
    XX(G, INT,   webhook_queue, "--webhook_queue", "256", 1, 100000, "Webhook events one call may have waiting for delivery; past it the oldest waiting event of the least important kind is dropped and counted (partials first, then dtmf and speech_start, then finals; call_start and call_end last; stt_webhook_deliveries_total{result=\"dropped\"}).") \
    XX(G, INT,   webhook_concurrency, "--webhook_concurrency", "8", 1, 10000, "Webhook requests in flight at once per destination (scheme, host and port); each call has at most one in flight so its events arrive in order.") \
    XX(G, FLOAT, webhook_timeout, "--webhook_timeout", "5", 0.1, 600, "Seconds one webhook request may take (connect and answer) before it counts as failed.") \
    XX(G, INT,   webhook_retries, "--webhook_retries", "3", 0, 100, "Retries of a webhook request that failed to connect, timed out or got 5xx or 429 (other 4xx are not retried), after a jittered exponential backoff: a wait drawn between half and all of 0.5 s, 1 s, 2 s, ... (at most 30 s).") \
    /* -- Twilio-family media streams (issue 14) -- */ \
    XX(G, STR,   twilio_path, "--twilio_path", "/twilio", 1, 0, "Path of the Twilio-family media stream endpoint on the data port (Twilio, SignalWire, Telnyx, Plivo, Exotel, Vonage; the dialect is told from the messages). /telnyx, /plivo, /signalwire, /exotel and /vonage always lead there too. Must start with '/'.") \
    XX(G, INT,   twilio_reorder_window, "--twilio_reorder_window", "8", 0, 256, "Telnyx media chunks may arrive out of order: up to this many are held and put back in order by media.chunk; a chunk that comes later than that is dropped and counted (stt_protocol_errors_total{error=\"chunk_late\"}), a lost one becomes silence. 0 = in arrival order.") \
    XX(G, INT,   twilio_max_message_bytes, "--twilio_max_message_bytes", "262144", 1024, 16777216, "Largest message a Twilio-family stream may send (a media message's base64 payload included); larger ones close the stream with 1009.")
/* clang-format on */

#ifndef STT_PS_MODEL_DIR
#define STT_PS_MODEL_DIR "/usr/share/pocketsphinx/model/en-us"
#endif

#define STT_LANGUAGE_MAX 16

typedef struct {
    size_t count;
    int64_t *items; /* owned */
} stt_intlist_t;

typedef struct {
    size_t count;
    char **items; /* owned, each owned */
} stt_strlist_t;

/* C types per column type. Session-scoped strings are fixed arrays so sessions copy them by
 * value. */
#define STT_CTYPE_G_STR char *
#define STT_CTYPE_G_INT int64_t
#define STT_CTYPE_G_FLOAT double
#define STT_CTYPE_G_BOOL int
#define STT_CTYPE_G_INTLIST stt_intlist_t
#define STT_CTYPE_G_STRLIST stt_strlist_t

/* Per-session parameters: copied into a session at start, changed by set_parameter. */
typedef struct {
    char language[STT_LANGUAGE_MAX];
    double init_realtime_after_seconds;
    double silero_sensitivity;
    int64_t webrtc_sensitivity;
    double min_length_of_recording;
    double min_gap_between_recordings;
    double realtime_processing_pause;
    double deactivity_silence_confirmation_duration;
    double early_transcription_on_silence;
    int64_t beam_size;
    int64_t beam_size_realtime;
    double wake_word_activation_delay;
    double post_speech_silence_duration;
    double pre_recording_buffer_duration;
    int transcription_start_audio;
} stt_session_params_t;

/* Process-wide configuration. Strings and lists are owned by the config. */
typedef struct {
    stt_session_params_t sess; /* defaults for new sessions */
#define STT_CFG_FIELD_G(type, field) STT_CTYPE_G_##type field;
#define STT_CFG_FIELD_S(type, field)
#define STT_CFG_FIELD(scope, type, field, flags, def, min, max, help)                             \
    STT_CFG_FIELD_##scope(type, field)
    STT_CONFIG_MAP(STT_CFG_FIELD)
#undef STT_CFG_FIELD
#undef STT_CFG_FIELD_G
#undef STT_CFG_FIELD_S
} stt_config_t;

typedef enum {
    STT_OPT_STR,
    STT_OPT_INT,
    STT_OPT_FLOAT,
    STT_OPT_BOOL,
    STT_OPT_INTLIST,
    STT_OPT_STRLIST
} stt_opt_type_t;

typedef enum { STT_SCOPE_GLOBAL, STT_SCOPE_SESSION } stt_opt_scope_t;

/* One row of the table, generated from STT_CONFIG_MAP. */
typedef struct {
    const char *name;  /* canonical name == field name */
    const char *flags; /* "-m,--model" */
    stt_opt_type_t type;
    stt_opt_scope_t scope;
    size_t offset; /* into stt_config_t for GLOBAL, into stt_session_params_t for SESSION */
    size_t size;   /* sizeof the field (array size for session strings) */
    const char *def;
    double min, max;
    const char *help;
} stt_option_t;

/* The table (NULL-name terminated), and its length. */
extern const stt_option_t stt_options[];
extern const size_t stt_options_count;

/* Looks up an option by canonical name ("post_speech_silence_duration"). NULL if none. */
const stt_option_t *stt_config_find(const char *name);

/* Initialises `cfg` with every default. Returns 0. Free with stt_config_dispose(). */
int stt_config_init(stt_config_t *cfg);

/* Frees the strings and lists the config owns. Accepts a zeroed struct. */
void stt_config_dispose(stt_config_t *cfg);

/* Parses argv (argparse semantics: exact option strings, unique prefixes of long options,
 * `--opt=value`, `--no-<bool>`, nargs='*' lists, negative numbers as values). On error returns
 * STT_EINVAL and writes a one-line message naming the flag into err. `--help` sets *want_help;
 * `--dump-config-md` sets *want_md; `--version` sets *want_version (each may be NULL). */
int stt_config_parse_argv(stt_config_t *cfg, int argc, char **argv, char *err, size_t errlen,
                          int *want_help, int *want_md, int *want_version);

/* Writes --help text / docs/config.md (markdown) to `out` (a FILE *). */
void stt_config_print_help(void *out, const char *prog);
void stt_config_print_markdown(void *out);

/* Session-scope access for the control protocol. `params` is a session's parameter block.
 * Set: validates the JSON value's type and range; on error returns STT_EINVAL/STT_ERANGE and a
 * message. Strings and numbers are accepted where the original's clients send them ("0.5" for
 * a float is refused; 1 for a float is accepted). */
int stt_session_param_set_json(stt_session_params_t *params, const stt_option_t *opt,
                               const cJSON *value, char *err, size_t errlen);

/* Returns a new cJSON value (caller owns) for a session-scope option, or NULL. */
cJSON *stt_session_param_get_json(const stt_session_params_t *params, const stt_option_t *opt);

/* Formats a value the way Python's str() does ("True", "0.5", "1.3") into buf, for
 * "Parameter P set to V" messages. */
void stt_config_python_str(const cJSON *value, char *buf, size_t buflen);

#endif /* STT_CONFIG_H */
