/* util.c: helpers shared by the blindpad subcommands (see cli.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <blindpad/err.h>

#include "cli/cli.h"

int cli_fail(struct cli *cli, int code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "blindpad: %s\n", msg);
    if (cli && cli->json) {
        json_t *j = json_pack("{s:b, s:i, s:s}", "ok", 0, "exit", code, "error", msg);
        if (j)
            cli_json_out(j);
    }
    return code;
}

void cli_note(struct cli *cli, const char *fmt, ...)
{
    if (cli->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("blindpad: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_exit_for(int err)
{
    switch (err) {
    case BP_OK: return CLI_OK;
    case BP_ENOENT:
    case BP_EDELETED:
    case BP_EEXPIRED: return CLI_NOTFOUND;
    case BP_ELINK:
    case BP_EAUTH: return CLI_AUTH;
    case BP_ENET:
    case BP_ETIMEOUT:
    case BP_ECLOSED: return CLI_NET;
    case BP_ESERVER:
    case BP_EFORBIDDEN:
    case BP_EPROTO: return CLI_SERVER;
    case BP_EDECRYPT:
    case BP_ESIG:
    case BP_ECORRUPT: return CLI_INTEGRITY;
    case BP_ECANCELED: return CLI_INTERRUPTED;
    case BP_EINVAL: return CLI_USAGE;
    default: return CLI_LOCAL; /* ENOMEM, EIO, ENOSPC, EROFS, EEXIST, ... */
    }
}

int cli_fail_net(struct cli *cli, const char *origin, const char *detail)
{
    /* A TLS failure (libblindpad's tls.c wording) is not a server that is
     * down: say what is wrong with the certificate or the handshake. */
    static const char *const tls_words[] = {"certificate for ", "TLS ", "cannot load the CA bundle"};
    for (size_t i = 0; detail && i < sizeof(tls_words) / sizeof(tls_words[0]); i++) {
        const char *w = strstr(detail, tls_words[i]);
        if (w)
            return cli_fail(cli, CLI_NET, "cannot connect securely to %s: %s", origin, w);
    }
    if (detail && *detail)
        return cli_fail(cli, CLI_NET, "cannot reach %s: is blindpad-server running? (make run) [%s]",
                        origin, detail);
    return cli_fail(cli, CLI_NET, "cannot reach %s: is blindpad-server running? (make run)", origin);
}

void cli_json_out(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(j);
}

int cli_usage_error(struct cli *cli, const char *usage, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* First line of the usage text: "usage: blindpad ..." */
    size_t n = strcspn(usage, "\n");
    return cli_fail(cli, CLI_USAGE, "%s\n%.*s", msg, (int)n, usage);
}

int cli_help(const char *usage)
{
    fputs(usage, stdout);
    return CLI_OK;
}

bool cli_link_origin(const char *link, char *out, size_t cap)
{
    const char *p = NULL;
    if (strncasecmp(link, "http://", 7) == 0)
        p = link + 7;
    else if (strncasecmp(link, "https://", 8) == 0)
        p = link + 8;
    if (!p)
        return false;
    size_t host = strcspn(p, "/#?");
    size_t n = (size_t)(p - link) + host;
    if (host == 0 || n + 1 > cap)
        return false;
    memcpy(out, link, n);
    out[n] = '\0';
    return true;
}

int cli_set_origin(struct cli *cli, const char *url, char *out, size_t cap)
{
    char tmp[CLI_ORIGIN_MAX];
    if (strncasecmp(url, "ws://", 5) == 0 || strncasecmp(url, "wss://", 6) == 0)
        return cli_fail(cli, CLI_USAGE,
                        "%s: give the server's http:// or https:// address, not the WebSocket's",
                        url);
    if (!cli_link_origin(url, tmp, sizeof tmp))
        return cli_fail(cli, CLI_USAGE, "%s: not a server URL (expected e.g. %s)", url,
                        CLI_DEFAULT_SERVER);
    if (strlen(tmp) + 1 > cap)
        return cli_fail(cli, CLI_USAGE, "server URL too long");
    /* Lower-case the scheme (the origin is also a key in the session file). */
    if (strncasecmp(tmp, "https://", 8) == 0)
        memcpy(tmp, "https://", 8);
    else
        memcpy(tmp, "http://", 7);
    memcpy(out, tmp, strlen(tmp) + 1);
    return CLI_OK;
}

