/* loadgen.c: entry point of bench/loadgen, a Netflux load generator.
 *
 * Parses the command line (a table of options, each filling one field of
 * struct lg_opts), runs one scenario on one libuv loop and prints a single
 * JSON object on stdout; progress and errors go to stderr. Also home of the
 * small shared helpers: PRNG, payload frames, pacer, measurement, JSON
 * output. See bench/README.md for what every number means. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonw.h"
#include "common/xmalloc.h"
#include "lg.h"
#include "lg_conn.h"
#include "lg_hist.h"

static const struct scenario *const scenarios[] = {&sc_s1, &sc_s2, &sc_s3, &sc_s4, &sc_s5};

/* ---- rng: xoshiro256** seeded through splitmix64 ---- */

void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed += 0x9e3779b97f4a7c15ull;
        uint64_t z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        r->s[i] = z ^ (z >> 31);
    }
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
    return n ? rng_next(r) % n : 0;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void rng_b64(struct rng *r, char *out, size_t n)
{
    while (n) {
        uint64_t v = rng_next(r);
        for (int k = 0; k < 10 && n; k++, n--, v >>= 6)
            *out++ = b64chars[v & 63];
    }
}

void rand_hex32(char out[33])
{
    uint8_t b[16];
    randombytes_buf(b, sizeof(b));
    sodium_bin2hex(out, 33, b, sizeof(b));
}

size_t lg_msg_frame(struct lg *lg, struct buf *b, uint64_t seq, const char *chan, size_t size)
{
    if (size < 64)
        size = 64;
    buf_appendf(b, "[%llu,\"MSG\",\"%s\",\"", (unsigned long long)seq, chan);
    size_t at = b->len;
    buf_reserve(b, size + 2);
    rng_b64(&lg->rng, b->data + b->len, 64);
    b->len += 64;
    size_t body = size - 64;
    size_t off = (size_t)rng_below(&lg->rng, lg->pool_len - body + 1);
    memcpy(b->data + b->len, lg->pool + off, body);
    b->len += body;
    buf_append(b, "\"]", 2);
    return at;
}

/* ---- measurement and logging ---- */

double lg_elapsed(const struct lg *lg)
{
    return (double)(uv_hrtime() - lg->t_start) / 1e9;
}

void lg_log(const struct lg *lg, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "[loadgen %s %7.2fs] %s\n", lg->sc ? lg->sc->name : "-", lg_elapsed(lg), line);
}

void lg_measure_begin(struct lg *lg)
{
    lg->m_t0 = uv_hrtime();
    lg->m_self0 = self_cpu_us();
    lg->m_srv0 = lg->o.npids ? proc_cpu_us(lg->o.pids, lg->o.npids) : -1;
    lg->m_rss0 = lg->o.npids ? proc_rss_kb(lg->o.pids, lg->o.npids) : -1;
    lg->measuring = true;
}

void lg_measure_end(struct lg *lg)
{
    if (!lg->measuring)
        return;
    lg->m_t1 = uv_hrtime();
    lg->m_self1 = self_cpu_us();
    lg->m_srv1 = lg->o.npids ? proc_cpu_us(lg->o.pids, lg->o.npids) : -1;
    lg->m_rss1 = lg->o.npids ? proc_rss_kb(lg->o.pids, lg->o.npids) : -1;
    lg->measuring = false;
    lg->measured = true;
}

void lg_done(struct lg *lg)
{
    if (lg->done)
        return;
    lg->done = true;
    uv_close((uv_handle_t *)&lg->watchdog, NULL);
    uv_close((uv_handle_t *)&lg->progress_timer, NULL);
    uv_close((uv_handle_t *)&lg->sigint, NULL);
    uv_close((uv_handle_t *)&lg->sigterm, NULL);
}

/* ---- pacer ---- */

static void pacer_tick(uv_timer_t *t)
{
    pacer_kick(t->data);
}

