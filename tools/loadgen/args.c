/* stt-loadgen's command line: the option table (tools/common/opts.h) and --help. The flags and
 * their ranges are what bench/null_calls.py and bench/capacity.py pass: keep them.
 *
 * Threading: the main thread, before the loop. Ownership: lg_opts_t's strings are borrowed from
 * argv, except the --sources addresses, which it owns until lg_args_dispose().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/opts.h"
#include "loadgen.h"
#include "stt/error.h"
#include "stt/log.h"
#include "stt/rtstt_frame.h"

void lg_args_usage(FILE *f)
{
    fprintf(f,
            "Usage: stt-loadgen [options]\n"
            "Opens N concurrent simulated calls against an stt-server data WebSocket (or its\n"
            "AudioSocket TCP port) and measures connect failures, send lateness, partial and\n"
            "final latency.\n"
            "A table goes to stderr, JSON to stdout (or --json FILE).\n"
            "\n"
            "  --url ws://HOST:PORT/PATH  data socket (default " DEFAULT_URL "); without a\n"
            "                             path, the protocol's own (vosk: /vosk, twilio:\n"
            "                             /twilio, jambonz: /jambonz, audiofork: /audio_fork);\n"
            "                             audiosocket: tcp://HOST:PORT\n"
            "  --protocol " STT_CLIENT_PROTO_NAMES "\n"
            "                             what the calls speak (default rtstt: RealtimeSTT\n"
            "                             frames with a server_sent_to_stt stamp; vosk: its\n"
            "                             config message, PCM chunks, {\"eof\" : 1}; twilio:\n"
            "                             connected, start, base64 mu-law media, stop, each\n"
            "                             call its own streamSid/callSid, nothing comes back;\n"
            "                             jambonz: start, PCM, stop, transcriptions back;\n"
            "                             audiofork: subprotocol audio.jambonz.org, metadata,\n"
            "                             PCM; audiosocket: raw TCP, UUID then slin frames)\n"
            "  --api-key KEY              jambonz: send Authorization: Bearer KEY\n"
            "  --calls N                  concurrent connections (default 10)\n"
            "  --duration SEC             total test length, a hard bound (default 30)\n"
            "  --ramp SEC                 spread the connection starts over SEC (default 5)\n"
            "  --drain SEC                no utterance starts later than its length plus SEC\n"
            "                             before the end, so its final can still arrive\n"
            "                             (default min(5, duration/4))\n"
            "  --wav FILE                 speech source (default the pocketsphinx test file);\n"
            "                             mixed to mono and resampled to the send rate\n"
            "  --talk-ratio R             fraction of time talking, 0..1 (default 0.4): each\n"
            "                             call alternates the file with silence (at least\n"
            "                             %.1f s, so the server ends each utterance)\n"
            "  --frame-ms MS              frame length (default 20)\n"
            "  --rate HZ                  send rate %d..%d (default 16000; 8000 = phone, the\n"
            "                             default of twilio, jambonz, audiofork, audiosocket;\n"
            "                             twilio carries only 8000)\n"
            "  --idle                     connect and hold without sending audio\n"
            "  --sources IP,IP,...        bind each connection's local address round robin\n"
            "  --source-count K           same with 127.0.0.1 .. 127.0.0.K\n"
            "  --json FILE                write the JSON results to FILE\n"
            "  --server-pid PID           sample that process's RSS and CPU from /proc\n"
            "  --event-loop poll|libev    the generator's own event loop (default poll;\n"
            "                             libev = epoll, no faster here: its cost is TCP)\n"
            "  -q, --quiet                no progress lines\n"
            "  -h, --help                 this help\n"
            "\n"
            "Each call starts at a different phase of the talk/silence cycle, so after one\n"
            "cycle the share of calls talking equals the talk ratio. Latencies count from\n"
            "scheduled times: time to first realtime from the first voiced frame of the\n"
            "utterance, final latency from the end of its last voiced frame. Whatever the\n"
            "protocol, the report calls partials \"realtime\" and finals \"fullSentence\"; a\n"
            "protocol that repeats its partial on every chunk (vosk) has only the changes\n"
            "counted as partials.\n",
            (double)MIN_GAP_US / 1e6, STT_FRAME_MIN_RATE_HZ, STT_FRAME_MAX_RATE_HZ);
}

void lg_args_dispose(lg_opts_t *o)
{
    for (int i = 0; i < o->n_sources; i++)
        free(o->sources[i]);
    o->n_sources = 0;
}

static int opt_sources(void *out, const char *prog, const char *list)
{
    lg_opts_t *o = out;
    lg_args_dispose(o);
    char *copy = stt_strdup(list), *save = NULL;
    int too_many = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_sources == MAX_SOURCES) {
            too_many = 1;
            break;
        }
        o->sources[o->n_sources++] = stt_strdup(tok);
    }
    free(copy);
    if (o->n_sources == 0 || too_many) {
        fprintf(stderr, "%s: --sources needs 1..%d comma-separated addresses\n", prog, MAX_SOURCES);
        return STT_EINVAL;
    }
    return 0;
}

static int opt_source_count(void *out, const char *prog, const char *arg)
{
    lg_opts_t *o = out;
    long l;
    if (stt_tool_parse_long(arg, 1, MAX_SOURCES, &l) < 0) {
        fprintf(stderr, "%s: --source-count must be 1..%d\n", prog, MAX_SOURCES);
        return STT_EINVAL;
    }
    lg_args_dispose(o);
    for (long i = 1; i <= l; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "127.0.0.%ld", i);
        o->sources[o->n_sources++] = stt_strdup(ip);
    }
    return 0;
}

static int opt_event_loop(void *out, const char *prog, const char *arg)
{
    if (strcmp(arg, "libev") != 0 && strcmp(arg, "poll") != 0) {
        fprintf(stderr, "%s: --event-loop must be libev or poll\n", prog);
        return STT_EINVAL;
    }
    *(int *)out = strcmp(arg, "libev") == 0;
    return 0;
}

int lg_args_parse(int argc, char **argv, lg_opts_t *o)
{
    const stt_tool_opt_t opts[] = {
        STT_TOOL_OPT_STR("url", &o->url),
        STT_TOOL_OPT_CALL("protocol", &o->proto, stt_client_proto_opt),
        STT_TOOL_OPT_STR("api-key", &o->api_key),
        STT_TOOL_OPT_NUM("calls", &o->calls, 1, 1000000, NULL),
        STT_TOOL_OPT_NUM("duration", &o->duration_s, 0.1, 86400, " seconds"),
        STT_TOOL_OPT_NUM("ramp", &o->ramp_s, 0, 86400, " seconds"),
        STT_TOOL_OPT_NUM("drain", &o->drain_s, 0, 86400, " seconds"),
        STT_TOOL_OPT_STR("wav", &o->wav),
        STT_TOOL_OPT_NUM("talk-ratio", &o->talk_ratio, 0, 1, NULL),
        STT_TOOL_OPT_NUM("frame-ms", &o->frame_ms, 1, 1000, NULL),
        STT_TOOL_OPT_NUM("rate", &o->rate_hz, STT_FRAME_MIN_RATE_HZ, STT_FRAME_MAX_RATE_HZ, NULL),
        STT_TOOL_OPT_BOOL("idle", 0, &o->idle),
        STT_TOOL_OPT_CALL("sources", o, opt_sources),
        STT_TOOL_OPT_CALL("source-count", o, opt_source_count),
        STT_TOOL_OPT_STR("json", &o->json_path),
        {.name = "server-pid",
         .kind = STT_TOOL_OPT_LONG,
         .out = &o->server_pid,
         .lo = 1,
         .hi = 1L << 30,
         .err = "must be a process id"},
        STT_TOOL_OPT_CALL("event-loop", &o->libev_loop, opt_event_loop),
        STT_TOOL_OPT_BOOL("quiet", 'q', &o->quiet),
        STT_TOOL_OPT_HELP_ROW,
    };
    int first;
    int rc = stt_tool_opts_parse("stt-loadgen", opts, sizeof(opts) / sizeof(opts[0]), argc, argv,
                                 &first);
    if (rc != 0)
        return rc;
    if (first < argc) {
        fprintf(stderr, "stt-loadgen: unexpected argument '%s'\n", argv[first]);
        return STT_EINVAL;
    }
    if (!o->rate_hz)
        o->rate_hz = o->proto->default_rate_hz ? o->proto->default_rate_hz : DEFAULT_RATE_HZ;
    if ((o->rate_hz * o->frame_ms) % 1000) {
        fprintf(stderr, "stt-loadgen: --frame-ms %d is not a whole number of samples at %d Hz\n",
                o->frame_ms, o->rate_hz);
        return STT_EINVAL;
    }
    return 0;
}
