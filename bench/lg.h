/* lg.h: the load generator's shared state (bench/loadgen).
 *
 * One process, one libuv loop, one thread. main() (loadgen.c) parses the
 * command line into struct lg_opts, picks a scenario from the table and runs
 * the loop until the scenario calls lg_done(); it then prints one JSON object
 * on stdout. Scenarios (sc_*.c) own their connections (lg_conn.h) and call
 * lg_measure_begin()/lg_measure_end() around the phase whose numbers matter:
 * the generator's own CPU and, with --server-pid, the server's CPU and RSS
 * are sampled at those two points. A watchdog timer and SIGINT/SIGTERM stop
 * a scenario early through its stop() hook, so a run always ends and always
 * prints its JSON. */
#ifndef LG_H
#define LG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <uv.h>

#include "common/buf.h"
#include "lg_proc.h"

#define LG_UNSET (-1.0)

/* Command-line options. Numbers are doubles so that "not given" (LG_UNSET)
 * can be told apart and filled with the scenario's default. */
struct lg_opts {
    const char *url;              /* ws://127.0.0.1:PORT/PATH (loopback only) */
    const char *scenario;         /* s1 .. s5 */
    char hostport[96];            /* Host header value */
    char path[256];               /* request path */
    struct sockaddr_storage addr; /* parsed loopback address */
    unsigned port;
    double users, channels, msg_size, rate, window, duration, messages;
    double history, joiners, inflight, conns, conn_rate, probes, warmup;
    double setup_timeout, drain_timeout, bad_every;
    pid_t pids[LG_MAX_PIDS];      /* --server-pid list */
    unsigned npids;
    uint64_t seed;
    bool quiet;                   /* no progress lines on stderr */
    bool check_utf8;              /* let wslay validate the server's text frames (costs CPU) */
};

/* xoshiro256** PRNG: payloads and scheduling come from --seed. */
struct rng {
    uint64_t s[4];
};

struct conn;
struct lg;
struct jout;

struct scenario {
    const char *name;             /* "s1" */
    const char *title;            /* one line, for --help and the JSON */
    void (*defaults)(struct lg_opts *o);
    int (*start)(struct lg *lg);  /* 0, or -1 after printing why */
    /* Stops now (also mid-setup): ends the measurement if it is running,
     * closes every connection and timer, then calls lg_done(). Idempotent. */
    void (*stop)(struct lg *lg);
    void (*report)(struct lg *lg, struct jout *j);
    void (*progress)(struct lg *lg);   /* one stderr line per second, or NULL */
};

struct lg {
    uv_loop_t *loop;
    struct lg_opts o;
    const struct scenario *sc;
    void *st;                     /* scenario state (from xcalloc, freed by main) */
    struct rng rng;
    char *pool;                   /* random base64 text for payload bodies */
    size_t pool_len;
    struct buf scratch;           /* frame assembly; reused by every send */
    uint64_t t_start;             /* uv_hrtime() at startup */
    long nofile;                  /* RLIMIT_NOFILE after raising it */

    /* the measured phase (lg_measure_begin/end) */
    bool measuring, measured;
    uint64_t m_t0, m_t1;          /* uv_hrtime() */
    int64_t m_self0, m_self1;     /* own CPU us */
    int64_t m_srv0, m_srv1;       /* server CPU us (-1 without --server-pid) */
    long m_rss0, m_rss1;          /* server RSS KiB */
    uint64_t delivered;           /* scenario's delivered-message count, for cpu_us_per_delivered_msg */

    /* connection counters (lg_conn.c) */
    struct conn *conns;           /* live connections, doubly linked */
    uint32_t live;                /* connections not yet freed */
    uint64_t opened, failed, closed_by_server, bad_frames, server_pings, pongs;
    uint64_t ws_msgs_in, ws_bytes_in, ws_msgs_out, ws_bytes_out;

    const char *abort_reason;     /* set when stopped by the watchdog or a signal */
    bool done;                    /* lg_done() was called */
    uv_timer_t watchdog, progress_timer;
    uv_signal_t sigint, sigterm;
};

/* ---- rng (loadgen.c) ---- */
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, n). */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Fills out[0..n) with random characters of the standard base64 alphabet. */
void rng_b64(struct rng *r, char *out, size_t n);
/* Fills out[0..32) with random lowercase hex and NUL-terminates (33 bytes). */
void rand_hex32(char out[33]);

/* Appends a channel message frame [seq,"MSG",chan,"<64 fresh chars><body from the pool>"]
 * of `size` content bytes (size >= 64) to b, and returns where the content starts. */
size_t lg_msg_frame(struct lg *lg, struct buf *b, uint64_t seq, const char *chan, size_t size);

/* ---- measurement (loadgen.c) ---- */
void lg_measure_begin(struct lg *lg);
void lg_measure_end(struct lg *lg);
double lg_elapsed(const struct lg *lg);       /* seconds since startup */
void lg_log(const struct lg *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The scenario has stopped everything it owns: close the remaining lg handles
 * so uv_run() returns. */
void lg_done(struct lg *lg);
/* Closes every live connection (lg_conn.c). */
void lg_close_all_conns(struct lg *lg);

/* ---- pacer (loadgen.c): opens `total` things, at most max_inflight at a
 * time (0 = no limit) and at most rate per second (0 = no limit). start() is
 * called with 0, 1, 2, ...; the scenario calls pacer_done() when one leaves
 * the in-flight state (whatever that means for it). ---- */
struct pacer {
    struct lg *lg;
    uv_timer_t timer;
    uint32_t total, started, inflight, max_inflight;
    double rate;
    uint64_t t0;
    bool timer_on, stopped;
    void (*start)(struct pacer *p, uint32_t i);
};

void pacer_init(struct pacer *p, struct lg *lg, uint32_t total, uint32_t max_inflight, double rate,
                void (*start)(struct pacer *p, uint32_t i));
void pacer_kick(struct pacer *p);
void pacer_done(struct pacer *p);
void pacer_stop(struct pacer *p);   /* closes the timer; no more start() calls */

/* ---- JSON output (loadgen.c) ---- */
struct jout {
    struct buf b;
    unsigned depth;
    bool need_comma[16];
};

void jo_begin(struct jout *j, const char *key);      /* key NULL at top level / in arrays */
void jo_end(struct jout *j);
void jo_abegin(struct jout *j, const char *key);
void jo_aend(struct jout *j);
void jo_u64(struct jout *j, const char *key, uint64_t v);
void jo_i64(struct jout *j, const char *key, int64_t v);
void jo_num(struct jout *j, const char *key, double v); /* 3 decimals; NaN/inf as null */
void jo_str(struct jout *j, const char *key, const char *s);
void jo_bool(struct jout *j, const char *key, bool v);
void jo_null(struct jout *j, const char *key);
/* key: [raw] where raw[0..n) is already a comma-separated list of JSON values. */
void jo_raw_array(struct jout *j, const char *key, const char *raw, size_t n);

struct hist;
/* {"count","min_us","p50_us","p90_us","p99_us","max_us","mean_us"} */
void jo_hist(struct jout *j, const char *key, const struct hist *h);

/* ---- scenarios ---- */
extern const struct scenario sc_s1, sc_s2, sc_s3, sc_s4, sc_s5;

#endif
