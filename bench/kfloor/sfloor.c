/* sfloor.c: the floor for S4 (signed writes), as kfloor.c is for S1.
 *
 * S4's target compares accepted signed writes/s with the raw rate of
 * libsodium's crypto_sign_verify_detached on this machine. Besides the check
 * itself, a Netflux server must do, for every signed message: read it, decode
 * its base64, append it to the channel's log, send an ACK to the sender and
 * deliver it to the other members. This program does exactly that and
 * nothing else, in the cheapest shape we know of, so that its rate is the
 * best any server can reach here for the same traffic as loadgen's S4:
 *
 *   - no WebSocket, no JSON: a frame is a 4-byte length and the base64
 *     content (the same 1,448-byte contents loadgen signs), decoded with
 *     OpenSSL's EVP_DecodeBlock as blindpad does;
 *   - one relay thread per allowed CPU, each with its own epoll and its own
 *     channels (channel c on thread c % T), checking signatures inline: no
 *     hand-off between threads, no queue, no lock;
 *   - writes to one socket coalesced per read: the ACKs for all the frames
 *     one read() returned go out in one write(), the deliveries to each
 *     member in one writev() (blindpad does not do this; a floor may);
 *   - one write() of the message and its newline to the channel's log per
 *     message (O_APPEND, no fsync, as blindpad --fsync none and the
 *     reference).
 *
 * Two processes: the relay (forked, on --relay-cpus, all CPUs by default)
 * and the clients (C channels x U users, closed loop, --window un-ACKed
 * messages per user, pinned to --client-cpu). After the run the raw verify
 * rate is measured like loadgen does (best of 3 rounds, 1 and 2 threads).
 * Prints one JSON object with loadgen's key names where the meaning is the
 * same (bench/compare.py reads them). Bench code only. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_PROG "sfloor"
#include "floor.h"

#define MAX_CONNS 20000
#define MAX_WINDOW 256
#define MAX_CONTENT 65536
#define MAX_THREADS 64
#define ACK_WORD 0u           /* a frame of length 0 is an ACK: stored and relayed */
#define NACK_WORD UINT32_MAX  /* refused (bad signature): not a length (> MAX_CONTENT) */

/* "-1" or "" = every online CPU; else a taskset-style list ("0,1", "0-1").
 * Exits with status 2 on a bad list. */
static void parse_cpus(const char *list, cpu_set_t *set)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (!list || !*list || strcmp(list, "-1") == 0) {
        for (long i = 0; i < n && i < CPU_SETSIZE; i++)
            CPU_SET((int)i, &s);
    } else {
        const char *p = list;
        for (;;) {
            char *e;
            long lo = strtol(p, &e, 10), hi = lo;
            if (e != p && *e == '-') {
                p = e + 1;
                hi = strtol(p, &e, 10);
            }
            if (e == p || lo < 0 || hi < lo || hi >= CPU_SETSIZE) {
                fprintf(stderr, "sfloor: bad CPU list %s\n", list);
                exit(2);
            }
            for (long c = lo; c <= hi; c++)
                CPU_SET((int)c, &s);
            if (*e == '\0')
                break;
            if (*e != ',') {
                fprintf(stderr, "sfloor: bad CPU list %s\n", list);
                exit(2);
            }
            p = e + 1;
        }
    }
    *set = s;
}

static void set_cpus(const char *list)
{
    cpu_set_t s;
    parse_cpus(list, &s);
    if (sched_setaffinity(0, sizeof s, &s) < 0)
        die("sched_setaffinity");
}

static int cpus_allowed(void)
{
    cpu_set_t s;
    if (sched_getaffinity(0, sizeof s, &s) < 0)
        return 1;
    return CPU_COUNT(&s);
}

/* ---- shared setup (made before the fork, so both sides have it) ---- */