void pacer_init(struct pacer *p, struct lg *lg, uint32_t total, uint32_t max_inflight, double rate,
                void (*start)(struct pacer *p, uint32_t i))
{
    memset(p, 0, sizeof(*p));
    p->lg = lg;
    p->total = total;
    p->max_inflight = max_inflight;
    p->rate = rate;
    p->start = start;
    p->t0 = uv_hrtime();
    uv_timer_init(lg->loop, &p->timer);
    p->timer.data = p;
}

void pacer_kick(struct pacer *p)
{
    if (p->stopped || p->lg->done)
        return;
    uint64_t allowed = p->total;
    if (p->rate > 0) {
        double el = (double)(uv_hrtime() - p->t0) / 1e9;
        uint64_t a = (uint64_t)(el * p->rate) + 1;
        if (a < allowed)
            allowed = a;
    }
    while (p->started < allowed && (!p->max_inflight || p->inflight < p->max_inflight)) {
        p->inflight++;
        p->start(p, p->started++);
        if (p->stopped)
            return;
    }
    bool want = p->rate > 0 && p->started < p->total;
    if (want && !p->timer_on)
        uv_timer_start(&p->timer, pacer_tick, 1, 1);
    else if (!want && p->timer_on)
        uv_timer_stop(&p->timer);
    p->timer_on = want;
}

void pacer_done(struct pacer *p)
{
    if (p->inflight)
        p->inflight--;
    pacer_kick(p);
}

void pacer_stop(struct pacer *p)
{
    if (p->stopped || !p->lg)
        return;
    p->stopped = true;
    uv_close((uv_handle_t *)&p->timer, NULL);
}

/* ---- JSON output ---- */

static void jo_key(struct jout *j, const char *key)
{
    if (j->need_comma[j->depth])
        buf_appendc(&j->b, ',');
    j->need_comma[j->depth] = true;
    if (key) {
        jsonw_cstr(&j->b, key);
        buf_appendc(&j->b, ':');
    }
}

void jo_begin(struct jout *j, const char *key)
{
    jo_key(j, key);
    buf_appendc(&j->b, '{');
    j->need_comma[++j->depth] = false;
}

void jo_end(struct jout *j)
{
    buf_appendc(&j->b, '}');
    j->depth--;
}

void jo_abegin(struct jout *j, const char *key)
{
    jo_key(j, key);
    buf_appendc(&j->b, '[');
    j->need_comma[++j->depth] = false;
}

void jo_aend(struct jout *j)
{
    buf_appendc(&j->b, ']');
    j->depth--;
}

void jo_u64(struct jout *j, const char *key, uint64_t v)
{
    jo_key(j, key);
    buf_appendf(&j->b, "%llu", (unsigned long long)v);
}

void jo_i64(struct jout *j, const char *key, int64_t v)
{
    jo_key(j, key);
    buf_appendf(&j->b, "%lld", (long long)v);
}

void jo_num(struct jout *j, const char *key, double v)
{
    jo_key(j, key);
    if (!isfinite(v)) {
        buf_appends(&j->b, "null");
        return;
    }
    jsonw_real(&j->b, round(v * 1000.0) / 1000.0);
}

void jo_str(struct jout *j, const char *key, const char *s)
{
    jo_key(j, key);
    if (s)
        jsonw_cstr(&j->b, s);
    else
        buf_appends(&j->b, "null");
}

void jo_bool(struct jout *j, const char *key, bool v)
{
    jo_key(j, key);
    buf_appends(&j->b, v ? "true" : "false");
}

void jo_null(struct jout *j, const char *key)
{
    jo_key(j, key);
    buf_appends(&j->b, "null");
}

void jo_raw_array(struct jout *j, const char *key, const char *raw, size_t n)
{
    jo_key(j, key);
    buf_appendc(&j->b, '[');
    if (n)
        buf_append(&j->b, raw, n);
    buf_appendc(&j->b, ']');
}

void jo_hist(struct jout *j, const char *key, const struct hist *h)
{
    jo_begin(j, key);
    jo_u64(j, "count", h->count);
    if (h->count) {
        jo_num(j, "min_us", (double)h->min / 1e3);
        jo_num(j, "p50_us", (double)hist_quantile(h, 0.50) / 1e3);
        jo_num(j, "p90_us", (double)hist_quantile(h, 0.90) / 1e3);
        jo_num(j, "p99_us", (double)hist_quantile(h, 0.99) / 1e3);
        jo_num(j, "p999_us", (double)hist_quantile(h, 0.999) / 1e3);
        jo_num(j, "max_us", (double)h->max / 1e3);
        jo_num(j, "mean_us", h->sum / (double)h->count / 1e3);
    }
    jo_end(j);
}

