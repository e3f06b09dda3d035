/* upload.c: `blindpad upload FILE [--owned] [--name N] [--type T] [--password]`.
 *
 * CryptPad's upload, as www/common/outer/upload.js runs it:
 *   1. a new random file link (bp_link_make "file"): blob id + key; GET_FILE_SIZE
 *      of the id must be 0 (else another link is drawn);
 *   2. signed UPLOAD_STATUS {id, size} with the exact encrypted size; a
 *      pending upload for the same key (an interrupted earlier one) is
 *      cancelled with UPLOAD_CANCEL {id, size};
 *   3. /api/auth UPLOAD_COOKIE {id} gives the first upload cookie;
 *   4. POST /upload-blob/<xx>/<id>, one box per request (the first one is the
 *      2-byte length + metadata box), each answer rotating the cookie;
 *   5. UPLOAD_COMPLETE id (OWNED_UPLOAD_COMPLETE with --owned);
 *   6. prints <server>/file/#/2/file/<key>/ (CRYPTO.md §1.4).
 * The file is read one 128 KiB chunk at a time: memory is bounded whatever
 * its size. Signed RPCs need a key pair: the session's identity if there is
 * one for this server, else an ephemeral key (thrown away; --owned instead
 * creates an anonymous identity in the session file, since the owner's key
 * is needed later to delete the file).
 * The metadata is CryptPad's {name, type} (+ "owners":[edPublic] for an owned
 * upload, as the web client adds it). On failure after step 2 the upload is
 * cancelled (UPLOAD_CANCEL) so the server's staging slot is freed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <blindpad/client.h>
#include <blindpad/err.h>
#include <blindpad/file.h>
#include <blindpad/http.h>
#include <blindpad/link.h>

#include "cli/cli.h"
#include "cli/cmd_drive.h"

const char cli_usage_upload[] =
    "usage: blindpad upload FILE [--owned|--unowned] [--name NAME] [--type MIME] [--password]\n"
    "\n"
    "Encrypts FILE on this machine (CryptPad's file format, a new random key) and\n"
    "uploads it to the server (--server, $BLINDPAD_SERVER). Prints the file's link,\n"
    "which CryptPad's web client opens at <server>/file/#/2/file/...\n"
    "\n"
    "  --unowned       not owned by anyone (the default for a logged-in account, as in\n"
    "                  CryptPad's web client, is owned by the account)\n"
    "  --owned         make the file owned by your identity (the session's; one is\n"
    "                  created and saved in the session file if you have none), so\n"
    "                  that you can delete it later\n"
    "  --name NAME     file name stored in the encrypted metadata (default: FILE's)\n"
    "  --type MIME     MIME type stored in the metadata (default: from the extension)\n"
    "  --password      protect the link with a password ($BLINDPAD_PASSWORD, or asked)\n"
    "\n"
    "With --json: {\"ok\":true,\"link\":...,\"id\":...,\"name\":...,\"type\":...,\"size\":N,\n"
    "\"blobSize\":N,\"owned\":bool,\"binary\":bool,\"requests\":N} (binary: the server took\n"
    "the file as binary bodies, a blindpad extension; requests: POSTs to /upload-blob).\n";

struct up {
    struct cli *cli;
    const char *origin;
    struct bp_client *cl;
    struct bp_sign_key key;
    struct bp_link *link;
    const char *id;
    uint64_t blob_size;
    bool status_sent;
    unsigned long requests;  /* /upload-blob requests sent */
    bool binary;             /* the server took binary bodies */
};

static int open_client(struct up *u)
{
    char err[256] = "";
    int rc = bp_client_open(u->origin, NULL, &u->cl, err, sizeof err);
    if (rc)
        return rc == BP_ENET || rc == BP_ETIMEOUT ? cli_fail_net(u->cli, u->origin, err)
                                                  : cli_fail(u->cli, cli_exit_for(rc),
                                                             "%s: %s", u->origin, err);
    return 0;
}

/* A signed RPC; on a dropped connection (the WebSocket may have gone idle
 * during a long upload) it reconnects once and retries. */
static int rpc(struct up *u, const char *cmd, const char *arg, char **reply)
{
    int rc = bp_client_rpc(u->cl, &u->key, cmd, arg, reply);
    if (rc == BP_ENET || rc == BP_ECLOSED) {
        bp_client_free(u->cl);
        u->cl = NULL;
        char err[256] = "";
        rc = bp_client_open(u->origin, NULL, &u->cl, err, sizeof err);
        if (rc == 0)
            rc = bp_client_rpc(u->cl, &u->key, cmd, arg, reply);
    }
    return rc;
}

