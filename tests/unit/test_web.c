/* Unit tests: the HTTP side of src/server/net.c that the web router relies
 * on: file bodies (http_resp.file_fd streamed in chunks), keep-alive and
 * pipelining after them, HEAD, a file shorter than announced, a peer that
 * goes away mid-body (the descriptor must be closed), and the HTTP time
 * limits (idle, request head, request body, stalled response), which must
 * not be reset by trickled input.
 *
 * As in test_net.c, net runs on a private loop on this thread and a client
 * thread speaks raw HTTP over blocking sockets; the client records its first
 * failed check in struct res (cmocka is only called on the main thread). */
#include "test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "server/net.h"

#define FILE_SIZE ((3u << 20) + 12345) /* several chunks and a partial one */

struct res {
    char fail[256];
};
struct srv;
typedef void client_fn(struct srv *s, struct res *r);

struct srv {
    uv_loop_t loop;
    struct net *net;
    struct net_config cfg;
    uv_async_t wake;
    pthread_t thread;
    client_fn *client;
    struct res *res;
    int port;
    atomic_int client_done;
    bool shutdown_started, done_called, joined;
    char path[256];       /* the test file */
    int https;
};

static unsigned char pattern(uint64_t i)
{
    return (unsigned char)((i * 7 + (i >> 12)) % 251);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* ---------------------------------------------------------------------- */
/* Server side                                                             */

static const char *query_arg(const char *url, const char *name, char *out, size_t cap)
{
    const char *q = strchr(url, '?');
    size_t n = strlen(name);
    for (const char *p = q; p; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '=') {
            snprintf(out, cap, "%.*s", (int)strcspn(p + 2 + n, "&"), p + 2 + n);
            return out;
        }
    }
    return NULL;
}

/* Locks the send buffer of every connected TCP socket of the process to a
 * few KiB (the server's among them; the client's do not matter): the kernel
 * then no longer absorbs megabytes of a body, and net's own queue is what a
 * slow reader drains. A test-only trick: net has no option for it. */
static void small_sndbufs(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        int type = 0, sz = 8192;
        socklen_t tl = sizeof type;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM &&
            getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
}