struct setup {
    int channels, users, nconns, window, threads;
    size_t plen, clen;       /* signed payload bytes; base64 content bytes */
    uint8_t (*pk)[crypto_sign_PUBLICKEYBYTES];
    char **arena;            /* per channel: per contents of clen bytes each */
    uint32_t per;
    uint32_t bad_every;      /* content j of a channel has a corrupted signature when
                              * j % bad_every == bad_every - 1 (0: none) */
    const char *dir;
};

static bool is_bad(const struct setup *S, uint32_t j)
{
    return S->bad_every && j % S->bad_every == S->bad_every - 1;
}

/* Same payload shape as loadgen's presign(): base64(24-byte nonce) "|"
 * base64(ciphertext) of about --msg-size bytes, signed, base64 again. */
static void presign(struct setup *S, size_t msg_size, uint64_t total)
{
    size_t ctb64 = msg_size > 33 + 4 ? (msg_size - 33) / 4 * 4 : 4;
    size_t ctlen = ctb64 / 4 * 3;
    S->plen = 32 + 1 + ctb64;
    S->clen = sodium_base64_ENCODED_LEN(crypto_sign_BYTES + S->plen, sodium_base64_VARIANT_ORIGINAL) - 1;
    S->per = (uint32_t)((total + (uint64_t)S->channels - 1) / (uint64_t)S->channels);
    S->pk = calloc((size_t)S->channels, sizeof *S->pk);
    S->arena = calloc((size_t)S->channels, sizeof *S->arena);
    uint8_t *raw = malloc(24 + ctlen), *sm = malloc(crypto_sign_BYTES + S->plen);
    char *payload = malloc(S->plen + 1);
    if (!S->pk || !S->arena || !raw || !sm || !payload)
        die("malloc");
    for (int c = 0; c < S->channels; c++) {
        uint8_t sk[crypto_sign_SECRETKEYBYTES];
        crypto_sign_keypair(S->pk[c], sk);
        if (!(S->arena[c] = malloc((size_t)S->per * S->clen + 1)))
            die("malloc");
        for (uint32_t i = 0; i < S->per; i++) {
            randombytes_buf(raw, 24 + ctlen);
            sodium_bin2base64(payload, 33, raw, 24, sodium_base64_VARIANT_ORIGINAL);
            payload[32] = '|';
            sodium_bin2base64(payload + 33, ctb64 + 1, raw + 24, ctlen, sodium_base64_VARIANT_ORIGINAL);
            unsigned long long smlen;
            crypto_sign(sm, &smlen, (const uint8_t *)payload, S->plen, sk);
            char *ct = S->arena[c] + (size_t)i * S->clen;
            sodium_bin2base64(ct, S->clen + 1, sm, (size_t)smlen, sodium_base64_VARIANT_ORIGINAL);
            if (is_bad(S, i))
                ct[0] = ct[0] == 'A' ? 'B' : 'A'; /* still base64, no longer the signature */
        }
        sodium_memzero(sk, sizeof sk);
    }
    free(raw);
    free(sm);
    free(payload);
}

/* ---- the relay ---- */

struct rconn {
    int fd, ch;
    size_t len;          /* bytes in buf */
    uint8_t *buf;        /* 4 + MAX_CONTENT */
};

struct rthread {
    const struct setup *S;
    struct rconn *conns; /* all of them; this thread owns channels t, t+T, ... */
    int *logs;
    int t;
};

/* One read()'s worth of frames from conn k: check each, append the good ones
 * to the log, then one write() of all the ACKs to the sender and one writev()
 * of all the good frames to each other member. */