/* ---- command line ---- */

enum { OPT_NUM, OPT_STR, OPT_PIDS, OPT_SEED, OPT_FLAG };

struct optdef {
    const char *name;
    int kind;
    size_t off;          /* offsetof(struct lg_opts, field) */
    const char *arg;
    const char *help;
};

#define O(f) offsetof(struct lg_opts, f)
static const struct optdef optdefs[] = {
    {"url", OPT_STR, O(url), "URL", "server WebSocket URL, loopback only (default ws://127.0.0.1:3000/)"},
    {"scenario", OPT_STR, O(scenario), "S", "s1 fan-out | s2 join storm | s3 idle conns | s4 signed writes | s5 slow consumer"},
    {"users", OPT_NUM, O(users), "N", "users (senders) per channel (s1, s4, s5)"},
    {"clients", OPT_NUM, O(users), "N", "same as --users"},
    {"channels", OPT_NUM, O(channels), "N", "channels"},
    {"msg-size", OPT_NUM, O(msg_size), "BYTES", "content bytes per message (s4: signed payload bytes)"},
    {"rate", OPT_NUM, O(rate), "R", "total messages/s; 0 = closed loop, --window un-ACKed per user"},
    {"window", OPT_NUM, O(window), "W", "max un-ACKed messages per user (default 4 closed loop, 64 at a fixed rate)"},
    {"duration", OPT_NUM, O(duration), "SEC", "length of the measured phase (s2: its time limit; s3: hold time)"},
    {"messages", OPT_NUM, O(messages), "N", "total messages to send at most (0 = no cap; s4: pre-signed count)"},
    {"history", OPT_NUM, O(history), "H", "s2: messages stored in each channel before the storm"},
    {"joiners", OPT_NUM, O(joiners), "J", "s2: clients that join and load the history"},
    {"inflight", OPT_NUM, O(inflight), "K", "s2: joiners in flight at once (0 = all); s3: handshakes in flight; setup: connects in flight"},
    {"conns", OPT_NUM, O(conns), "N", "s3: idle connections to open"},
    {"conn-rate", OPT_NUM, O(conn_rate), "R", "connections opened per second at most (0 = no limit)"},
    {"probes", OPT_NUM, O(probes), "N", "s3: new-client probes while the idle connections are held"},
    {"warmup", OPT_NUM, O(warmup), "SEC", "s5: seconds before the slow client stops reading"},
    {"setup-timeout", OPT_NUM, O(setup_timeout), "SEC", "limit for connecting/joining/populating (default 60)"},
    {"drain-timeout", OPT_NUM, O(drain_timeout), "SEC", "wait for in-flight messages after sending stops (default 5)"},
    {"bad-every", OPT_NUM, O(bad_every), "N", "s4: every Nth message carries a corrupted signature (0 = none)"},
    {"server-pid", OPT_PIDS, O(pids), "PID[,PID..]", "server process(es): CPU and RSS from /proc are summed"},
    {"seed", OPT_SEED, O(seed), "N", "PRNG seed for payloads and scheduling (channel ids are always fresh)"},
    {"quiet", OPT_FLAG, O(quiet), NULL, "no progress lines on stderr"},
    {"check-utf8", OPT_FLAG, O(check_utf8), NULL, "validate the server's text frames as UTF-8 (off: it costs most of the generator's CPU)"},
};
#undef O

