/* stt-loadgen's own header: the state every part of the load generator shares, and the
 * functions its files call in one another. Not a library interface: one program, one thread.
 *
 *   main.c    setup, the run (tick, stop, progress) and teardown
 *   args.c    command line and --help
 *   pcm.c     the speech source, and which samples frame k of a call carries when
 *   wheel.c   the 1 ms timer wheel and its timerfd
 *   calls.c   the connections (WebSocket or raw TCP, as the codec says): sending through the
 *             client codec, receiving and matching events
 *   sample.c  the server process's RSS and CPU from /proc
 *   report.c  the JSON result and the table
 *
 * Ownership: main() owns the lws context and the one loadgen_t, which owns every lg_call_t (one
 * array), the shared read-only PCM (the speech file at the send rate, padded to whole frames), a
 * shared block of silence and the one transmit buffer (single thread, and lws_write copies what
 * the socket does not take). A call owns only a receive buffer, and only while a fragmented
 * message is being assembled. The codec (opts.proto) is static.
 */
#ifndef STT_TOOLS_LOADGEN_H
#define STT_TOOLS_LOADGEN_H

#include <cJSON.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

#include "common/client_proto.h"
#include "common/client_util.h"
#include "common/hist.h"

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
    EXIT_INTERRUPTED = 130,
};

#define DEFAULT_URL "ws://127.0.0.1:8012/"
#define DEFAULT_RATE_HZ 16000 /* when neither --rate nor the codec names one */
#define DEFAULT_WAV                                                                                \
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"
#define MAX_MESSAGE_BYTES 65536 /* events we measure are small; bigger ones are skipped */
#define LATE_US 100000          /* a frame this late counts as late */
#define MIN_GAP_US 1500000      /* silence between utterances: > the server's 0.86 s endpoint */
#define CLOSE_GRACE_US 2000000  /* after the test, wait this long for closes to complete */
#define SAMPLE_US 250000        /* server /proc sampling period */
#define PROGRESS_US 5000000
#define WHEEL_SLOTS 4096 /* 1 ms slots; > frame_ms + any loop stall we tolerate */
#define MAX_SOURCES 254
#define MAX_CLOSE_CODES 16
#define SPEECH_THRESHOLD_DB (-24.0) /* frame RMS relative to the loudest frame */
#define OPENING_MAX_BYTES 512       /* one opening text message of the codec */

typedef struct {
    const char *url;
    const stt_client_proto_t *proto;
    int calls;
    double duration_s;
    double ramp_s;
    double drain_s; /* < 0: min(5, duration / 4) */
    const char *wav;
    double talk_ratio;
    int frame_ms;
    int rate_hz;
    int idle;
    char *sources[MAX_SOURCES]; /* owned */
    int n_sources;
    const char *json_path;
    long server_pid;
    int quiet;
    int libev_loop; /* --event-loop libev */
    const char *api_key; /* jambonz's Authorization: Bearer */
} lg_opts_t;

enum { CALL_PENDING, CALL_CONNECTING, CALL_OPEN, CALL_CLOSED, CALL_FAILED };

typedef struct lg_call lg_call_t;
struct lg_call {
    int idx;
    int state;
    int closing;           /* send a close frame from the next writeable callback */
    int eos_pending;       /* closing: the codec's end-of-stream message goes before the close */
    unsigned opening_sent; /* opening messages of the codec sent so far */
    uint64_t frames_out;   /* audio messages written: the codec's counters */
    struct lws *wsi;

    lg_call_t *wnext; /* timer wheel slot list */
    lg_call_t *wprev;
    int64_t wdue_ms; /* -1: not in the wheel */

    int64_t connect_us;
    int64_t established_us;
    int64_t t_start_us; /* scheduled time of frame 0, a whole ms after the epoch */
    uint64_t next_frame;
    int64_t offset_frames; /* silence before the first utterance: staggers the talk phases */
    int u_planned;         /* utterances that end early enough to expect their final */
    int u_started;         /* utterances whose first frame was sent */
    int u_sent;            /* utterances whose last frame was sent */
    int u_final;           /* utterances that got their final (in order) */
    int rt_utt;            /* utterance of the last realtime event; -1 none */
    int64_t last_rt_us;
    uint64_t partial_hash; /* of the last partial's text, for codecs that repeat them; 0 none */
    int peer_close_code;

    stt_tool_rx_t rx; /* holds memory only while a fragmented message is assembled */
};

typedef struct {
    int code;
    char reason[64];
    unsigned count;
} lg_code_count_t;

typedef struct {
    int64_t rss_start_kb, rss_end_kb, rss_peak_kb, hwm_end_kb;
    double cpu_start_s, cpu_end_s;
    int ok;
} lg_server_stats_t;