static void relay_read(struct rthread *R, int k)
{
    const struct setup *S = R->S;
    struct rconn *c = &R->conns[k];
    size_t cap = 4 + MAX_CONTENT;
    ssize_t r = read(c->fd, c->buf + c->len, cap - c->len);
    if (r <= 0)
        return;
    c->len += (size_t)r;
    struct iovec iov[2 * MAX_WINDOW];
    uint32_t acks[MAX_WINDOW];
    int nio = 0, nack = 0;
    size_t off = 0;
    uint8_t sm[MAX_CONTENT];
    while (c->len - off >= 4 && nack < MAX_WINDOW) {
        uint32_t n;
        memcpy(&n, c->buf + off, 4);
        if (n > MAX_CONTENT) {
            fprintf(stderr, "sfloor: bad frame\n");
            exit(1);
        }
        if (c->len - off < 4 + (size_t)n)
            break;
        const char *content = (const char *)c->buf + off + 4;
        /* OpenSSL's decoder, as blindpad (libsodium's constant-time one is
         * several times slower and a floor takes the fastest) */
        int got = n % 4 == 0 && n / 4 * 3 <= sizeof sm ? EVP_DecodeBlock(sm, (const uint8_t *)content, (int)n) : -1;
        size_t smlen = got < 0 ? 0 : (size_t)got - (n && content[n - 1] == '=') - (n > 1 && content[n - 2] == '=');
        bool ok = got >= 0 && smlen >= crypto_sign_BYTES &&
                  crypto_sign_verify_detached(sm, sm + crypto_sign_BYTES, smlen - crypto_sign_BYTES,
                                              S->pk[c->ch]) == 0;
        if (ok) {
            struct iovec line[2] = {{(void *)content, n}, {"\n", 1}};
            if (R->logs && writev(R->logs[c->ch], line, 2) != (ssize_t)n + 1)
                die("append");
            iov[nio++] = (struct iovec){c->buf + off, 4 + (size_t)n};
        }
        acks[nack++] = ok ? ACK_WORD : NACK_WORD;
        off += 4 + (size_t)n;
    }
    if (nack && write(c->fd, acks, (size_t)nack * 4) != (ssize_t)nack * 4)
        die("ack");
    if (nio) {
        size_t total = 0;
        for (int i = 0; i < nio; i++)
            total += iov[i].iov_len;
        int base = c->ch * S->users;
        for (int m = base; m < base + S->users; m++)
            if (m != k && writev(R->conns[m].fd, iov, nio) != (ssize_t)total)
                die("deliver");
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static void *relay_thread(void *arg)
{
    struct rthread *R = arg;
    const struct setup *S = R->S;
    int ep = epoll_create1(0);
    if (ep < 0)
        die("epoll");
    for (int ch = R->t; ch < S->channels; ch += S->threads)
        for (int u = 0; u < S->users; u++) {
            int k = ch * S->users + u;
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)k};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, R->conns[k].fd, &ev) < 0)
                die("epoll_ctl");
        }
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < n; i++)
            relay_read(R, (int)evs[i].data.u32);
    }
    return NULL;
}