static void cancel_upload(struct up *u)
{
    if (!u->status_sent || !u->cl)
        return;
    char arg[128], *reply = NULL;
    snprintf(arg, sizeof arg, "{\"id\":\"%s\",\"size\":%llu}", u->id,
             (unsigned long long)(u->blob_size ? u->blob_size : 1));
    if (rpc(u, "UPLOAD_CANCEL", arg, &reply) == 0)
        u->status_sent = false;
    free(reply);
}

/* Maps an RPC failure to a message. */
static int rpc_fail(struct up *u, const char *what, int rc)
{
    const char *detail = u->cl ? bp_client_error(u->cl) : "";
    if (rc == BP_ENET || rc == BP_ETIMEOUT || rc == BP_ECLOSED)
        return cli_fail_net(u->cli, u->origin, detail);
    if (rc == BP_ESERVER) {
        if (strcmp(detail, "TOO_LARGE") == 0)
            return cli_fail(u->cli, CLI_SERVER,
                            "the server refuses files this large (%s: TOO_LARGE); ask its admin "
                            "to raise --max-upload-size",
                            what);
        if (strcmp(detail, "NOT_ENOUGH_SPACE") == 0)
            return cli_fail(u->cli, CLI_SERVER,
                            "not enough space left in your storage quota (%s: NOT_ENOUGH_SPACE)",
                            what);
        return cli_fail(u->cli, CLI_SERVER, "the server refused %s: %s", what, detail);
    }
    return cli_fail(u->cli, cli_exit_for(rc), "%s failed: %s %s", what, bp_strerror(rc), detail);
}

/* Reads exactly n bytes unless EOF comes first; returns the count or -1. */
static ssize_t read_full(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* A JSON array reply's first element as an integer (GET_FILE_SIZE). */
static bool reply_first_int(const char *reply, long long *v)
{
    json_t *j = json_loads(reply, JSON_DECODE_ANY, NULL);
    json_t *e = json_array_get(j, 0);
    bool ok = json_is_integer(e);
    if (ok)
        *v = json_integer_value(e);
    json_decref(j);
    return ok;
}

static int send_chunk(struct up *u, char *cookie, const unsigned char *box, size_t len,
                      size_t *raw_max)
{
    char err[256] = "", next[128];
    int rc = bp_http_upload_chunk(u->origin, &u->key, cookie, box, len, next, sizeof next, raw_max,
                                  err, sizeof err);
    if (rc == BP_ENET || rc == BP_ETIMEOUT)
        return cli_fail_net(u->cli, u->origin, err);
    if (rc)
        return cli_fail(u->cli, cli_exit_for(rc), "the server refused a chunk of the upload: %s",
                        *err ? err : bp_strerror(rc));
    snprintf(cookie, 128, "%s", next);
    u->requests++;
    return 0;
}

/* ---- the binary upload (blindpad servers) -------------------------------
 *
 * A blindpad server advertises a binary /upload-blob (X-Blindpad-Upload-Max,
 * docs/PROTOCOL.md "Binary uploads"): bodies of many whole boxes, no base64.
 * An encryption thread fills one body while the main thread sends the
 * other, so that encrypting and the server's work overlap on two cores.
 * Two bodies of at most raw_max bytes: memory stays bounded (8 MiB).
 *
 * Ownership: the thread owns fd, enc and plain while it runs (the main
 * thread touches them again only after joining it); bodies pass between
 * the two under mu: full[i] set by the thread, cleared by the main thread. */
struct enc_pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *body[2];
    size_t len[2], cap;
    bool full[2];
    bool stop;                /* main thread: give up (error, interrupt) */
    bool eof;                 /* thread: every box is in a body */
    int err;                  /* thread: CLI_LOCAL etc. (exit code), 0 = none */
    char errmsg[300];
    int fd;
    const char *path;
    bp_file_enc *enc;
    unsigned char *plain;     /* BP_FILE_CHUNK bytes */
    uint64_t size, read_so_far;
};

