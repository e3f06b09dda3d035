/* floor.h: what the two floor programs (kfloor.c, sfloor.c) share: error
 * exit, clocks, socket setup, the CPU time of the relay (from /proc) and of
 * the client side (getrusage), and the loopback listener the relay inherits
 * across fork(). Static functions, one header: each program is a single
 * translation unit built by `make kfloor`. Bench code only. */
#ifndef BLINDPAD_BENCH_FLOOR_H
#define BLINDPAD_BENCH_FLOOR_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef FLOOR_PROG
#error "define FLOOR_PROG (the program's name for error messages) before including floor.h"
#endif

_Noreturn static void die(const char *what)
{
    fprintf(stderr, FLOOR_PROG ": %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nonblock_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* utime + stime of pid (all its threads) in clock ticks, split. */
static int proc_cpu(pid_t pid, long long *ut, long long *st)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')');
    if (!p)
        return -1;
    int field = 2; /* fields after ')': state(3) ... utime(14) stime(15) */
    for (p++; *p && field < 14; p++)
        if (*p == ' ')
            field++;
    return sscanf(p, " %lld %lld", ut, st) == 2 ? 0 : -1;
}

/* This process's user + system CPU seconds. */
static double self_cpu_s(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

/* Soft RLIMIT_NOFILE up to the hard one (one descriptor per connection on
 * each side). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* A listening socket on 127.0.0.1 with a free port (its address in *a), and
 * the control socket pair: the relay gets ctl[1], writes one byte when it is
 * ready and exits when the client side closes ctl[0]. */
static int floor_listen(struct sockaddr_in *a, int ctl[2])
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof *a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)a, sizeof *a) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)a, &al) < 0)
        die("listen");
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, ctl) < 0)
        die("socketpair");
    return lfd;
}

#endif