static void usage(FILE *fp)
{
    fprintf(fp, "usage: loadgen --scenario s1|s2|s3|s4|s5 [options]\n\n"
                "Netflux load generator: drives a Netflux server (blindpad or CryptPad's) on loopback,\n"
                "stops by itself and prints one JSON object on stdout. Progress goes to stderr.\n\n");
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        fprintf(fp, "  %-4s %s\n", scenarios[i]->name, scenarios[i]->title);
    fprintf(fp, "\noptions:\n");
    for (size_t i = 0; i < sizeof(optdefs) / sizeof(optdefs[0]); i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", optdefs[i].name, optdefs[i].arg ? " " : "",
                 optdefs[i].arg ? optdefs[i].arg : "");
        fprintf(fp, "  %-26s %s\n", left, optdefs[i].help);
    }
    fprintf(fp, "  %-26s %s\n", "--help", "this text");
}

static int parse_num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_pids(struct lg_opts *o, const char *s)
{
    o->npids = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || o->npids >= LG_MAX_PIDS)
            return -1;
        o->pids[o->npids++] = (pid_t)v;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return o->npids ? 0 : -1;
}

/* ws://HOST[:PORT][/PATH] with HOST = 127.x.y.z, localhost or [::1]. */
static int parse_url(struct lg_opts *o)
{
    const char *u = o->url;
    if (strncmp(u, "ws://", 5) != 0) {
        fprintf(stderr, "loadgen: --url must start with ws:// (got %s)\n", u);
        return -1;
    }
    u += 5;
    char host[64];
    const char *rest;
    if (*u == '[') {
        const char *e = strchr(u, ']');
        if (!e || (size_t)(e - u - 1) >= sizeof(host))
            return -1;
        memcpy(host, u + 1, (size_t)(e - u - 1));
        host[e - u - 1] = '\0';
        rest = e + 1;
    } else {
        size_t n = strcspn(u, ":/");
        if (n >= sizeof(host))
            return -1;
        memcpy(host, u, n);
        host[n] = '\0';
        rest = u + n;
    }
    unsigned port = 80;
    if (*rest == ':') {
        char *e;
        long p = strtol(rest + 1, &e, 10);
        if (p <= 0 || p > 65535)
            return -1;
        port = (unsigned)p;
        rest = e;
    }
    if (*rest && *rest != '/')
        return -1;
    snprintf(o->path, sizeof(o->path), "%s", *rest ? rest : "/");
    o->port = port;
    const char *ip = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&o->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&o->addr;
    if (uv_ip4_addr(ip, (int)port, a4) == 0) {
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127) {
            fprintf(stderr, "loadgen: %s is not a loopback address; refusing\n", host);
            return -1;
        }
        snprintf(o->hostport, sizeof(o->hostport), "%s:%u", host, port);
    } else if (uv_ip6_addr(ip, (int)port, a6) == 0) {
        if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr)) {
            fprintf(stderr, "loadgen: %s is not a loopback address; refusing\n", host);
            return -1;
        }
        snprintf(o->hostport, sizeof(o->hostport), "[%s]:%u", host, port);
    } else {
        fprintf(stderr, "loadgen: host must be 127.x.y.z, localhost or [::1] (no DNS): %s\n", host);
        return -1;
    }
    return 0;
}

static int parse_args(struct lg_opts *o, int argc, char **argv)
{
    size_t n = sizeof(optdefs) / sizeof(optdefs[0]);
    struct option lo[sizeof(optdefs) / sizeof(optdefs[0]) + 2];
    for (size_t i = 0; i < n; i++)
        lo[i] = (struct option){optdefs[i].name, optdefs[i].kind == OPT_FLAG ? no_argument : required_argument,
                                NULL, (int)(i + 1000)};
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n + 1] = (struct option){NULL, 0, NULL, 0};

    double *nums[] = {&o->users, &o->channels, &o->msg_size, &o->rate, &o->window, &o->duration,
                      &o->messages, &o->history, &o->joiners, &o->inflight, &o->conns, &o->conn_rate,
                      &o->probes, &o->warmup, &o->setup_timeout, &o->drain_timeout, &o->bad_every};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        *nums[i] = LG_UNSET;
    o->url = "ws://127.0.0.1:3000/";
    o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            exit(0);
        }
        if (c < 1000 || (size_t)(c - 1000) >= n) {
            usage(stderr);
            return -1;
        }
        const struct optdef *d = &optdefs[c - 1000];
        char *field = (char *)o + d->off;
        switch (d->kind) {
        case OPT_NUM:
            if (parse_num(optarg, (double *)field) != 0) {
                fprintf(stderr, "loadgen: --%s wants a non-negative number, got '%s'\n", d->name, optarg);
                return -1;
            }
            break;
        case OPT_STR:
            *(const char **)field = optarg;
            break;
        case OPT_PIDS:
            if (parse_pids(o, optarg) != 0) {
                fprintf(stderr, "loadgen: --server-pid wants PID[,PID...], got '%s'\n", optarg);
                return -1;
            }
            break;
        case OPT_SEED:
            o->seed = strtoull(optarg, NULL, 0);
            break;
        case OPT_FLAG:
            *(bool *)field = true;
            break;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loadgen: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->scenario) {
        fprintf(stderr, "loadgen: --scenario is required\n");
        usage(stderr);
        return -1;
    }
    return parse_url(o);
}