static void *enc_thread(void *arg)
{
    struct enc_pipe *p = arg;
    int slot = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->full[slot] && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        bool stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            return NULL;
        size_t len = 0;
        int err = 0;
        char msg[300] = "";
        /* do-while: an empty file is still one (empty) box */
        do {
            uint64_t left = p->size - p->read_so_far;
            size_t want = left < BP_FILE_CHUNK ? (size_t)left : BP_FILE_CHUNK;
            ssize_t got = read_full(p->fd, p->plain, want);
            if (got < 0) {
                err = CLI_LOCAL;
                snprintf(msg, sizeof msg, "cannot read %s: %s", p->path, strerror(errno));
                break;
            }
            if ((size_t)got != want) {
                err = CLI_LOCAL;
                snprintf(msg, sizeof msg, "%s shrank while it was being uploaded; try again", p->path);
                break;
            }
            size_t blen = 0;
            int e = bp_file_enc_box(p->enc, p->plain, want, p->body[slot] + len, p->cap - len, &blen);
            if (e) {
                err = CLI_LOCAL;
                snprintf(msg, sizeof msg, "encryption failed: %s", bp_strerror(e));
                break;
            }
            len += blen;
            p->read_so_far += want;
        } while (p->read_so_far < p->size && p->cap - len >= BP_FILE_BOX_MAX);
        pthread_mutex_lock(&p->mu);
        if (err) {
            p->err = err;
            memcpy(p->errmsg, msg, sizeof msg);
        } else {
            p->len[slot] = len;
            p->full[slot] = true;
            p->eof = p->read_so_far >= p->size;
        }
        pthread_cond_broadcast(&p->cv);
        bool done = err || p->eof;
        pthread_mutex_unlock(&p->mu);
        if (done)
            return NULL;
        slot ^= 1;
    }
}

/* Sends every box after the header as binary bodies of at most raw_max. */
static int send_boxes_raw(struct up *u, char *cookie, size_t raw_max, struct enc_pipe *p,
                          struct cli_progress *prog)
{
    p->cap = raw_max / BP_FILE_BOX_MAX * BP_FILE_BOX_MAX;
    if (p->cap > ((size_t)4 << 20))
        p->cap = (size_t)4 << 20;
    p->body[0] = malloc(p->cap);
    p->body[1] = malloc(p->cap);
    if (!p->body[0] || !p->body[1])
        return cli_fail(u->cli, CLI_LOCAL, "out of memory");
    pthread_t th;
    if (pthread_create(&th, NULL, enc_thread, p) != 0)
        return cli_fail(u->cli, CLI_LOCAL, "cannot start the encryption thread");
    int rc = 0, slot = 0;
    double last_poll = cli_now();
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->full[slot] && !p->err)
            pthread_cond_wait(&p->cv, &p->mu);
        bool have = p->full[slot];
        int err = p->err;
        pthread_mutex_unlock(&p->mu);
        if (!have) { /* the thread failed before filling this body */
            rc = cli_fail(u->cli, err, "%s", p->errmsg);
            break;
        }
        if (cli_interrupted()) {
            rc = cli_fail(u->cli, CLI_INTERRUPTED, "interrupted: the upload was cancelled");
            break;
        }
        char errmsg[256] = "", next[128];
        int e = bp_http_upload_raw(u->origin, &u->key, cookie, p->body[slot], p->len[slot], next,
                                   sizeof next, errmsg, sizeof errmsg);
        if (e == BP_ENET || e == BP_ETIMEOUT) {
            rc = cli_fail_net(u->cli, u->origin, errmsg);
            break;
        }
        if (e) {
            rc = cli_fail(u->cli, cli_exit_for(e), "the server refused a part of the upload: %s",
                          *errmsg ? errmsg : bp_strerror(e));
            break;
        }
        snprintf(cookie, 128, "%s", next);
        u->requests++;
        cli_progress_add(prog, p->len[slot]);
        pthread_mutex_lock(&p->mu);
        p->full[slot] = false;
        bool last = p->eof && !p->full[slot ^ 1];
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (last)
            break;
        slot ^= 1;
        if (cli_now() - last_poll > 1.0) { /* keep the idle WebSocket alive (pings) */
            bp_client_poll(u->cl, 0);
            last_poll = cli_now();
        }
    }
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(th, NULL);
    return rc;
}