typedef struct {
    lg_opts_t o;
    stt_client_params_t params; /* what the codec is told about the audio; call_id is set per
                                 * call (lg_calls_params) */
    struct lws_context *ctx;
    struct ev_loop *evl; /* NULL: lws's poll() loop */
    stt_tool_target_t target;

    int16_t *speech; /* the speech file at the send rate, padded to whole frames */
    int16_t *silence;
    size_t frame_samples;
    int64_t frame_us;
    int64_t speech_frames;
    int64_t gap_frames;
    int64_t cycle_frames;
    int64_t onset_us; /* first voiced frame, from the start of the file */
    int64_t end_us;   /* end of the last voiced frame */
    double file_s;
    uint8_t *tx; /* LWS_PRE headroom, then one message */
    size_t txcap;

    lg_call_t *calls;
    int next_connect;
    int n_connecting;
    int n_open;

    int tfd; /* timerfd for the tick, owned by its adopted lws wsi once adopted */
    int64_t tick_at_us;
    int64_t epoch_us;
    int64_t deadline_us;
    int64_t drain_us;
    int64_t hard_end_us;
    int64_t next_sample_us;
    int64_t next_progress_us;
    int64_t wheel_pos_ms;
    lg_call_t *wheel[WHEEL_SLOTS];
    int stopping;
    int done;
    int64_t stopped_us;

    /* results */
    stt_tool_hist_t h_connect, h_late, h_ttfr, h_cadence, h_final;
    uint64_t frames_sent, frames_late, frames_unsent, bytes_sent;
    uint64_t ev_realtime, ev_full, ev_other, ev_unparsed, ev_oversize, raw_rx_bytes;
    uint64_t finals_early, finals_unexpected, realtime_stale;
    unsigned connect_failed, established, dropped_by_server, rejected, write_errors;
    char first_connect_error[160];
    lg_code_count_t close_codes[MAX_CLOSE_CODES];
    int n_close_codes;
    lg_server_stats_t srv;
    struct rusage ru_start;
} loadgen_t;

/* args.c */
void lg_args_usage(FILE *f);
/* Fills o (defaults already set) from argv: 0, STT_TOOL_OPTS_HELP, or < 0 after printing. */
int lg_args_parse(int argc, char **argv, lg_opts_t *o);
void lg_args_dispose(lg_opts_t *o);

/* pcm.c */
/* Loads the file as mono int16 at the send rate, padded with zeros to whole frames, and finds
 * where the speech in it starts and ends; prints what went wrong. */
int lg_pcm_load(loadgen_t *g);
/* Schedules a call that was established at established_us: its frame 0 and its utterances. */
void lg_pcm_plan_call(loadgen_t *g, lg_call_t *c, int64_t established_us);
int64_t lg_pcm_frame_due_us(const loadgen_t *g, const lg_call_t *c, uint64_t k);
int64_t lg_pcm_utt_start_us(const loadgen_t *g, const lg_call_t *c, int u);
/* Frame k of a call (borrowed from g); *u and *pos: its utterance and frame within it, or -1. */
const int16_t *lg_pcm_frame(const loadgen_t *g, const lg_call_t *c, uint64_t k, int *u,
                            int64_t *pos);

/* wheel.c */
/* The tick's timerfd, adopted into the lws loop (g->ctx); 0, or < 0 after printing. */
int lg_wheel_timer_create(loadgen_t *g);
/* The lws callback of the adopted timerfd: runs lg_tick(). */
int lg_wheel_timer_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len);
/* Sets the tick to fire at at_us (CLOCK_MONOTONIC); a time already past fires at once. */
void lg_wheel_arm_tick(loadgen_t *g, int64_t at_us);
/* Milliseconds from the epoch: the wheel's time. */
int64_t lg_wheel_ms(const loadgen_t *g, int64_t t_us);
/* Wakes the call (lws_callback_on_writable) at due_us, or at once when that is past. */
void lg_wheel_insert(loadgen_t *g, lg_call_t *c, int64_t due_us);
void lg_wheel_remove(loadgen_t *g, lg_call_t *c);
/* Wakes every call whose slot is at or before now_ms. */
void lg_wheel_advance(loadgen_t *g, int64_t now_ms);
/* When the next call is due within the next horizon_ms, or INT64_MAX. */
int64_t lg_wheel_next_us(const loadgen_t *g, int64_t horizon_ms);

/* calls.c */
int lg_calls_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);
void lg_calls_connect(loadgen_t *g, lg_call_t *c);
/* Ends an open call at the end of the test: its unsent frames are counted at end_us, the
 * codec's end-of-stream message goes out, then the close. */
void lg_calls_stop(loadgen_t *g, lg_call_t *c, int64_t end_us);

/* sample.c */
void lg_sample_server(loadgen_t *g);

/* report.c */
cJSON *lg_report_json(const loadgen_t *g, double elapsed_s, const struct rusage *ru_end);
void lg_report_table(const loadgen_t *g, const cJSON *r);
int lg_report_write(const loadgen_t *g, const cJSON *r);

/* main.c: the tick, run by the wheel's timer. */
void lg_tick(loadgen_t *g);

#endif
