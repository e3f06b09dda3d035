/* test_client_pad.c: documents over a connection (blindpad/pad.h) against
 * the real server: create (metadata at creation: validateKey, owners,
 * expire), write, reopen from another connection, passwords, view links,
 * live updates, checkpoints, a shared client, a pad on a channel written
 * raw (prefix and junk handling), and two writer processes appending
 * concurrently until both converge.
 *
 * The server is build/blindpad-server ($BLINDPAD_BIN, else next to this
 * test's build directory, else build/blindpad-server), on a free loopback
 * port with a temporary data dir, killed at the end. */
#include "test.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <blindpad/chainpad.h>
#include <blindpad/client.h>
#include <blindpad/crypto.h>
#include <blindpad/link.h>
#include <blindpad/pad.h>

#include "server_proc.h"

static struct srv S;

static int group_setup(void **state)
{
    if (sodium_init() < 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return server_start(&S, NULL);
}

static int group_teardown(void **state)
{
    server_stop(&S, SIGTERM);
    return 0;
}

static char *text_of(struct bp_pad *p)
{
    char *t = NULL;
    size_t n = 0;
    assert_int_equal(bp_pad_text(p, &t, &n), 0);
    assert_int_equal(strlen(t), n);
    return t;
}

static void assert_text(struct bp_pad *p, const char *want)
{
    char *t = text_of(p);
    assert_string_equal(t, want);
    free(t);
}

static void link_url(const struct bp_pad *p, enum bp_link_mode mode, char *out, size_t cap)
{
    assert_int_equal(bp_link_url(bp_pad_link(p), "http://127.0.0.1", mode, out, cap), 0);
}

static struct bp_pad *reopen(const char *url, const char *password, int want)
{
    struct bp_link *l = NULL;
    assert_int_equal(bp_link_parse(url, password, &l, NULL), 0);
    struct bp_pad_open_opts oo = {.must_exist = true};
    struct bp_pad *p = NULL;
    char err[256] = "";
    int r = bp_pad_open_url(S.ws, l, &oo, &p, err, sizeof err);
    bp_link_free(l);
    if (r != want)
        fprintf(stderr, "open: %s (%s)\n", bp_strerror(r), err);
    assert_int_equal(r, want);
    return p;
}

/* create, write, reopen elsewhere: same text, same head and content hash */
static void test_create_write_reopen(void **state)
{
    struct bp_pad_create_opts co = {.text = "line one\r\nline two\n", .title = "T"};
    struct bp_pad *a = NULL;
    char err[256] = "";
    int r = bp_pad_create_url(S.ws, "code", &co, &a, err, sizeof err);
    if (r)
        fprintf(stderr, "create: %s (%s)\n", bp_strerror(r), err);
    assert_int_equal(r, 0);
    assert_text(a, "line one\nline two\n"); /* CRLF stored as LF, as the code app does */
    char *doc;
    size_t dn;
    assert_int_equal(bp_pad_content(a, &doc, &dn), 0);
    assert_string_equal(doc, "{\"authormarks\":{},\"content\":\"line one\\nline two\\n\",\"highlightMode\":\"gfm\","
                             "\"metadata\":{\"defaultTitle\":\"T\",\"title\":\"T\",\"type\":\"code\"}}");
    free(doc);
    assert_int_equal(bp_pad_write(a, "hello world\n", 12), 0);
    assert_int_equal(bp_pad_append(a, "more\n", 5), 0);
    assert_text(a, "hello world\nmore\n");
    struct bp_pad_stats st;
    bp_pad_stats(a, &st);
    assert_int_equal(st.sent, 3);
    assert_int_equal(strlen(bp_pad_last_hash(a)), 64);
    /* the metadata the server keeps has our validateKey */
    char vk[64];
    size_t vl;
    assert_int_equal(bp_crypto_b64_encode(bp_pad_link(a)->validate_key, 32, BP_B64_STD, vk, sizeof vk, &vl), 0);
    assert_non_null(strstr(bp_pad_metadata(a), vk));

    char url[512];
    link_url(a, BP_LINK_EDIT, url, sizeof url);
    assert_non_null(strstr(url, "/code/#/2/code/edit/"));
    struct bp_pad *b = reopen(url, NULL, 0);
    assert_text(b, "hello world\nmore\n");
    char h1[65], h2[65];
    bp_pad_head(a, h1);
    bp_pad_head(b, h2);
    assert_string_equal(h1, h2);
    bp_pad_content_hash(a, h1);
    bp_pad_content_hash(b, h2);
    assert_string_equal(h1, h2);
    assert_string_equal(bp_pad_last_hash(a), bp_pad_last_hash(b));
    bp_pad_stats(b, &st);
    assert_int_equal(st.messages, 3);
    assert_int_equal(st.skipped, 0);

    /* live: b writes, a sees it by polling */
    assert_int_equal(bp_pad_write(b, "from b\n", 7), 0);
    int changed = 0;
    for (int i = 0; i < 50 && !changed; i++) {
        r = bp_pad_poll(a, 100);
        assert_true(r >= 0);
        changed = r;
    }
    assert_int_equal(changed, 1);
    assert_text(a, "from b\n");

    /* a view link reads, cannot write, verifies with the metadata's validateKey */
    char vurl[512];
    link_url(a, BP_LINK_VIEW, vurl, sizeof vurl);
    struct bp_pad *v = reopen(vurl, NULL, 0);
    assert_text(v, "from b\n");
    assert_int_equal(bp_pad_write(v, "nope", 4), BP_EFORBIDDEN);
    bp_pad_free(v);

    /* nothing at a random link: BP_ENOENT, and no channel is created */
    struct bp_link *nl = NULL;
    assert_int_equal(bp_link_make("code", NULL, &nl), 0);
    char nurl[512];
    assert_int_equal(bp_link_url(nl, "http://127.0.0.1", BP_LINK_EDIT, nurl, sizeof nurl), 0);
    bp_link_free(nl);
    assert_null(reopen(nurl, NULL, BP_ENOENT));
    bp_pad_free(a);
    bp_pad_free(b);
}

static void test_password_expire_owners(void **state)
{
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    char owner[64];
    size_t ol;
    assert_int_equal(bp_crypto_b64_encode(pk, 32, BP_B64_STD, owner, sizeof owner, &ol), 0);
    const char *owners[] = {owner};
    struct bp_pad_create_opts co = {.password = "s3cret", .expire_seconds = 3600, .owners = owners,
                                    .n_owners = 1, .highlight_mode = "javascript", .text = "x = 1;\n"};
    struct bp_pad *a = NULL;
    assert_int_equal(bp_pad_create_url(S.ws, "code", &co, &a, NULL, 0), 0);
    assert_true(bp_pad_link(a)->password_flag);
    char url[512];
    link_url(a, BP_LINK_EDIT, url, sizeof url);
    assert_non_null(strstr(url, "/p/"));
    /* the stored metadata: owners as given, expire turned into an absolute ms time */
    struct bp_pad *b = reopen(url, "s3cret", 0);
    json_t *m = json_loads(bp_pad_metadata(b), 0, NULL);
    assert_non_null(m);
    json_t *ow = json_object_get(m, "owners");
    assert_int_equal(json_array_size(ow), 1);
    assert_string_equal(json_string_value(json_array_get(ow, 0)), owner);
    double exp = json_number_value(json_object_get(m, "expire"));
    double now = (double)time(NULL) * 1000;
    assert_true(exp > now + 3500e3 && exp < now + 3700e3);
    json_decref(m);
    json_t *doc = NULL;
    assert_int_equal(bp_pad_json(b, &doc), 0);
    assert_string_equal(json_string_value(json_object_get(doc, "highlightMode")), "javascript");
    json_decref(doc);
    assert_text(b, "x = 1;\n");
    bp_pad_free(b);
    /* wrong or missing password: another channel, nothing there */
    assert_null(reopen(url, "wrong", BP_ENOENT));
    assert_null(reopen(url, NULL, BP_ENOENT));
    bp_pad_free(a);
}

/* more than 100 changes: the writer sends checkpoints at positions 50 and
 * 100; a reader loads from the first one and gets the same content */
static void test_checkpoints(void **state)
{
    struct bp_pad *a = NULL;
    struct bp_pad_create_opts co = {.text = ""};
    assert_int_equal(bp_pad_create_url(S.ws, "code", &co, &a, NULL, 0), 0);
    char line[32];
    for (int i = 0; i < 105; i++) {
        int n = snprintf(line, sizeof line, "line %d é\n", i);
        assert_int_equal(bp_pad_append(a, line, (size_t)n), 0);
    }
    struct bp_pad_stats st;
    bp_pad_stats(a, &st);
    assert_int_equal(st.checkpoints, 2);
    assert_int_equal(st.sent, 108); /* creation + 105 appends + checkpoints at 50 and 100 */
    char url[512];
    link_url(a, BP_LINK_EDIT, url, sizeof url);
    struct bp_pad *b = reopen(url, NULL, 0);
    char *ta = text_of(a), *tb = text_of(b);
    assert_string_equal(ta, tb);
    assert_non_null(strstr(tb, "line 104 é\n"));
    free(ta);
    free(tb);
    bp_pad_stats(b, &st);
    /* the server sends from the older of the last two checkpoints (position 50) */
    assert_int_equal(st.messages, 108 - 49);
    assert_int_equal(st.skipped, 0);
    bp_pad_free(a);
    bp_pad_free(b);
}

/* several pads on one client: the caller routes live messages */
struct router {
    struct bp_pad *pads[2];
};
static void route(const struct bp_nf_msg *m, void *ud)
{
    struct router *rt = ud;
    for (int i = 0; i < 2; i++)
        if (rt->pads[i])
            bp_pad_on_message(rt->pads[i], m);
}

static void test_shared_client(void **state)
{
    struct router rt = {{NULL, NULL}};
    struct bp_client_opts o = {.on_message = route, .ud = &rt};
    struct bp_client *cl = NULL;
    assert_int_equal(bp_client_open(S.ws, &o, &cl, NULL, 0), 0);
    struct bp_pad_create_opts co = {.text = "one"};
    assert_int_equal(bp_pad_create(cl, "slide", &co, &rt.pads[0]), 0);
    co.text = "two";
    assert_int_equal(bp_pad_create(cl, "code", &co, &rt.pads[1]), 0);
    assert_text(rt.pads[0], "one");
    assert_text(rt.pads[1], "two");
    char *doc;
    size_t dn;
    assert_int_equal(bp_pad_content(rt.pads[0], &doc, &dn), 0);
    assert_null(strstr(doc, "highlightMode")); /* slide: {content, metadata} */
    assert_non_null(strstr(doc, "\"type\":\"slide\""));
    free(doc);
    /* another writer on pad 0: seen through the shared client */
    char url[512];
    link_url(rt.pads[0], BP_LINK_EDIT, url, sizeof url);
    struct bp_pad *w = reopen(url, NULL, 0);
    assert_int_equal(bp_pad_append(w, " and more", 9), 0);
    int changed = 0;
    for (int i = 0; i < 50 && !changed; i++)
        changed = bp_pad_poll(rt.pads[0], 100);
    assert_int_equal(changed, 1);
    assert_text(rt.pads[0], "one and more");
    assert_text(rt.pads[1], "two");
    bp_pad_free(w);
    bp_pad_free(rt.pads[0]);
    rt.pads[0] = NULL;
    bp_pad_free(rt.pads[1]);
    rt.pads[1] = NULL;
    bp_client_free(cl);
}

/* messages written raw: the "^\d+:" prefix is stripped; undecryptable,
 * badly signed and non-ChainPad messages are skipped */
static void test_raw_messages(void **state)
{
    struct bp_pad *a = NULL;
    struct bp_pad_create_opts co = {.text = "base"};
    assert_int_equal(bp_pad_create_url(S.ws, "code", &co, &a, NULL, 0), 0);
    const struct bp_link *l = bp_pad_link(a);
    char url[512];
    link_url(a, BP_LINK_EDIT, url, sizeof url);
    struct bp_client *cl = NULL;
    assert_int_equal(bp_client_open(S.ws, NULL, &cl, NULL, 0), 0);
    assert_int_equal(bp_client_join(cl, l->channel, NULL, 0, NULL), 0);
    char *content, *pos;
    size_t cn;

    /* junk first: not base64, signed with another key, a valid signature over non-ChainPad text */
    uint8_t opk[32], osk[64];
    crypto_sign_keypair(opk, osk);
    char wire[4096];
    size_t wl;
    assert_int_equal(bp_crypto_sign_encrypt(l->crypt_key, osk, "[2,[],\"x\"]", 10, 0, NULL, wire, sizeof wire, &wl), 0);
    assert_int_not_equal(bp_client_send(cl, l->channel, wire, wl), 0); /* the server refuses it */
    assert_int_equal(bp_crypto_sign_encrypt(l->crypt_key, l->sign_key, "not chainpad", 12, 0, NULL, wire, sizeof wire, &wl), 0);
    assert_int_equal(bp_client_send(cl, l->channel, wire, wl), 0);
    /* a real patch with the legacy "12:" prefix, built by a pad and re-sent raw:
     * write through a pad first to learn the current head, then craft the next */
    struct bp_pad *b = reopen(url, NULL, 0);
    struct bp_pad_stats st;
    bp_pad_stats(b, &st);
    assert_int_equal(st.skipped, 1);
    char head[65], chash[65];
    bp_pad_head(b, head);
    bp_pad_content_hash(b, chash);
    assert_int_equal(bp_pad_content(b, &content, &cn), 0);
    pos = strstr(content, "\"content\":\"base\"");
    assert_non_null(pos);
    size_t off = (size_t)(pos - content) + strlen("\"content\":\"base");
    char plain[512];
    int pn = snprintf(plain, sizeof plain, "7:[2,[[%zu,0,\"!\"],\"%s\"],\"%s\"]", off, chash, head);
    free(content);
    assert_int_equal(bp_crypto_sign_encrypt(l->crypt_key, l->sign_key, plain, (size_t)pn, 0, NULL, wire, sizeof wire, &wl), 0);
    assert_int_equal(bp_client_send(cl, l->channel, wire, wl), 0);
    int changed = 0;
    for (int i = 0; i < 50 && !changed; i++)
        changed = bp_pad_poll(b, 100);
    assert_int_equal(changed, 1);
    assert_text(b, "base!");
    struct bp_pad *c = reopen(url, NULL, 0);
    assert_text(c, "base!");
    bp_pad_stats(c, &st);
    assert_int_equal(st.skipped, 1);
    bp_pad_free(c);
    bp_pad_free(b);
    bp_client_free(cl);
    bp_pad_free(a);
}

/* two processes append concurrently; everyone converges on one document
 * (test_concurrent_writers), which holds every line exactly once
 * (test_concurrent_lines_intact: the regression test of a rebase that
 * re-diffed whole texts and could split an insert sharing its first
 * character with the text next to it, "w1-00\n" becoming "1-00\nw"; the
 * engine now transforms its pending operations, docs/client/chainpad.md). */
static char converged[8192];
static void writer_child(const char *url, int id, int wfd)
{
    struct bp_pad *p = NULL;
    struct bp_link *l = NULL;
    if (bp_link_parse(url, NULL, &l, NULL) || bp_pad_open_url(S.ws, l, NULL, &p, NULL, 0))
        _exit(10);
    bp_link_free(l);
    char line[64];
    for (int i = 0; i < 15; i++) {
        int n = snprintf(line, sizeof line, "w%d-%02d\n", id, i);
        if (bp_pad_append(p, line, (size_t)n))
            _exit(11);
        usleep((useconds_t)(randombytes_uniform(20000)));
    }
    /* settle: keep polling until nothing new arrives for a while */
    for (int quiet = 0; quiet < 10;) {
        int r = bp_pad_poll(p, 100);
        if (r < 0)
            _exit(12);
        quiet = r ? 0 : quiet + 1;
    }
    char *t = NULL;
    size_t n;
    if (bp_pad_text(p, &t, &n))
        _exit(13);
    if (write(wfd, t, n) != (ssize_t)n)
        _exit(14);
    free(t);
    bp_pad_free(p);
    _exit(0);
}

static void test_concurrent_writers(void **state)
{
    struct bp_pad *a = NULL;
    struct bp_pad_create_opts co = {.text = ""};
    assert_int_equal(bp_pad_create_url(S.ws, "code", &co, &a, NULL, 0), 0);
    char url[512];
    link_url(a, BP_LINK_EDIT, url, sizeof url);
    int fds[2][2];
    pid_t pid[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        pid[i] = fork();
        if (pid[i] == 0) {
            close(fds[i][0]);
            writer_child(url, i, fds[i][1]);
        }
        close(fds[i][1]);
    }
    char out[2][4096];
    for (int i = 0; i < 2; i++) {
        size_t n = 0;
        ssize_t k;
        while ((k = read(fds[i][0], out[i] + n, sizeof out[i] - 1 - n)) > 0)
            n += (size_t)k;
        out[i][n] = '\0';
        close(fds[i][0]);
        int st;
        waitpid(pid[i], &st, 0);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    /* the reader that stayed open and a fresh one agree with both writers */
    for (int i = 0; i < 30; i++)
        bp_pad_poll(a, 50);
    struct bp_pad *b = reopen(url, NULL, 0);
    char *ta = text_of(a), *tb = text_of(b);
    assert_string_equal(ta, tb);
    assert_string_equal(out[0], tb);
    assert_string_equal(out[1], tb);
    snprintf(converged, sizeof converged, "%s", tb);
    struct bp_pad_stats st;
    bp_pad_stats(b, &st);
    assert_int_equal(st.skipped, 0);
    free(ta);
    free(tb);
    bp_pad_free(a);
    bp_pad_free(b);
}

static void test_concurrent_lines_intact(void **state)
{
    assert_true(converged[0] != '\0');
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < 15; i++) {
            char line[32];
            snprintf(line, sizeof line, "w%d-%02d\n", w, i);
            char *first = strstr(converged, line);
            if (!first)
                fprintf(stderr, "missing %s in:\n%s\n", line, converged);
            assert_non_null(first);
            assert_null(strstr(first + 1, line)); /* once */
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_write_reopen),
        cmocka_unit_test(test_password_expire_owners),
        cmocka_unit_test(test_checkpoints),
        cmocka_unit_test(test_shared_client),
        cmocka_unit_test(test_raw_messages),
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_concurrent_lines_intact),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