/* ---- main ---- */

static void on_watchdog(uv_timer_t *t)
{
    struct lg *lg = t->data;
    lg->abort_reason = "watchdog: the run exceeded its time limit";
    lg_log(lg, "%s", lg->abort_reason);
    lg->sc->stop(lg);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct lg *lg = s->data;
    lg->abort_reason = signum == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)";
    lg_log(lg, "%s", lg->abort_reason);
    lg->sc->stop(lg);
}

static void on_progress(uv_timer_t *t)
{
    struct lg *lg = t->data;
    if (lg->sc->progress)
        lg->sc->progress(lg);
}

static void close_leftover(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void report_common(struct lg *lg, struct jout *j)
{
    double secs = lg->measured ? (double)(lg->m_t1 - lg->m_t0) / 1e9 : NAN;
    jo_num(j, "measured_s", secs);
    jo_begin(j, "generator");
    if (lg->measured) {
        double cpu = (double)(lg->m_self1 - lg->m_self0) / 1e6;
        jo_num(j, "cpu_s", cpu);
        jo_num(j, "cpu_percent_core", 100.0 * cpu / secs);
    } else {
        jo_null(j, "cpu_s");
        jo_null(j, "cpu_percent_core");
    }
    jo_i64(j, "rss_kb", self_rss_kb());
    jo_i64(j, "nofile_limit", lg->nofile);
    jo_u64(j, "ws_msgs_in", lg->ws_msgs_in);
    jo_u64(j, "ws_bytes_in", lg->ws_bytes_in);
    jo_u64(j, "ws_msgs_out", lg->ws_msgs_out);
    jo_u64(j, "ws_bytes_out", lg->ws_bytes_out);
    jo_end(j);
    jo_begin(j, "connections");
    jo_u64(j, "opened", lg->opened);
    jo_u64(j, "failed", lg->failed);
    jo_u64(j, "closed_by_server", lg->closed_by_server);
    jo_u64(j, "bad_frames", lg->bad_frames);
    jo_u64(j, "server_pings", lg->server_pings);
    jo_u64(j, "pongs_sent", lg->pongs);
    jo_end(j);
    if (!lg->o.npids) {
        jo_null(j, "server");
        return;
    }
    jo_begin(j, "server");
    jo_abegin(j, "pids");
    for (unsigned i = 0; i < lg->o.npids; i++)
        jo_i64(j, NULL, lg->o.pids[i]);
    jo_aend(j);
    if (lg->measured && lg->m_srv0 >= 0 && lg->m_srv1 >= 0) {
        double cpu = (double)(lg->m_srv1 - lg->m_srv0) / 1e6;
        jo_num(j, "cpu_s", cpu);
        jo_num(j, "cpu_percent_core", 100.0 * cpu / secs);
        if (lg->delivered)
            jo_num(j, "cpu_us_per_delivered_msg", cpu * 1e6 / (double)lg->delivered);
        else
            jo_null(j, "cpu_us_per_delivered_msg");
    } else {
        jo_null(j, "cpu_s");
        jo_null(j, "cpu_percent_core");
        jo_null(j, "cpu_us_per_delivered_msg");
    }
    jo_i64(j, "rss_kb_begin", lg->m_rss0);
    jo_i64(j, "rss_kb_end", lg->m_rss1);
    jo_i64(j, "rss_kb_now", proc_rss_kb(lg->o.pids, lg->o.npids));
    jo_end(j);
}

int main(int argc, char **argv)
{
    static struct lg lgs;
    struct lg *lg = &lgs;
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) {
        fprintf(stderr, "loadgen: sodium_init failed\n");
        return 1;
    }
    if (parse_args(&lg->o, argc, argv) != 0)
        return 1;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        if (strcmp(lg->o.scenario, scenarios[i]->name) == 0)
            lg->sc = scenarios[i];
    if (!lg->sc) {
        fprintf(stderr, "loadgen: unknown scenario '%s' (s1..s5)\n", lg->o.scenario);
        return 1;
    }
    struct lg_opts *o = &lg->o;
    lg->sc->defaults(o);
    if (o->setup_timeout < 0)
        o->setup_timeout = 60;
    if (o->drain_timeout < 0)
        o->drain_timeout = 5;
    if (o->msg_size >= 0 && o->msg_size < 64) {
        fprintf(stderr, "loadgen: --msg-size must be at least 64 (the message hash is 64 chars)\n");
        return 1;
    }
    for (unsigned i = 0; i < o->npids; i++)
        if (kill(o->pids[i], 0) != 0)
            fprintf(stderr, "loadgen: warning: --server-pid %d: %s\n", (int)o->pids[i], strerror(errno));

    lg->t_start = uv_hrtime();
    lg->nofile = raise_nofile();
    rng_seed(&lg->rng, o->seed);
    size_t ms = o->msg_size > 0 ? (size_t)o->msg_size : 1024;
    lg->pool_len = ((size_t)1 << 20) + 2 * ms;
    lg->pool = xmalloc(lg->pool_len);
    rng_b64(&lg->rng, lg->pool, lg->pool_len);

    lg->loop = uv_default_loop();
    uv_timer_init(lg->loop, &lg->watchdog);
    lg->watchdog.data = lg;
    double limit = 2 * o->setup_timeout + (o->duration > 0 ? o->duration : 0) + o->drain_timeout + 30;
    uv_timer_start(&lg->watchdog, on_watchdog, (uint64_t)(limit * 1000), 0);
    uv_timer_init(lg->loop, &lg->progress_timer);
    lg->progress_timer.data = lg;
    if (!o->quiet)
        uv_timer_start(&lg->progress_timer, on_progress, 1000, 1000);
    uv_signal_init(lg->loop, &lg->sigint);
    lg->sigint.data = lg;
    uv_signal_start(&lg->sigint, on_signal, SIGINT);
    uv_signal_init(lg->loop, &lg->sigterm);
    lg->sigterm.data = lg;
    uv_signal_start(&lg->sigterm, on_signal, SIGTERM);

    lg_log(lg, "%s against %s (seed %llu, nofile %ld)", lg->sc->title, o->url, (unsigned long long)o->seed,
           lg->nofile);
    int rc = 0;
    if (lg->sc->start(lg) != 0) {
        rc = 1;
        lg->abort_reason = "setup failed";
        lg->sc->stop(lg);
    }
    uv_run(lg->loop, UV_RUN_DEFAULT);
    uv_walk(lg->loop, close_leftover, NULL);
    uv_run(lg->loop, UV_RUN_DEFAULT);

    struct jout j = {BUF_INIT, 0, {false}};
    jo_begin(&j, NULL);
    jo_str(&j, "scenario", lg->sc->name);
    jo_str(&j, "title", lg->sc->title);
    jo_str(&j, "url", o->url);
    jo_u64(&j, "seed", o->seed);
    jo_str(&j, "aborted", lg->abort_reason);
    lg->sc->report(lg, &j);
    report_common(lg, &j);
    jo_end(&j);
    fwrite(j.b.data, 1, j.b.len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    buf_free(&j.b);
    buf_free(&lg->scratch);
    free(lg->pool);
    free(lg->st);
    uv_loop_close(lg->loop);
    if (rc == 0 && lg->abort_reason)
        rc = 2;
    return rc;
}