static void relay(const struct setup *S, int lfd, int ctl)
{
    struct rconn *conns = calloc((size_t)S->nconns, sizeof *conns);
    if (!conns)
        die("malloc");
    for (int k = 0; k < S->nconns; k++) {
        int fd = accept(lfd, NULL, NULL);
        uint32_t idx;
        if (fd < 0 || read(fd, &idx, sizeof idx) != (ssize_t)sizeof idx || idx >= (uint32_t)S->nconns)
            die("accept/hello");
        conns[idx] = (struct rconn){.fd = fd, .ch = (int)idx / S->users, .buf = malloc(4 + MAX_CONTENT)};
        if (!conns[idx].buf)
            die("malloc");
        nonblock_nodelay(fd);
    }
    int *logs = NULL;
    if (S->dir) {
        if (!(logs = calloc((size_t)S->channels, sizeof *logs)))
            die("malloc");
        for (int c = 0; c < S->channels; c++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/ch%d.ndjson", S->dir, c);
            if ((logs[c] = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
                die(path);
        }
    }
    static struct rthread R[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int t = 0; t < S->threads; t++) {
        R[t] = (struct rthread){.S = S, .conns = conns, .logs = logs, .t = t};
        if (pthread_create(&th[t], NULL, relay_thread, &R[t]) != 0)
            die("pthread_create");
    }
    char go = 1;
    if (write(ctl, &go, 1) != 1)
        die("ctl");
    /* Runs until the client side closes the control socket. */
    while (read(ctl, &go, 1) > 0)
        ;
    _exit(0);
}

/* ---- the raw verify rate (as loadgen: best of 3 rounds of 0.5 s) ---- */

struct vb {
    const uint8_t *sm, *pk;
    size_t smlen;
    unsigned long long n;
    int fail;
};

static void *vb_loop(void *arg)
{
    struct vb *v = arg;
    double t0 = now_s();
    do {
        for (int k = 0; k < 32; k++, v->n++)
            if (crypto_sign_verify_detached(v->sm, v->sm + crypto_sign_BYTES, v->smlen - crypto_sign_BYTES, v->pk))
                v->fail = 1;
    } while (now_s() - t0 < 0.5);
    return NULL;
}

static double verify_rate(const struct setup *S, int nthreads)
{
    uint8_t sm[MAX_CONTENT];
    size_t smlen;
    if (sodium_base642bin(sm, sizeof sm, S->arena[0], S->clen, NULL, &smlen, NULL, sodium_base64_VARIANT_ORIGINAL))
        return -1;
    struct vb v[2];
    pthread_t th[2];
    double t0 = now_s();
    for (int i = 0; i < nthreads; i++) {
        v[i] = (struct vb){sm, S->pk[0], smlen, 0, 0};
        pthread_create(&th[i], NULL, vb_loop, &v[i]);
    }
    unsigned long long total = 0;
    int fail = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        total += v[i].n;
        fail |= v[i].fail;
    }
    return fail ? -1 : (double)total / (now_s() - t0);
}

/* ---- the clients ---- */

struct cconn {
    int fd, ch;
    size_t len;   /* bytes in buf */
    uint8_t *buf; /* 4 + MAX_CONTENT */
};

/* Sends the next pre-signed content of c's channel as one frame (the
 * contents are reused round robin once all were sent). Returns whether it
 * was one of the corrupted ones (--bad-every). */
static bool send_next(const struct setup *S, const struct cconn *c, uint32_t *next)
{
    uint32_t len = (uint32_t)S->clen, j = next[c->ch]++ % S->per;
    struct iovec v[2] = {{&len, 4}, {S->arena[c->ch] + (size_t)j * S->clen, S->clen}};
    if (writev(c->fd, v, 2) != (ssize_t)(4 + S->clen))
        die("client write");
    return is_bad(S, j);
}

int main(int argc, char **argv)
{
    int channels = 50, users = 2, window = 16, client_cpu = 0, bad_every = 0;
    long long messages = 60000;
    size_t msg_size = 1024;
    double duration = 10;
    const char *relay_cpus = "-1", *dir = NULL;
    static const struct option opts[] = {
        {"channels", 1, 0, 'c'}, {"users", 1, 0, 'u'}, {"msg-size", 1, 0, 'm'}, {"window", 1, 0, 'w'},
        {"messages", 1, 0, 'n'}, {"duration", 1, 0, 'd'}, {"relay-cpus", 1, 0, 'R'}, {"client-cpu", 1, 0, 'C'},
        {"append", 1, 0, 'P'}, {"bad-every", 1, 0, 'B'}, {"help", 0, 0, 'h'},
        /* loadgen's options that bench/compare.sh passes and that do not apply */
        {"scenario", 1, 0, 'x'}, {"url", 1, 0, 'x'}, {"server-pid", 1, 0, 'x'}, {"seed", 1, 0, 'x'},
        {"quiet", 0, 0, 'x'}, {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c': channels = atoi(optarg); break;
        case 'u': users = atoi(optarg); break;
        case 'm': msg_size = (size_t)atol(optarg); break;
        case 'w': window = atoi(optarg); break;
        case 'n': messages = atoll(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'R': relay_cpus = optarg; break;
        case 'C': client_cpu = atoi(optarg); break;
        case 'P': dir = optarg; break;
        case 'B': bad_every = atoi(optarg); break;
        case 'x': break;
        default:
            fprintf(stderr, "usage: sfloor [--channels C] [--users U] [--msg-size BYTES] [--window W]\n"
                            "              [--messages N] [--duration S] [--relay-cpus LIST|-1] [--client-cpu N]\n"
                            "              [--append DIR] [--bad-every N]\n");
            return o == 'h' ? 0 : 2;
        }
    }
    int nconns = channels * users;
    if (channels < 1 || users < 2 || nconns > MAX_CONNS || window < 1 || window > MAX_WINDOW || messages < 1 ||
        msg_size < 40 || msg_size > MAX_CONTENT / 2 || duration <= 0 || bad_every < 0) {
        fprintf(stderr, "sfloor: bad arguments\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    raise_nofile();
    cpu_set_t relay_set;
    parse_cpus(relay_cpus, &relay_set); /* before anything else: a bad list fails here, once */
    struct setup S = {.channels = channels, .users = users, .nconns = nconns, .window = window,
                      .bad_every = (uint32_t)bad_every, .dir = dir};
    presign(&S, msg_size, (uint64_t)messages);

    struct sockaddr_in a;
    int ctl[2];
    int lfd = floor_listen(&a, ctl);
    pid_t rp = fork();
    if (rp < 0)
        die("fork");
    if (rp == 0) {
        close(ctl[0]);
        if (sched_setaffinity(0, sizeof relay_set, &relay_set) < 0)
            die("sched_setaffinity");
        S.threads = cpus_allowed();
        if (S.threads > MAX_THREADS)
            S.threads = MAX_THREADS;
        if (S.threads > channels)
            S.threads = channels;
        relay(&S, lfd, ctl[1]);
    }
    close(ctl[1]);
    close(lfd);
    if (client_cpu >= 0) {
        char one[16];
        snprintf(one, sizeof one, "%d", client_cpu);
        set_cpus(one);
    }
    struct cconn *cs = calloc((size_t)nconns, sizeof *cs);
    uint32_t *next = calloc((size_t)channels, sizeof *next);
    if (!cs || !next)
        die("malloc");
    for (int k = 0; k < nconns; k++) {
        cs[k].fd = socket(AF_INET, SOCK_STREAM, 0);
        cs[k].ch = k / users;
        if (cs[k].fd < 0 || connect(cs[k].fd, (struct sockaddr *)&a, sizeof a) < 0)
            die("connect");
        uint32_t idx = (uint32_t)k;
        if (write(cs[k].fd, &idx, sizeof idx) != (ssize_t)sizeof idx)
            die("hello");
        if (!(cs[k].buf = malloc(4 + MAX_CONTENT)))
            die("malloc");
    }
    char go;
    if (read(ctl[0], &go, 1) != 1)
        die("relay not ready");
    int ep = epoll_create1(0);
    for (int k = 0; k < nconns; k++) {
        nonblock_nodelay(cs[k].fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)k};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[k].fd, &ev);
    }
    long long u0, s0, u1, s1;
    double c0 = self_cpu_s();
    if (proc_cpu(rp, &u0, &s0) < 0)
        die("proc");
    double t0 = now_s(), end = t0 + duration, t_done = 0;
    long long sent = 0, acked = 0, rejected = 0, bad_sent = 0, delivered = 0;
    bool sending = true;
    for (int w = 0; w < window; w++)
        for (int k = 0; k < nconns && sent < messages; k++) {
            bad_sent += send_next(&S, &cs[k], next);
            sent++;
        }
    struct epoll_event evs[256];
    for (;;) {
        double t = now_s();
        if (sending && (t >= end || sent >= messages))
            sending = false;
        if (!sending && acked >= sent && delivered >= (acked - rejected) * (users - 1)) {
            t_done = t;
            break;
        }
        if (!sending && t > end + 5)
            break; /* lost frames: reported, exit status 1 */
        int n = epoll_wait(ep, evs, 256, 50);
        for (int i = 0; i < n; i++) {
            int k = (int)evs[i].data.u32;
            struct cconn *c = &cs[k];
            /* One read per event (level-triggered: what is left is
             * reported again), no read that ends in EAGAIN. */
            ssize_t r = read(c->fd, c->buf + c->len, 4 + MAX_CONTENT - c->len);
            if (r > 0) {
                c->len += (size_t)r;
                size_t off = 0;
                while (c->len - off >= 4) {
                    uint32_t len;
                    memcpy(&len, c->buf + off, 4);
                    if (len == ACK_WORD || len == NACK_WORD) {
                        off += 4;
                        acked++;
                        rejected += len == NACK_WORD;
                        if (sending && sent < messages) {
                            bad_sent += send_next(&S, c, next);
                            sent++;
                        }
                        continue;
                    }
                    if (c->len - off < 4 + (size_t)len)
                        break;
                    off += 4 + len;
                    delivered++;
                }
                memmove(c->buf, c->buf + off, c->len - off);
                c->len -= off;
            }
        }
    }
    if (!t_done)
        t_done = now_s();
    double elapsed = t_done - t0;
    if (proc_cpu(rp, &u1, &s1) < 0)
        die("proc");
    double ccpu = self_cpu_s() - c0;
    close(ctl[0]);
    waitpid(rp, NULL, 0);
    /* The raw limit, measured like loadgen: on every CPU, best of 3. */
    set_cpus("-1");
    double v1 = -1, v2 = -1;
    for (int round = 0; round < 3; round++) {
        double r1 = verify_rate(&S, 1), r2 = verify_rate(&S, 2);
        v1 = r1 > v1 ? r1 : v1;
        v2 = r2 > v2 ? r2 : v2;
    }
    double tick = (double)sysconf(_SC_CLK_TCK);
    double ru = (double)(u1 - u0) / tick, rs = (double)(s1 - s0) / tick;
    long long want_deliv = (acked - rejected) * (users - 1);
    printf("{\"scenario\":\"s4\",\"title\":\"signature floor: decode, check, append, ACK, deliver; a thread per CPU, no hand-off\","
           "\"params\":{\"channels\":%d,\"users\":%d,\"window\":%d,\"messages\":%lld,\"content_bytes\":%zu,"
           "\"relay_cpus\":\"%s\",\"append\":%s},"
           "\"messages\":{\"sent\":%lld,\"bad_sent\":%lld,\"acked\":%lld,\"deliveries\":%lld,\"deliveries_expected\":%lld},"
           "\"signed\":{\"accepted_per_s\":%.1f,\"rejected\":%lld,\"verify_detached_per_s_1_thread\":%.1f,"
           "\"verify_detached_per_s_2_threads\":%.1f,\"verify_cpus_available\":%ld},"
           "\"rates\":{\"measured_s\":%.3f},"
           "\"server\":{\"pids\":[%d],\"cpu_s\":%.2f,\"user_s\":%.2f,\"sys_s\":%.2f,"
           "\"cpu_percent_core\":%.1f,\"cpu_us_per_delivered_msg\":%.3f},"
           "\"generator\":{\"cpu_percent_core\":%.1f}}\n",
           channels, users, window, messages, S.clen, relay_cpus, dir ? "true" : "false", sent, bad_sent, acked, delivered,
           want_deliv, (double)(acked - rejected) / elapsed, rejected, v1, v2, sysconf(_SC_NPROCESSORS_ONLN), elapsed, (int)rp, ru + rs, ru,
           rs, 100.0 * (ru + rs) / elapsed, delivered ? (ru + rs) * 1e6 / (double)delivered : 0.0, 100.0 * ccpu / elapsed);
    /* exactly the corrupted messages refused, every other one delivered */
    return acked == sent && rejected == bad_sent && delivered == want_deliv ? 0 : 1;
}
