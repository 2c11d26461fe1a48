/* What the recognizer and its streams call of each other (src/core only). Loop thread. */
#ifndef STT_CORE_STREAM_INTERNAL_H
#define STT_CORE_STREAM_INTERNAL_H

#include "core/pool.h"
#include "stt/list.h"
#include "stt/stream.h"

/* The stream linked at `node` (its entry in rec->streams). */
stt_stream_t *stt_stream_of_node(stt_list_t *node);

/* The stream linked at `node` of rec->waiting. */
stt_stream_t *stt_stream_of_wait_node(stt_list_t *node);

/* Retries what waits (finals for a decoder or the engine, audio for the engine). */
void stt_stream_tick(stt_stream_t *s, double now);

/* Model reload: hands back every engine state the stream's utterances hold (ABORT jobs; the
 * utterances stay and are decoded again later). Returns how many it still holds or has out. */
int stt_stream_release_engine_state(stt_stream_t *s);

/* Engine handles the stream's utterances hold while no job has them (consistency check). */
long stt_stream_engine_handles(const stt_stream_t *s);

/* The engine's state changed (breaker open/closed): an ENGINE_STATE event. */
void stt_stream_engine_news(stt_stream_t *s, const char *code, const char *message);

/* 1 if the job is one of a stream's (not a probe). */
int stt_stream_owns_job(const stt_job_t *j);

/* The watchdog expired the stream's running job (it comes back later, as STT_ETIMEDOUT). */
void stt_stream_job_timeout(stt_job_t *j);

/* The watchdog retired the worker stuck in j: its utterance stops waiting for it. */
void stt_stream_job_retired(stt_job_t *j);

/* Shutdown: a stream being finished (stt_stream_finish) stops waiting for its finals and
 * closes now (its closed_cb runs once its jobs came back). Returns 1 if it was one. */
int stt_stream_cut_finish(stt_stream_t *s);

#endif /* STT_CORE_STREAM_INTERNAL_H */
