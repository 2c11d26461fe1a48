/* stt-loadgen's view of the server under test: its RSS and CPU time from /proc/PID, sampled
 * from the tick every SAMPLE_US and at the start and end of the test (--server-pid).
 *
 * Threading: the loop thread. Ownership: the figures live in the loadgen_t.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loadgen.h"
#include "stt/error.h"

static int proc_sample(long pid, int64_t *rss_kb, int64_t *hwm_kb, double *cpu_s)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return STT_EIO;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses; fields restart after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return STT_EIO;
    unsigned long long ut = 0, st = 0;
    /* Fields 3..15: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime. */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return STT_EIO;
    *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (!f)
        return STT_EIO;
    *rss_kb = *hwm_kb = -1;
    while (fgets(buf, sizeof(buf), f)) {
        long long v;
        if (sscanf(buf, "VmRSS: %lld", &v) == 1)
            *rss_kb = v;
        else if (sscanf(buf, "VmHWM: %lld", &v) == 1)
            *hwm_kb = v;
    }
    fclose(f);
    return *rss_kb >= 0 ? 0 : STT_EIO;
}

void lg_sample_server(loadgen_t *g)
{
    if (g->o.server_pid <= 0)
        return;
    int64_t rss, hwm;
    double cpu;
    if (proc_sample(g->o.server_pid, &rss, &hwm, &cpu) < 0)
        return; /* the server died or is not ours to read: keep the last sample */
    if (!g->srv.ok) {
        g->srv.ok = 1;
        g->srv.rss_start_kb = g->srv.rss_peak_kb = rss;
        g->srv.cpu_start_s = cpu;
    }
    if (rss > g->srv.rss_peak_kb)
        g->srv.rss_peak_kb = rss;
    g->srv.rss_end_kb = rss;
    g->srv.hwm_end_kb = hwm;
    g->srv.cpu_end_s = cpu;
}
