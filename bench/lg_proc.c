/* lg_proc.c: /proc readers (see lg_proc.h). */
#include "lg_proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static long status_kb(const char *path, const char *field)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char line[256];
    size_t fl = strlen(field);
    long v = -1;
    while (fgets(line, sizeof(line), fp)) {
        if (strncmp(line, field, fl) == 0) {
            v = strtol(line + fl, NULL, 10);
            break;
        }
    }
    fclose(fp);
    return v;
}

long proc_rss_kb(const pid_t *pids, unsigned n)
{
    long sum = -1;
    for (unsigned i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pids[i]);
        long v = status_kb(path, "VmRSS:");
        if (v >= 0)
            sum = (sum < 0 ? 0 : sum) + v;
    }
    return sum;
}

long self_rss_kb(void)
{
    return status_kb("/proc/self/status", "VmRSS:");
}

/* utime and stime are fields 14 and 15 of /proc/PID/stat; the command name
 * (field 2) may contain spaces, so counting starts after its last ')'. */
static int64_t stat_ticks(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    size_t n = fread(line, 1, sizeof(line) - 1, fp);
    fclose(fp);
    line[n] = '\0';
    char *p = strrchr(line, ')');
    if (!p)
        return -1;
    p++;
    unsigned long long ut = 0, st = 0;
    /* fields 3..13 are skipped */
    if (sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (int64_t)(ut + st);
}

int64_t proc_cpu_us(const pid_t *pids, unsigned n)
{
    long hz = sysconf(_SC_CLK_TCK);
    int64_t sum = -1;
    for (unsigned i = 0; i < n; i++) {
        int64_t t = stat_ticks(pids[i]);
        if (t >= 0)
            sum = (sum < 0 ? 0 : sum) + t;
    }
    return sum < 0 ? -1 : sum * 1000000 / (hz > 0 ? hz : 100);
}

int64_t self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
           (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

int proc_tcp_lookup(unsigned lport, unsigned rport, int *state, long *txq, long *rxq)
{
    FILE *fp = fopen("/proc/net/tcp", "r");
    if (!fp)
        return -1;
    char line[512];
    int found = -1;
    if (!fgets(line, sizeof(line), fp)) { /* header */
        fclose(fp);
        return -1;
    }
    while (fgets(line, sizeof(line), fp)) {
        unsigned la, lp, ra, rp, st;
        unsigned long tx, rx;
        if (sscanf(line, " %*d: %8x:%4x %8x:%4x %2x %lx:%lx", &la, &lp, &ra, &rp, &st, &tx, &rx) != 7)
            continue;
        if (lp == lport && rp == rport) {
            *state = (int)st;
            *txq = (long)tx;
            *rxq = (long)rx;
            found = 0;
            break;
        }
    }
    fclose(fp);
    return found;
}

long raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}