/* Sends every box after the header, one JSON request each (CryptPad's server). */
static int send_boxes_json(struct up *u, char *cookie, struct enc_pipe *p, unsigned char *box,
                           struct cli_progress *prog)
{
    double last_poll = cli_now();
    int rc;
    do {
        if (cli_interrupted())
            return cli_fail(u->cli, CLI_INTERRUPTED, "interrupted: the upload was cancelled");
        uint64_t left = p->size - p->read_so_far;
        size_t want = left < BP_FILE_CHUNK ? (size_t)left : BP_FILE_CHUNK;
        ssize_t got = read_full(p->fd, p->plain, want);
        if (got < 0)
            return cli_fail(u->cli, CLI_LOCAL, "cannot read %s: %s", p->path, strerror(errno));
        if ((size_t)got != want)
            return cli_fail(u->cli, CLI_LOCAL, "%s shrank while it was being uploaded; try again",
                            p->path);
        size_t blen;
        int e = bp_file_enc_box(p->enc, p->plain, want, box, BP_FILE_BOX_MAX, &blen);
        if (e)
            return cli_fail(u->cli, CLI_LOCAL, "encryption failed: %s", bp_strerror(e));
        if ((rc = send_chunk(u, cookie, box, blen, NULL)))
            return rc;
        p->read_so_far += want;
        cli_progress_add(prog, blen);
        if (cli_now() - last_poll > 1.0) { /* keep the idle WebSocket alive (pings) */
            bp_client_poll(u->cl, 0);     /* what is ready now, without waiting */
            last_poll = cli_now();
        }
    } while (p->read_so_far < p->size);
    return 0;
}

