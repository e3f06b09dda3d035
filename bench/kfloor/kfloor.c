/* kfloor.c: the kernel's floor for S1 at a fixed rate.
 *
 * What a Netflux server cannot avoid when it relays one message to the other
 * members of a channel is the socket work: one read of the sender's bytes
 * and one send to each member, each send waking a process that sleeps in
 * epoll. This program does only that, with no protocol at all (no WebSocket,
 * no JSON, no store), so that its CPU per delivered message is the lowest any
 * server can reach on this machine for the same traffic shape as loadgen's S1
 * (C channels x U users, one message every 1/R s, round robin over users).
 *
 * Two processes, pinned like bench/compare.sh pins S1 (--relay-cpu for the
 * "server", --client-cpu for the "clients"):
 *   relay:  accepts C*U loopback TCP connections; connection k belongs to
 *           channel k / U; on each readable connection it read()s once and
 *           write()s those bytes to the U-1 other members of its channel.
 *   client: opens the connections, sends one SIZE-byte message at a time at
 *           RATE messages/s and reads everything delivered.
 * The parent reads the relay's utime/stime from /proc over the send phase
 * (as loadgen does for a real server) and prints one JSON object.
 *
 * Plain epoll and blocking-free syscalls instead of libuv on purpose: the
 * point is the cost of the syscalls themselves, with as little around them
 * as possible. Bench code only; nothing in the server uses it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_PROG "kfloor"
#include "floor.h"

#define MAX_CONNS 20000
#define BUF_MAX (256 * 1024)

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    if (sched_setaffinity(0, sizeof s, &s) < 0)
        die("sched_setaffinity");
}

/* The relay: every readable connection is read once and copied to the
 * other members. Runs until the listening socket's peer side tells it to
 * stop (the control pipe closes). */
/* What Netflux adds to the bare relay, as options (--ack, --append DIR):
 * the sender gets an ACK frame for every message (a 12-byte `[seq,"ACK"]`
 * in a WebSocket frame), and a history keeper appends every message to its
 * channel's log (one write() on an O_APPEND file per message, no fsync, as
 * blindpad --fsync none and the reference). */
#define ACK_LEN 14
static const char ack_frame[ACK_LEN] = "\x81\x0c[123,\"ACK\"]";

static void relay(int lfd, int nconns, int users, int ctl, bool ack, const char *dir)
{
    int *fds = calloc((size_t)nconns, sizeof *fds);
    char *buf = malloc(BUF_MAX);
    if (!fds || !buf)
        die("malloc");
    for (int k = 0; k < nconns; k++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            die("accept");
        /* The client writes its index first so that channels are exact. */
        uint32_t idx;
        if (read(fd, &idx, sizeof idx) != (ssize_t)sizeof idx || idx >= (uint32_t)nconns)
            die("hello");
        fds[idx] = fd;
    }
    int *logs = NULL;
    if (dir) {
        int nch = nconns / users;
        logs = calloc((size_t)nch, sizeof *logs);
        if (!logs)
            die("malloc");
        for (int c = 0; c < nch; c++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/ch%d.ndjson", dir, c);
            if ((logs[c] = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
                die(path);
        }
    }
    int ep = epoll_create1(0);
    for (int k = 0; k < nconns; k++) {
        nonblock_nodelay(fds[k]);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)k};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[k], &ev);
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, ctl, &ev);
    char go = 1;
    if (write(ctl, &go, 1) != 1) /* ready */
        die("ctl");
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < n; i++) {
            uint32_t k = evs[i].data.u32;
            if (k == UINT32_MAX)
                _exit(0);
            ssize_t r = read(fds[k], buf, BUF_MAX);
            if (r <= 0)
                continue;
            int base = (int)k / users * users;
            if (logs && write(logs[(int)k / users], buf, (size_t)r) != r)
                die("append");
            if (ack && write(fds[k], ack_frame, ACK_LEN) < 0 && errno != EAGAIN)
                die("ack");
            for (int m = base; m < base + users; m++)
                if (m != (int)k && write(fds[m], buf, (size_t)r) < 0 && errno != EAGAIN)
                    die("relay write");
        }
    }
}