int cli_password(struct cli *cli, const char *prompt, char **out)
{
    enum { PW_MAX = 1024 };
    *out = NULL;
    char *pw = sodium_malloc(PW_MAX);
    if (!pw)
        return cli_fail(cli, CLI_LOCAL, "out of memory");
    const char *env = getenv("BLINDPAD_PASSWORD");
    if (env) {
        if (strlen(env) >= PW_MAX) {
            sodium_free(pw);
            return cli_fail(cli, CLI_USAGE, "BLINDPAD_PASSWORD is too long");
        }
        strcpy(pw, env);
        *out = pw;
        return CLI_OK;
    }
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        sodium_free(pw);
        return cli_fail(cli, CLI_USAGE,
                        "a password is needed and there is no terminal to ask on: set "
                        "BLINDPAD_PASSWORD");
    }
    struct termios old, noecho;
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        noecho = old;
        noecho.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &noecho);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) { /* best effort */
    }
    size_t n = 0;
    char c;
    while (n + 1 < PW_MAX && read(fd, &c, 1) == 1 && c != '\n' && c != '\r')
        pw[n++] = c;
    pw[n] = '\0';
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
    }
    close(fd);
    *out = pw;
    return CLI_OK;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    if (interrupted) /* second ^C: leave now */
        _exit(CLI_INTERRUPTED);
    interrupted = 1;
}

void cli_signals_install(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool cli_interrupted(void)
{
    return interrupted != 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *cli_human(uint64_t n, char *buf, size_t cap)
{
    if (n < 1000)
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
    else if (n < 1000000)
        snprintf(buf, cap, "%.1f kB", (double)n / 1e3);
    else if (n < 1000000000)
        snprintf(buf, cap, "%.1f MB", (double)n / 1e6);
    else
        snprintf(buf, cap, "%.2f GB", (double)n / 1e9);
    return buf;
}

static void progress_draw(struct cli_progress *p, bool final)
{
    char a[32], b[32], r[32];
    double el = cli_now() - p->t0;
    double rate = el > 0 ? (double)(p->done - p->base) / el : 0;
    unsigned pct = p->total ? (unsigned)(p->done * 100 / p->total) : 100;
    enum { W = 24 };
    char bar[W + 1];
    unsigned fill = p->total ? (unsigned)(p->done * W / p->total) : W;
    for (unsigned i = 0; i < W; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[W] = '\0';
    fprintf(stderr, "\r\033[K%s [%s] %3u%% %s / %s  %s/s%s", p->label, bar, pct,
            cli_human(p->done, a, sizeof a), cli_human(p->total, b, sizeof b),
            cli_human((uint64_t)rate, r, sizeof r), final ? "\n" : "");
    fflush(stderr);
}

void cli_progress_start(struct cli *cli, struct cli_progress *p, const char *label, uint64_t total,
                        uint64_t base)
{
    memset(p, 0, sizeof *p);
    p->on = cli->progress && !cli->quiet;
    p->label = label;
    p->total = total;
    p->done = base;
    p->base = base;
    p->t0 = p->last = cli_now();
    if (p->on)
        progress_draw(p, false);
}

void cli_progress_add(struct cli_progress *p, uint64_t n)
{
    p->done += n;
    if (!p->on)
        return;
    double t = cli_now();
    if (t - p->last >= 0.1) {
        p->last = t;
        progress_draw(p, false);
    }
}

void cli_progress_end(struct cli_progress *p, bool ok)
{
    if (!p->on)
        return;
    if (ok)
        progress_draw(p, true);
    else
        fputs("\n", stderr);
    p->on = false;
}

const char *cli_guess_type(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        {"txt", "text/plain"}, {"md", "text/markdown"}, {"html", "text/html"},
        {"htm", "text/html"}, {"css", "text/css"}, {"csv", "text/csv"},
        {"js", "text/javascript"}, {"json", "application/json"}, {"xml", "application/xml"},
        {"pdf", "application/pdf"}, {"zip", "application/zip"}, {"gz", "application/gzip"},
        {"tar", "application/x-tar"}, {"png", "image/png"}, {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"webp", "image/webp"},
        {"svg", "image/svg+xml"}, {"mp3", "audio/mpeg"}, {"ogg", "audio/ogg"},
        {"wav", "audio/wav"}, {"mp4", "video/mp4"}, {"webm", "video/webm"},
        {"odt", "application/vnd.oasis.opendocument.text"},
        {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
        {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    };
    const char *dot = strrchr(name, '.');
    if (dot && dot[1] && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

void cli_write_safe(FILE *f, const char *s, size_t n)
{
    size_t from = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t bad = 0;
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            bad = 1;
        else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                 (unsigned char)s[i + 1] <= 0x9f)
            bad = 2; /* U+0080..U+009F: C1 controls (U+009B is a CSI) */
        if (!bad) {
            i++;
            continue;
        }
        fwrite(s + from, 1, i - from, f);
        fputc('?', f);
        i += bad;
        from = i;
    }
    fwrite(s + from, 1, n - from, f);
}

void cli_write_text(FILE *f, const char *s, size_t n)
{
    if (isatty(fileno(f)))
        cli_write_safe(f, s, n);
    else
        fwrite(s, 1, n, f);
}
