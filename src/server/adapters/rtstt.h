/* RealtimeSTT adapters: what the data adapter (rtstt.c) shares with the control adapter
 * (rtstt_control.c): the data session's state and pairing.
 *
 * Pairing (how an unmodified RealtimeSTT client, which opens one control and one data socket
 * with no ids, finds its session): a connection may name itself with `?session=NAME` on its URL;
 * named connections pair only with the same name. Unnamed ones pair FIFO with the earliest
 * unpaired connection of the other kind from the same remote IP address, whichever arrives
 * first. Commands from an unpaired control connection change its own parameter overlay, which a
 * data session adopts when it pairs.
 *
 * Threads: the loop thread only. */
#ifndef STT_SERVER_ADAPTERS_RTSTT_H
#define STT_SERVER_ADAPTERS_RTSTT_H

#include "../adapter.h"
#include "../conn.h"
#include "stt/wav.h"

typedef struct rtstt_ctl rtstt_ctl_t;

/* One data connection: one stream. Freed when the socket closed and the stream came back. */
typedef struct rtstt {
    stt_list_t link; /* in the data sessions' registry while the socket is open */
    stt_conn_t *conn; /* NULL once the socket is gone */
    const stt_adapter_env_t *env;
    stt_stream_t *stream;
    uint64_t id;
    stt_session_params_t params;
    rtstt_ctl_t *ctl; /* paired control connection, or NULL */
    int vad_start_pending; /* vad_detect_start held back until the final is out */
    uint32_t partial_utt;  /* utterance of last_partial */
    char *last_partial;    /* post-processed text of the last partial sent */
    double same_text_since_s; /* when the partial text last changed (hard break) */
    int16_t *last_utt;     /* audio of the last final, for last_transcription_bytes_b64 */
    size_t last_utt_n;
    double listen_start_epoch, recording_stop_epoch, speech_end_silence_epoch;
    stt_wav_writer_t wav; /* -W output, raw input PCM */
    int words; /* send transcript_words after each fullSentence (?words=1, --realtimestt_words) */
} rtstt_t;

/* One control connection. */
struct rtstt_ctl {
    stt_list_t link;
    stt_conn_t *conn;
    const stt_adapter_env_t *env;
    double opened_s;
    rtstt_t *session;             /* paired data session, or NULL */
    stt_session_params_t overlay; /* parameters set before a session was paired */
    int overlay_set;
};

/* The session's parameters changed (set_parameter, pairing): the stream takes them. */
void rtstt_params_changed(rtstt_t *r);

/* Pairing: a new control connection looks for its data session, and a control connection
 * that goes away frees its session for another. */
void rtstt_pair_ctl(rtstt_ctl_t *c);
void rtstt_unpair_ctl(rtstt_ctl_t *c);

/* The control protocol's reply to one message (rtstt_control.c). */
void rtstt_ctl_on_message(rtstt_ctl_t *c, const char *msg, size_t len);

#endif /* STT_SERVER_ADAPTERS_RTSTT_H */
