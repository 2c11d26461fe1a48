/* API keys of the standard APIs (Deepgram-style /v1/listen, OpenAI-style /v1/audio/...,
 * /v1/models, /v1/realtime): --api_key, checked by the adapters' authorize hooks before
 * admission and before any upgrade. Loop thread; pure apart from reading the configuration. */
#ifndef STT_SERVER_ADAPTERS_API_KEY_H
#define STT_SERVER_ADAPTERS_API_KEY_H

#include "../adapter.h"

/* 0 when --api_key is empty or the request carries one of its keys, as
 * `Authorization: Bearer KEY`, `Authorization: Token KEY` (Deepgram), or, for a WebSocket
 * upgrade, the subprotocol offer `token, KEY` (Deepgram's browser form). Else 401 with *why
 * saying what was wrong (missing, malformed, not a known key); the key itself is never put in
 * *why or in a log line. Keys are compared in constant time. */
int stt_api_key_check(const stt_adapter_env_t *env, const stt_request_t *req, const char **why);

#endif /* STT_SERVER_ADAPTERS_API_KEY_H */