int cmd_upload(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"owned", no_argument, NULL, 'O'}, {"name", required_argument, NULL, 'n'},
        {"unowned", no_argument, NULL, 'U'},
        {"type", required_argument, NULL, 't'}, {"password", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool owned = false, unowned = false, want_pw = false;
    const char *name = NULL, *type = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "hn:t:", opts, NULL)) != -1) {
        switch (c) {
        case 'O': owned = true; break;
        case 'U': unowned = true; break;
        case 'n': name = optarg; break;
        case 't': type = optarg; break;
        case 'p': want_pw = true; break;
        case 'h': return cli_help(cli_usage_upload);
        default: return cli_usage_error(cli, cli_usage_upload, "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, cli_usage_upload, "upload takes one FILE");
    if (owned && unowned)
        return cli_usage_error(cli, cli_usage_upload, "--owned and --unowned exclude each other");
    const char *path = argv[optind];

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_fail(cli, CLI_LOCAL, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cli_fail(cli, CLI_USAGE, "%s is not a regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (!name) {
        const char *slash = strrchr(path, '/');
        name = slash ? slash + 1 : path;
    }
    if (!type)
        type = cli_guess_type(name);

    struct up u = {.cli = cli, .origin = cli->server};
    struct cli_session *sess = NULL;
    char *pw = NULL, *reply = NULL, *meta = NULL, *auth = NULL;
    unsigned char *ephemeral = NULL, *plain = NULL, *box = NULL;
    bp_file_enc *enc = NULL;
    int rc = CLI_OK, e;

    /* The key pair. */
    e = cli_session_load(cli, &sess);
    if (e == BP_EFORBIDDEN) {
        rc = CLI_LOCAL;
        goto out;
    }
    if (e == 0 && strcmp(sess->server, cli->server) != 0) {
        if (owned) {
            rc = cli_fail(cli, CLI_USAGE,
                          "your session is for %s, not %s: use --server %s, or `blindpad logout` "
                          "first",
                          sess->server, cli->server, sess->server);
            goto out;
        }
        cli_session_free(sess); /* another server's identity: upload anonymously */
        sess = NULL;
    } else if (e && e != BP_ENOENT) {
        rc = cli_fail(cli, CLI_LOCAL, "the session file is unreadable (%s); `blindpad logout` "
                      "removes it", bp_strerror(e));
        goto out;
    }
    /* Logged in to an account here: its files are its own unless --unowned. */
    if (sess && !unowned && strcmp(sess->kind, "account") == 0)
        owned = true;
    if (!sess && owned) {
        if (cli_session_create_anonymous(cli, cli->server, &sess)) {
            rc = CLI_LOCAL;
            goto out;
        }
        char sp[4096] = "";
        cli_session_path(sp, sizeof sp);
        cli_note(cli, "created an anonymous identity in %s (mode 0600): it owns this file; keep "
                 "it to delete the file later", sp);
    }
    unsigned char eph_pk[32];
    if (sess) {
        u.key.pk = sess->pk;
        u.key.sk = sess->sk;
    } else {
        ephemeral = sodium_malloc(64);
        if (!ephemeral) {
            rc = cli_fail(cli, CLI_LOCAL, "out of memory");
            goto out;
        }
        crypto_sign_keypair(eph_pk, ephemeral);
        u.key.pk = eph_pk;
        u.key.sk = ephemeral;
    }
    if (want_pw && (rc = cli_password(cli, "Password for the new link: ", &pw)))
        goto out;

    if ((rc = open_client(&u)))
        goto out;

    /* 1. A link whose blob id is free. */
    for (int tries = 0;; tries++) {
        bp_link_free(u.link);
        u.link = NULL;
        e = bp_link_make("file", pw, &u.link);
        if (e) {
            rc = cli_fail(cli, cli_exit_for(e), "cannot make a link: %s", bp_strerror(e));
            goto out;
        }
        u.id = u.link->channel;
        char arg[64];
        snprintf(arg, sizeof arg, "\"%s\"", u.id);
        free(reply);
        reply = NULL;
        e = bp_client_rpc(u.cl, NULL, "GET_FILE_SIZE", arg, &reply);
        if (e) {
            rc = rpc_fail(&u, "GET_FILE_SIZE", e);
            goto out;
        }
        long long sz = -1;
        if (reply_first_int(reply, &sz) && sz == 0)
            break;
        if (tries >= 3) {
            rc = cli_fail(cli, CLI_SERVER, "the server says every new blob id is taken (%s)",
                          reply);
            goto out;
        }
    }

    /* The metadata and the exact blob size. */
    size_t meta_cap = 4096 + 4 * strlen(name) + 4 * strlen(type), meta_len = 0;
    meta = malloc(meta_cap + 128);
    if (!meta) {
        rc = cli_fail(cli, CLI_LOCAL, "out of memory");
        goto out;
    }
    e = bp_file_meta_json(meta, meta_cap, &meta_len, name, type, NULL, NULL);
    if (e) {
        rc = cli_fail(cli, CLI_USAGE, "the file name or type cannot be stored (%s): %s",
                      bp_strerror(e), e == BP_EINVAL ? "not UTF-8? use --name" : "too long");
        goto out;
    }
    if (owned) { /* {name,type} + "owners":[edPublic], as upload.js adds it */
        const char *pub = sess->ed_public;
        meta_len--; /* drop the final '}' */
        meta_len += (size_t)sprintf(meta + meta_len, ",\"owners\":[\"%s\"]}", pub);
    }
    if (meta_len > BP_FILE_META_MAX) {
        rc = cli_fail(cli, CLI_USAGE, "the file name is too long for the metadata");
        goto out;
    }
    u.blob_size = bp_file_encrypted_size(size, meta_len);

    /* 2. UPLOAD_STATUS. */
    char arg[160];
    snprintf(arg, sizeof arg, "{\"id\":\"%s\",\"size\":%llu}", u.id,
             (unsigned long long)u.blob_size);
    free(reply);
    reply = NULL;
    e = rpc(&u, "UPLOAD_STATUS", arg, &reply);
    if (e) {
        rc = rpc_fail(&u, "UPLOAD_STATUS", e);
        goto out;
    }
    u.status_sent = true;
    if (strstr(reply, "true")) { /* an interrupted upload with this key is staged */
        cli_note(cli, "cancelling an earlier unfinished upload of this identity");
        free(reply);
        reply = NULL;
        e = rpc(&u, "UPLOAD_CANCEL", arg, &reply);
        if (e && !(e == BP_ESERVER && strcmp(bp_client_error(u.cl), "E_UNLINK") == 0)) {
            rc = rpc_fail(&u, "UPLOAD_CANCEL", e);
            goto out;
        }
    }

    /* 3. The first cookie. */
    char err[256] = "", cookie[128];
    snprintf(arg, sizeof arg, "{\"id\":\"%s\"}", u.id);
    e = bp_http_auth(u.origin, &u.key, "UPLOAD_COOKIE", arg, &auth, err, sizeof err);
    if (e) {
        rc = e == BP_ENET || e == BP_ETIMEOUT
                 ? cli_fail_net(cli, u.origin, err)
                 : cli_fail(cli, cli_exit_for(e), "the server refused an upload cookie: %s", err);
        goto out;
    }
    {
        json_t *j = json_loads(auth, 0, NULL);
        const char *ck = json_string_value(json_object_get(j, "cookie"));
        if (!ck || strlen(ck) >= sizeof cookie) {
            json_decref(j);
            rc = cli_fail(cli, CLI_SERVER, "the server's UPLOAD_COOKIE answer has no cookie: %s",
                          auth);
            goto out;
        }
        snprintf(cookie, sizeof cookie, "%s", ck);
        json_decref(j);
    }

    /* 4. The boxes. */
    e = bp_file_enc_new(&enc, u.link->crypt_key, meta, meta_len);
    plain = malloc(BP_FILE_CHUNK);
    box = malloc(BP_FILE_HEADER_MAX > BP_FILE_BOX_MAX ? BP_FILE_HEADER_MAX : BP_FILE_BOX_MAX);
    if (e || !plain || !box) {
        rc = cli_fail(cli, CLI_LOCAL, "cannot start the encryption: %s", bp_strerror(e));
        goto out;
    }
    size_t blen;
    bp_file_enc_header(enc, box, BP_FILE_HEADER_MAX, &blen);
    struct cli_progress prog;
    cli_progress_start(cli, &prog, "upload", u.blob_size, 0);
    /* The header box goes as CryptPad's JSON; the answer says whether this
     * server takes the rest as binary bodies. */
    size_t raw_max = 0;
    if ((rc = send_chunk(&u, cookie, box, blen, &raw_max)))
        goto out_prog;
    cli_progress_add(&prog, blen);
    struct enc_pipe pipe = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
                            .fd = fd, .path = path, .enc = enc, .plain = plain, .size = size};
    u.binary = raw_max >= BP_FILE_BOX_MAX && !getenv("BLINDPAD_UPLOAD_JSON");
    if (u.binary)
        rc = send_boxes_raw(&u, cookie, raw_max, &pipe, &prog);
    else
        rc = send_boxes_json(&u, cookie, &pipe, box, &prog);
    free(pipe.body[0]);
    free(pipe.body[1]);
    if (rc)
        goto out_prog;
    if (read_full(fd, plain, 1) != 0) {
        rc = cli_fail(cli, CLI_LOCAL, "%s grew while it was being uploaded; try again", path);
        goto out_prog;
    }
    if (bp_file_enc_written(enc) != u.blob_size) {
        rc = cli_fail(cli, CLI_LOCAL, "internal error: %llu bytes encrypted, %llu declared",
                      (unsigned long long)bp_file_enc_written(enc),
                      (unsigned long long)u.blob_size);
        goto out_prog;
    }

    /* 5. Complete. */
    snprintf(arg, sizeof arg, "\"%s\"", u.id);
    free(reply);
    reply = NULL;
    e = rpc(&u, owned ? "OWNED_UPLOAD_COMPLETE" : "UPLOAD_COMPLETE", arg, &reply);
    if (e) {
        rc = rpc_fail(&u, owned ? "OWNED_UPLOAD_COMPLETE" : "UPLOAD_COMPLETE", e);
        goto out_prog;
    }
    u.status_sent = false;
    cli_progress_end(&prog, true);

    /* 6. The link. */
    char url[CLI_ORIGIN_MAX + BP_LINK_HASH_MAX + 16];
    e = bp_link_url(u.link, cli->server, BP_LINK_NONE, url, sizeof url);
    if (e) {
        rc = cli_fail(cli, CLI_LOCAL, "cannot print the link: %s", bp_strerror(e));
        goto out;
    }
    cli_drive_add(cli, url, name, owned ? sess->ed_public : NULL); /* logged in: to the drive */
    if (cli->json) {
        json_t *j = json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:I, s:b}", "ok", 1, "link", url,
                              "id", u.id, "name", name, "type", type, "size", (json_int_t)size,
                              "blobSize", (json_int_t)u.blob_size, "owned", owned);
        if (j && owned)
            json_object_set_new(j, "owner", json_string(sess->ed_public));
        if (j) {
            json_object_set_new(j, "binary", json_boolean(u.binary));
            json_object_set_new(j, "requests", json_integer((json_int_t)u.requests));
        }
        if (j)
            cli_json_out(j);
    } else {
        printf("%s\n", url);
    }
    goto out;

out_prog:
    cli_progress_end(&prog, false);
out:
    cancel_upload(&u);
    bp_file_enc_free(enc);
    free(plain);
    free(box);
    free(meta);
    free(auth);
    free(reply);
    bp_link_free(u.link);
    if (u.cl)
        bp_client_free(u.cl);
    sodium_free(ephemeral);
    sodium_free(pw);
    cli_session_free(sess);
    close(fd);
    return rc;
}
