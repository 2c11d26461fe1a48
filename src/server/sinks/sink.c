/* Sink references and fan-out (sink.h). Loop thread only. */
#include "sink.h"

void stt_sink_retain(stt_sink_t *s)
{
    s->refs++;
}

void stt_sink_release(stt_sink_t *s)
{
    if (s && --s->refs == 0 && s->ops->destroy)
        s->ops->destroy(s);
}

int stt_sink_set_add(stt_sink_set_t *set, stt_sink_t *s)
{
    if (set->n == STT_SINK_SET_MAX)
        return -1;
    stt_sink_retain(s);
    set->sinks[set->n++] = s;
    return 0;
}

void stt_sink_set_emit(const stt_sink_set_t *set, const stt_call_ref_t *call,
                       const stt_call_event_t *ev)
{
    for (size_t i = 0; i < set->n; i++)
        set->sinks[i]->ops->on_event(set->sinks[i], call, ev);
}

void stt_sink_set_clear(stt_sink_set_t *set, const stt_call_ref_t *call)
{
    for (size_t i = 0; i < set->n; i++) {
        stt_sink_t *s = set->sinks[i];
        if (s->ops->on_call_end)
            s->ops->on_call_end(s, call);
        set->sinks[i] = NULL;
        stt_sink_release(s);
    }
    set->n = 0;
}