static void t_on_http(void *ud, const struct http_req *req, struct http_resp *resp)
{
    struct srv *s = ud;
    char v[32];
    s->https++;
    if (strstr(req->url, "smallbuf=1"))
        small_sndbufs();
    if (!strcmp(req->path, "/file") || !strcmp(req->path, "/short")) {
        int fd = open(s->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return;
        resp->status = 200;
        resp->content_type = "application/octet-stream";
        resp->file_fd = fd;
        resp->file_off = query_arg(req->url, "off", v, sizeof v) ? strtoull(v, NULL, 10) : 0;
        resp->file_len = query_arg(req->url, "len", v, sizeof v) ? strtoull(v, NULL, 10) : FILE_SIZE;
        if (!strcmp(req->path, "/short"))
            resp->file_len = FILE_SIZE + 1000; /* more than there is */
        buf_appends(&resp->headers, "X-File: 1\r\n");
    } else if (!strcmp(req->path, "/small")) {
        resp->status = 200;
        buf_appends(&resp->body, "small\n");
    } else if (!strcmp(req->path, "/notmod")) {
        resp->status = 304;
        resp->file_fd = open(s->path, O_RDONLY | O_CLOEXEC);
        resp->file_len = FILE_SIZE;
    } else if (!strcmp(req->path, "/echo")) {
        resp->status = 200;
        buf_append(&resp->body, req->body, req->body_len);
    }
}

static void join_and_close(struct srv *s)
{
    if (s->joined || !s->done_called || !atomic_load(&s->client_done))
        return;
    pthread_join(s->thread, NULL);
    s->joined = true;
    uv_close((uv_handle_t *)&s->wake, NULL);
}

static void on_done(void *arg)
{
    struct srv *s = arg;
    s->done_called = true;
    join_and_close(s);
}

static void on_wake(uv_async_t *a)
{
    struct srv *s = a->data;
    if (!s->shutdown_started && atomic_load(&s->client_done)) {
        s->shutdown_started = true;
        net_shutdown(s->net, on_done, s);
    }
    join_and_close(s);
}

static void *client_main(void *arg)
{
    struct srv *s = arg;
    s->client(s, s->res);
    atomic_store(&s->client_done, 1);
    uv_async_send(&s->wake);
    return NULL;
}

static void srv_init(struct srv *s)
{
    memset(s, 0, sizeof *s);
    s->cfg = (struct net_config){
        .host = "127.0.0.1",
        .max_message = 1 << 20,
        .max_output = 1 << 20, /* file bodies do not count against it */
        .max_http_header = 8192,
        .max_http_body = 65536,
        .max_conns = 100,
    };
}

static void srv_run(struct srv *s, client_fn *client, struct res *r)
{
    struct net_callbacks cb = {.ud = s, .on_http = t_on_http};
    memset(r, 0, sizeof *r);
    s->client = client;
    s->res = r;
    snprintf(s->path, sizeof s->path, "/tmp/bp-test-web-%d", (int)getpid());
    FILE *f = fopen(s->path, "wb");
    assert_non_null(f);
    for (uint64_t i = 0; i < FILE_SIZE; i++)
        fputc(pattern(i), f);
    fclose(f);
    int fds_before = count_fds();
    assert_int_equal(uv_loop_init(&s->loop), 0);
    assert_int_equal(net_new(&s->net, &s->loop, &s->cfg, &cb), 0);
    assert_int_equal(net_listen(s->net), 0);
    s->port = net_port(s->net);
    uv_async_init(&s->loop, &s->wake, on_wake);
    s->wake.data = s;
    assert_int_equal(pthread_create(&s->thread, NULL, client_main, s), 0);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    assert_true(s->joined);
    assert_int_equal(net_conn_count(s->net), 0);
    net_free(s->net);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    unlink(s->path);
    if (r->fail[0])
        fail_msg("client: %s", r->fail);
    /* every file descriptor handed to net was closed */
    assert_int_equal(count_fds(), fds_before);
}

/* ---------------------------------------------------------------------- */
/* Client side                                                             */

#define CK(cond)                                                                    \
    do {                                                                            \
        if (!(cond)) {                                                              \
            if (!r->fail[0])                                                        \
                snprintf(r->fail, sizeof r->fail, "%s:%d: %s", __func__, __LINE__, \
                         #cond);                                                    \
            goto out;                                                               \
        }                                                                           \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int cli_connect(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool cli_sends(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads a response head into head (NUL-terminated); returns the status or -1. */
static int cli_head(int fd, char *head, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t got = recv(fd, head + n, 1, 0);
        if (got <= 0)
            return -1;
        n++;
        head[n] = '\0';
        if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4))
            return atoi(head + 9);
    }
    return -1;
}

static long long head_len(const char *head)
{
    const char *p = strcasestr(head, "\r\nContent-Length: ");
    return p ? atoll(p + 18) : -1;
}

/* Reads len body bytes and checks them against pattern() from off; slow:
 * read in 16 KiB pieces with a pause after each. Returns bytes that matched
 * before the first difference or the end of the stream. */
static uint64_t cli_body(int fd, uint64_t off, uint64_t len, int pause_ms)
{
    static unsigned char b[16384];
    uint64_t got = 0;
    while (got < len) {
        size_t want = len - got < sizeof b ? (size_t)(len - got) : sizeof b;
        ssize_t n = recv(fd, b, want, 0);
        if (n <= 0)
            return got;
        for (ssize_t i = 0; i < n; i++)
            if (b[i] != pattern(off + got + (uint64_t)i))
                return got + (uint64_t)i;
        got += (uint64_t)n;
        if (pause_ms)
            sleep_ms(pause_ms);
    }
    return got;
}

/* True if the peer closes (EOF or reset) within ms, reading and dropping data. */
static bool cli_closed_within(int fd, int ms)
{
    double end = now_s() + ms / 1000.0;
    char b[4096];
    while (now_s() < end) {
        struct timeval tv = {0, 50000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

static void cl_stream(struct srv *s, struct res *r)
{
    char head[2048];
    int fd = cli_connect(s->port, 0);
    CK(fd >= 0);
    /* The whole file, then more requests on the same connection. */
    CK(cli_sends(fd, "GET /file HTTP/1.1\r\nHost: x\r\n\r\n"));
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(head_len(head) == FILE_SIZE);
    CK(strstr(head, "X-File: 1\r\n"));
    CK(strstr(head, "Connection: keep-alive\r\n"));
    CK(cli_body(fd, 0, FILE_SIZE, 0) == FILE_SIZE);
    CK(cli_sends(fd, "GET /small HTTP/1.1\r\n\r\n"));
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(head_len(head) == 6);
    CK(cli_body(fd, 0, 0, 0) == 0);
    char b[6];
    CK(recv(fd, b, 6, MSG_WAITALL) == 6 && !memcmp(b, "small\n", 6));
    /* A range in the middle of a chunk boundary. */
    CK(cli_sends(fd, "GET /file?off=262140&len=300000 HTTP/1.1\r\n\r\n"));
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(head_len(head) == 300000);
    CK(cli_body(fd, 262140, 300000, 0) == 300000);
    /* HEAD: the length, no body. 304 and an empty range: no body either. */
    CK(cli_sends(fd, "HEAD /file HTTP/1.1\r\n\r\nGET /notmod HTTP/1.1\r\n\r\nGET /file?len=0 HTTP/1.1\r\n\r\n"
                     "GET /small HTTP/1.1\r\n\r\n"));
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(head_len(head) == FILE_SIZE);
    CK(cli_head(fd, head, sizeof head) == 304);
    CK(head_len(head) == -1); /* no Content-Length on a 304 */
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(head_len(head) == 0);
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(recv(fd, b, 6, MSG_WAITALL) == 6 && !memcmp(b, "small\n", 6));
    /* Pipelined behind a body: the answers follow it, in order. */
    CK(cli_sends(fd, "GET /file HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\nGET /file?off=10&len=20 HTTP/1.1\r\n\r\n"
                     "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"));
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(cli_body(fd, 0, FILE_SIZE, 0) == FILE_SIZE);
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(recv(fd, b, 6, MSG_WAITALL) == 6 && !memcmp(b, "small\n", 6));
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(cli_body(fd, 10, 20, 0) == 20);
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(recv(fd, b, 3, MSG_WAITALL) == 3 && !memcmp(b, "abc", 3));
    /* Connection: close after a body: all of it, then EOF. */
    CK(cli_sends(fd, "GET /file?off=1&len=1000000 HTTP/1.1\r\nConnection: close\r\n\r\nGET /small HTTP/1.1\r\n\r\n"));
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(strstr(head, "Connection: close\r\n"));
    CK(cli_body(fd, 1, 1000000, 0) == 1000000);
    CK(recv(fd, b, 1, 0) == 0);
    close(fd);

    /* The peer half-closes after its request: the body still comes whole. */
    fd = cli_connect(s->port, 0);
    CK(fd >= 0);
    CK(cli_sends(fd, "GET /file HTTP/1.1\r\n\r\n"));
    shutdown(fd, SHUT_WR);
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(cli_body(fd, 0, FILE_SIZE, 0) == FILE_SIZE);
    CK(recv(fd, b, 1, 0) == 0);
    close(fd);

    /* A slow reader (about 1 MB/s) behind small socket buffers: one write
     * of a chunk takes it longer than http_stall_ms (150), but it keeps
     * taking bytes, so it is not dropped. */
    fd = cli_connect(s->port, 8192);
    CK(fd >= 0);
    CK(cli_sends(fd, "GET /file?len=1000000&smallbuf=1 HTTP/1.1\r\n\r\n"));
    CK(cli_head(fd, head, sizeof head) == 200);
    double t0 = now_s();
    CK(cli_body(fd, 0, 1000000, 15) == 1000000);
    CK(now_s() - t0 > 0.5);
    close(fd);
out:
    if (fd >= 0)
        close(fd);
}

static void test_stream(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    s.cfg.http_stall_ms = 150;
    srv_run(&s, cl_stream, &r);
    assert_int_equal(s.https, 14);
}

static void cl_broken(struct srv *s, struct res *r)
{
    char head[2048];
    /* The file is shorter than announced: what exists, then the close. */
    int fd = cli_connect(s->port, 0);
    CK(fd >= 0);
    CK(cli_sends(fd, "GET /short HTTP/1.1\r\n\r\n"));
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(head_len(head) == FILE_SIZE + 1000);
    CK(cli_body(fd, 0, FILE_SIZE + 1000, 0) == FILE_SIZE);
    close(fd);

    /* Peers that go away in the middle of bodies (the server must close
     * every file: srv_run() counts descriptors). */
    for (int i = 0; i < 20; i++) {
        fd = cli_connect(s->port, 4096);
        CK(fd >= 0);
        CK(cli_sends(fd, "GET /file HTTP/1.1\r\n\r\n"));
        if (i % 2) {
            CK(cli_head(fd, head, sizeof head) == 200);
            CK(cli_body(fd, 0, 70000, 0) == 70000);
        }
        close(fd);
    }
    /* Let the server see the resets before shutting down. */
    sleep_ms(200);
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
}

static void test_broken(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    srv_run(&s, cl_broken, &r);
}

static void cl_limits(struct srv *s, struct res *r)
{
    char head[2048];
    int fd2 = -1;
    /* Idle: nothing sent, closed after http_idle_ms (300). */
    double t0 = now_s();
    int fd = cli_connect(s->port, 0);
    CK(fd >= 0);
    CK(cli_closed_within(fd, 2000));
    CK(now_s() - t0 > 0.25 && now_s() - t0 < 1.5);
    close(fd);

    /* A head trickled one byte per 40 ms: closed http_head_ms (400) after
     * its first byte although bytes keep coming; another client is served
     * meanwhile. */
    fd = cli_connect(s->port, 0);
    CK(fd >= 0);
    const char *req = "GET /small HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    t0 = now_s();
    bool closed = false;
    for (const char *p = req; *p && !closed; p++) {
        char one[2] = {*p, 0};
        if (!cli_sends(fd, one))
            closed = true;
        if (p == req + 3) {
            fd2 = cli_connect(s->port, 0);
            CK(fd2 >= 0);
            CK(cli_sends(fd2, "GET /small HTTP/1.1\r\n\r\n"));
            CK(cli_head(fd2, head, sizeof head) == 200);
            close(fd2);
            fd2 = -1;
        }
        struct timeval tv = {0, 40000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char b[64];
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            closed = true;
    }
    CK(closed);
    CK(now_s() - t0 > 0.35 && now_s() - t0 < 1.2);
    close(fd);

    /* A body trickled: the whole request within http_request_ms (800). */
    fd = cli_connect(s->port, 0);
    CK(fd >= 0);
    t0 = now_s();
    CK(cli_sends(fd, "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n"));
    closed = false;
    for (int i = 0; i < 100 && !closed; i++) {
        if (!cli_sends(fd, "x"))
            closed = true;
        struct timeval tv = {0, 40000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char b[64];
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            closed = true;
    }
    CK(closed);
    CK(now_s() - t0 > 0.75 && now_s() - t0 < 2.0);
    close(fd);

    /* A response nobody reads: dropped after http_stall_ms (300). The file
     * is bigger than the socket buffers take (the client's window is small). */
    fd = cli_connect(s->port, 4096);
    CK(fd >= 0);
    CK(cli_sends(fd, "GET /file HTTP/1.1\r\n\r\n"));
    sleep_ms(1200);
    CK(cli_head(fd, head, sizeof head) == 200);
    CK(cli_body(fd, 0, FILE_SIZE, 0) < FILE_SIZE);
    close(fd);

    /* A request within the limits still works after a pause shorter than idle. */
    fd = cli_connect(s->port, 0);
    CK(fd >= 0);
    sleep_ms(150);
    char b[6];
    for (int i = 0; i < 3; i++) {
        CK(cli_sends(fd, "GET /small HTTP/1.1\r\n\r\n"));
        CK(cli_head(fd, head, sizeof head) == 200);
        CK(recv(fd, b, 6, MSG_WAITALL) == 6);
        sleep_ms(200); /* the idle clock restarts after each response: 600 ms in all */
    }
out:
    if (fd >= 0)
        close(fd);
    if (fd2 >= 0)
        close(fd2);
}

static void test_limits(void **state)
{
    struct srv s;
    struct res r;
    srv_init(&s);
    s.cfg.http_idle_ms = 300;
    s.cfg.http_head_ms = 400;
    s.cfg.http_request_ms = 800;
    s.cfg.http_stall_ms = 300;
    srv_run(&s, cl_limits, &r);
}

int main(void)
{
    /* libuv opens process-wide descriptors once (the signal lock pipe) on
     * the first loop: do that before any test counts descriptors. */
    uv_loop_t warm;
    uv_loop_init(&warm);
    uv_loop_close(&warm);
    signal(SIGPIPE, SIG_IGN); /* as main.c: a write to a reset socket is an error, not a signal */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_broken),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests_name("web", tests, NULL, NULL);
}