int main(int argc, char **argv)
{
    int channels = 100, users = 10, size = 1200, relay_cpu = 1, client_cpu = 0;
    bool ack = false;
    const char *dir = NULL;
    double rate = 1000, duration = 10;
    static const struct option opts[] = {
        {"channels", 1, 0, 'c'}, {"users", 1, 0, 'u'}, {"size", 1, 0, 's'}, {"rate", 1, 0, 'r'},
        {"duration", 1, 0, 'd'}, {"relay-cpu", 1, 0, 'R'}, {"client-cpu", 1, 0, 'C'}, {"help", 0, 0, 'h'},
        /* loadgen's S1 options, so that bench/compare.sh can hand it the same
         * arguments: --msg-size is loadgen's content size (the frame on the
         * wire is ~100 bytes longer); the others do not apply here. */
        {"ack", 0, 0, 'A'}, {"append", 1, 0, 'P'}, {"msg-size", 1, 0, 'm'}, {"scenario", 1, 0, 'x'}, {"url", 1, 0, 'x'}, {"server-pid", 1, 0, 'x'},
        {"seed", 1, 0, 'x'}, {"window", 1, 0, 'x'}, {"quiet", 0, 0, 'x'}, {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c': channels = atoi(optarg); break;
        case 'u': users = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'R': relay_cpu = atoi(optarg); break;
        case 'C': client_cpu = atoi(optarg); break;
        case 'A': ack = true; break;
        case 'P': dir = optarg; break;
        case 'm': size = atoi(optarg) + 100; break;
        case 'x': break;
        default:
            fprintf(stderr, "usage: kfloor [--channels C] [--users U] [--size BYTES] [--rate MSG/S]\n"
                            "              [--duration S] [--relay-cpu N] [--client-cpu N] (-1: no pinning)\n"
                            "              [--ack] [--append DIR]   (add Netflux's ACK / the history append)\n");
            return o == 'h' ? 0 : 2;
        }
    }
    int nconns = channels * users;
    if (channels < 1 || users < 2 || nconns > MAX_CONNS || size < 1 || size > BUF_MAX || rate <= 0 ||
        duration <= 0) {
        fprintf(stderr, "kfloor: bad arguments\n");
        return 2;
    }
    raise_nofile();
    struct sockaddr_in a;
    int ctl[2];
    int lfd = floor_listen(&a, ctl);
    pid_t rp = fork();
    if (rp < 0)
        die("fork");
    if (rp == 0) {
        close(ctl[0]);
        pin(relay_cpu);
        relay(lfd, nconns, users, ctl[1], ack, dir);
        _exit(0);
    }
    close(ctl[1]);
    close(lfd);
    pin(client_cpu);
    int *fds = calloc((size_t)nconns, sizeof *fds);
    char *msg = malloc((size_t)size), *buf = malloc(BUF_MAX);
    if (!fds || !msg || !buf)
        die("malloc");
    for (int i = 0; i < size; i++)
        msg[i] = (char)('A' + i % 26);
    for (int k = 0; k < nconns; k++) {
        fds[k] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[k] < 0 || connect(fds[k], (struct sockaddr *)&a, sizeof a) < 0)
            die("connect");
        uint32_t idx = (uint32_t)k;
        if (write(fds[k], &idx, sizeof idx) != (ssize_t)sizeof idx)
            die("hello");
    }
    char go;
    if (read(ctl[0], &go, 1) != 1)
        die("relay not ready");
    int ep = epoll_create1(0);
    for (int k = 0; k < nconns; k++) {
        nonblock_nodelay(fds[k]);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)k};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[k], &ev);
    }
    long long u0, s0, u1, s1;
    double c0 = self_cpu_s();
    if (proc_cpu(rp, &u0, &s0) < 0)
        die("proc");
    double t0 = now_s(), next = t0, end = t0 + duration;
    long long sent = 0, received = 0;
    struct epoll_event evs[256];
    int who = 0;
    while (now_s() < end) {
        double t = now_s();
        while (next <= t && next < end) {
            ssize_t w = write(fds[who], msg, (size_t)size);
            if (w != size)
                die("client write");
            sent++;
            who = (who + 1) % nconns;
            next = t0 + (double)sent / rate;
        }
        double wait = next - now_s();
        /* Rounded up: the client sleeps like loadgen does, never spins. */
        int ms = wait > 0 ? (int)(wait * 1000) + 1 : 0;
        int n = epoll_wait(ep, evs, 256, ms);
        for (int i = 0; i < n; i++) {
            ssize_t r;
            while ((r = read(fds[evs[i].data.u32], buf, BUF_MAX)) > 0)
                received += r;
        }
    }
    /* Drain what is still in flight (bounded: 2 s). */
    long long want = sent * (users - 1) * (long long)size + (ack ? sent * ACK_LEN : 0);
    double stop = now_s() + 2;
    while (received < want && now_s() < stop) {
        int n = epoll_wait(ep, evs, 256, 50);
        for (int i = 0; i < n; i++) {
            ssize_t r;
            while ((r = read(fds[evs[i].data.u32], buf, BUF_MAX)) > 0)
                received += r;
        }
    }
    double elapsed = now_s() - t0;
    if (proc_cpu(rp, &u1, &s1) < 0)
        die("proc");
    double ccpu = self_cpu_s() - c0;
    close(ctl[0]);
    waitpid(rp, NULL, 0);
    double tick = (double)sysconf(_SC_CLK_TCK);
    double ru = (double)(u1 - u0) / tick, rs = (double)(s1 - s0) / tick;
    long long deliveries = sent * (users - 1);
    /* Loadgen's key names where the meaning is the same (compare.py reads
     * them); the relay is the "server". */
    long long delivered = (received - (ack ? sent * ACK_LEN : 0)) / size; /* whole messages that arrived */
    double per = deliveries ? (ru + rs) * 1e6 / (double)deliveries : 0.0;
    printf("{\"scenario\":\"s1\",\"title\":\"kernel floor: read once, write to each other member\","
           "\"params\":{\"channels\":%d,\"users\":%d,\"frame_bytes\":%d,\"rate\":%g,\"ack\":%s,\"append\":%s},"
           "\"messages\":{\"sent\":%lld,\"deliveries\":%lld,\"deliveries_expected\":%lld},"
           "\"bytes\":{\"expected\":%lld,\"received\":%lld},"
           "\"rates\":{\"measured_s\":%.3f,\"delivered_per_s\":%.1f},"
           "\"server\":{\"pids\":[%d],\"cpu_s\":%.2f,\"user_s\":%.2f,\"sys_s\":%.2f,"
           "\"cpu_percent_core\":%.1f,\"cpu_us_per_delivered_msg\":%.3f},"
           "\"generator\":{\"cpu_percent_core\":%.1f}}\n",
           channels, users, size, rate, ack ? "true" : "false", dir ? "true" : "false", sent, delivered,
           deliveries, want, received, elapsed, (double)deliveries / elapsed, (int)rp, ru + rs, ru, rs,
           100.0 * (ru + rs) / elapsed, per, 100.0 * ccpu / elapsed);
    return received == want ? 0 : 1;
}
