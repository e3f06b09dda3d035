/* download.c: `blindpad download LINK [-o FILE] [--force] [--limit-rate R]`.
 *
 * What it does, as CryptPad's media-tag reader does, plus resume:
 *   1. parses the file link (v1 /1/<chan>/<key>/, v2 /2/file/<key>/[p/]);
 *   2. GET /blob/<xx>/<id> Range: bytes=0-1 (the metadata box length L; the
 *      Content-Range gives the blob's total size), then bytes=2-(L+1) (the
 *      metadata box): the key is checked and the file's name read before any
 *      file is created;
 *   3. the output is written to <FILE>.part and renamed to FILE only after
 *      the decryptor's final check passed (the total size from the server is
 *      passed as the expected size, so a truncated blob is refused);
 *   4. the rest of the blob is fetched in Range requests of RANGE_BYTES
 *      (memory stays bounded: one range + the decryptor's two chunk buffers),
 *      each box decrypted and checked before its plaintext is written.
 *
 * Resume: a .part file carries an extended attribute user.blindpad.resume =
 * a keyed hash of (blob id, total size) under the file key, so that it is
 * recognised as a partial download of this very link. On a rerun, the
 * whole 128 KiB chunks in it are kept and the download goes on from the next
 * box. libblindpad's decryptor always starts at box 0, so the boxes after a
 * resume point are opened here (open_box: secretbox with nonce = box index
 * + 1, big-endian, CRYPTO.md §6) — a gap in the library noted for the lead
 * (docs/notes/cli.md). Without xattr support (some file systems) there is no
 * resume, and an existing .part is only replaced with --force.
 *
 * A box that does not open (the blob was modified on the server, or the
 * link's key is wrong) stops the download, removes the .part file and exits
 * with 7 (3 if it is the metadata box: then it is the link or password). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <blindpad/crypto.h>
#include <blindpad/err.h>
#include <blindpad/file.h>
#include <blindpad/http.h>
#include <blindpad/link.h>

#include "cli/cli.h"

const char cli_usage_download[] =
    "usage: blindpad download LINK [-o FILE|DIR|-] [--force] [--password] [--limit-rate BYTES]\n"
    "\n"
    "Downloads the encrypted file a link points to, checks and decrypts it on this\n"
    "machine. The link names its server (a bare hash uses --server).\n"
    "\n"
    "  -o FILE         write to FILE (default: the name stored in the file's encrypted\n"
    "                  metadata, in the current directory); a directory: that name in\n"
    "                  it; '-': standard output (no .part file, no resume)\n"
    "  -f, --force     overwrite an existing FILE (and a .part that is not ours)\n"
    "  --password      the link's password ($BLINDPAD_PASSWORD, or asked; needed when\n"
    "                  the link has /p/)\n"
    "  --limit-rate R  at most R bytes per second (suffixes k, M, G)\n"
    "\n"
    "The data goes to FILE.part and is renamed to FILE only once every box has been\n"
    "checked. An interrupted download leaves FILE.part; running the same command\n"
    "again resumes it. A file modified on the server is refused (exit status 7) and\n"
    "nothing is left under FILE.\n";

/* Bytes per Range request: 16 boxes of ciphertext (128 KiB + 16 each), about
 * 2 MiB: few round trips, bounded memory (two ranges in flight: below). */
#define RANGE_BYTES (16u * 131088u)
#define RESUME_XATTR "user.blindpad.resume"

struct dl {
    struct cli *cli;
    char origin[CLI_ORIGIN_MAX];
    char url[CLI_ORIGIN_MAX + 128]; /* the blob's URL */
    struct bp_link *link;
    uint64_t total;  /* blob size */
    size_t hdr;      /* 2 + L */
    int out_fd;
    const char *out_name; /* for messages */
    uint64_t rate;   /* --limit-rate, 0 = none */
    double t0;
    uint64_t fetched;
    struct cli_progress prog;
    /* the resumed path's box decryption */
    unsigned char *box;  /* BP_FILE_BOX_MAX */
    size_t box_fill;
    uint64_t box_index;  /* next data box (0-based) */
    unsigned char *plain;
};

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return errno == ENOSPC ? BP_ENOSPC : BP_EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int sink_write(void *ctx, const unsigned char *data, size_t len)
{
    struct dl *d = ctx;
    return write_all(d->out_fd, data, len);
}

/* Parses "bytes a-b/total". */
static bool parse_content_range(const char *v, uint64_t *a, uint64_t *b, uint64_t *total)
{
    unsigned long long x, y, t;
    if (!v || sscanf(v, "bytes %llu-%llu/%llu", &x, &y, &t) != 3 || x > y || y >= t)
        return false;
    *a = x;
    *b = y;
    *total = t;
    return true;
}

/* GET url with Range: bytes=from-to (inclusive). On success *resp holds
 * exactly to-from+1 bytes, and *total the blob's size. */
static int fetch_range(struct dl *d, uint64_t from, uint64_t to, struct bp_http_resp **resp,
                       uint64_t *total)
{
    char range[96], err[256] = "";
    snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)from,
             (unsigned long long)to);
    const char *headers[] = {range, NULL};
    struct bp_http_req req = {
        .method = "GET", .url = d->url, .headers = headers,
        /* room for the range, or for an error page (a 404's HTML) */
        .max_body = (size_t)(to - from + 1) + 65536, .timeout_ms = 60000,
    };
    *resp = NULL;
    /* A dropped connection is tried 3 times (it may be a hiccup), a
     * malformed answer twice. */
    int rc = 0, net_tries = 0;
    for (int attempt = 0; attempt < 6; attempt++) {
        err[0] = '\0';
        rc = bp_http_fetch(&req, resp, err, sizeof err);
        if (rc == BP_EPROTO && attempt < 2)
            continue;
        if ((rc != BP_ENET && rc != BP_ETIMEOUT) || ++net_tries >= 3 || cli_interrupted())
            break;
        struct timespec ts = {0, net_tries * 300000000L};
        nanosleep(&ts, NULL);
    }
    if (rc == BP_ENET || rc == BP_ETIMEOUT || rc == BP_ECLOSED)
        return cli_fail_net(d->cli, d->origin, err);
    if (rc)
        return cli_fail(d->cli, CLI_SERVER, "%s: %s %s", d->url, bp_strerror(rc), err);
    struct bp_http_resp *r = *resp;
    if (r->status == 404) {
        if (d->link->password_flag)
            return cli_fail(d->cli, CLI_AUTH,
                            "no file at this link: wrong password, or the file was deleted");
        return cli_fail(d->cli, CLI_NOTFOUND,
                        "no file at this link: it was deleted (or expired), or the link is wrong");
    }
    uint64_t a, b, t;
    if (r->status != 206 || !parse_content_range(bp_http_header(r, "content-range"), &a, &b, &t) ||
        a != from || b != to || r->body_len != to - from + 1)
        return cli_fail(d->cli, CLI_SERVER,
                        "%s: unexpected answer to a range request (HTTP %d, %zu bytes)", d->url,
                        r->status, r->body_len);
    *total = t;
    return 0;
}

/* The next range is fetched by a second thread while the main thread
 * decrypts and writes the current one, so that the server's sending, the
 * network and the decryption overlap (two ranges in memory at most). The
 * thread only runs fetch_range(), which reports its own errors; the main
 * thread joins it before using resp/total/rc and before leaving. */
struct prefetch {
    pthread_t th;
    bool active;
    struct dl *d;
    uint64_t from, to;
    struct bp_http_resp *resp; /* owned by whoever joined the thread */
    uint64_t total;
    int rc;
};

static void *prefetch_run(void *arg)
{
    struct prefetch *p = arg;
    p->rc = fetch_range(p->d, p->from, p->to, &p->resp, &p->total);
    return NULL;
}

static void prefetch_start(struct prefetch *p, struct dl *d, uint64_t from, uint64_t to)
{
    *p = (struct prefetch){.d = d, .from = from, .to = to};
    p->active = pthread_create(&p->th, NULL, prefetch_run, p) == 0;
    if (!p->active) /* no thread: fetch here, in order */
        prefetch_run(p);
}

/* Waits for the fetch; returns its exit code (0: *resp and *total set). */
static int prefetch_wait(struct prefetch *p, struct bp_http_resp **resp, uint64_t *total)
{
    if (p->active)
        pthread_join(p->th, NULL);
    p->active = false;
    *resp = p->resp;
    *total = p->total;
    p->resp = NULL;
    return p->rc;
}

static void prefetch_cancel(struct prefetch *p)
{
    struct bp_http_resp *r;
    uint64_t t;
    if (p->active || p->resp) {
        prefetch_wait(p, &r, &t);
        bp_http_resp_free(r);
    }
}

/* Sleeps as --limit-rate requires after n more bytes. */
static void throttle(struct dl *d, uint64_t n)
{
    d->fetched += n;
    if (!d->rate)
        return;
    double due = d->t0 + (double)d->fetched / (double)d->rate, now = cli_now();
    if (due > now) {
        double s = due - now;
        struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !cli_interrupted()) {
        }
    }
}

/* Opens data box d->box_index (resume path) and writes its plaintext. */
static int open_box(struct dl *d, const unsigned char *key)
{
    unsigned char nonce[24] = {0};
    uint64_t n = d->box_index + 1;
    for (int i = 23; i >= 16; i--, n >>= 8)
        nonce[i] = (unsigned char)n;
    if (d->box_fill < BP_FILE_TAGBYTES ||
        crypto_secretbox_open_easy(d->plain, d->box, d->box_fill, nonce, key) != 0)
        return BP_EDECRYPT;
    int rc = write_all(d->out_fd, d->plain, d->box_fill - BP_FILE_TAGBYTES);
    d->box_index++;
    d->box_fill = 0;
    return rc;
}

/* The resume tag: keyed BLAKE2b of "<id>:<total>" under the file key. */
static void resume_tag(const struct bp_link *l, uint64_t total, char out[33])
{
    char msg[96];
    unsigned char h[16];
    int n = snprintf(msg, sizeof msg, "blindpad-resume:%s:%llu", l->channel,
                     (unsigned long long)total);
    crypto_generichash(h, sizeof h, (const unsigned char *)msg, (size_t)n, l->crypt_key, 32);
    sodium_bin2hex(out, 33, h, sizeof h);
}

static int64_t parse_rate(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0)
        return -1;
    switch (*end) {
    case 'k': case 'K': v *= 1e3; end++; break;
    case 'm': case 'M': v *= 1e6; end++; break;
    case 'g': case 'G': v *= 1e9; end++; break;
    default: break;
    }
    return *end ? -1 : (int64_t)v;
}

/* The file name stored in the metadata, made safe: the last path element,
 * no control characters, not "", "." or "..". */
static void safe_name(const char *meta, const char *id, char *out, size_t cap)
{
    json_t *j = json_loads(meta, JSON_DECODE_ANY, NULL);
    const char *name = json_string_value(json_object_get(j, "name"));
    size_t n = 0;
    if (name) {
        const char *slash = strrchr(name, '/');
        if (slash)
            name = slash + 1;
        for (; *name && n + 1 < cap; name++)
            if ((unsigned char)*name >= 0x20 && *name != 0x7f && *name != '\\')
                out[n++] = *name;
    }
    out[n] = '\0';
    json_decref(j);
    if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        snprintf(out, cap, "blindpad-%.12s", id);
}

int cmd_download(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'},
        {"password", no_argument, NULL, 'p'}, {"limit-rate", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *output = NULL;
    bool force = false, want_pw = false;
    int64_t rate = 0;
    int c;
    while ((c = getopt_long(argc, argv, "ho:f", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'f': force = true; break;
        case 'p': want_pw = true; break;
        case 'r':
            rate = parse_rate(optarg);
            if (rate < 0)
                return cli_usage_error(cli, cli_usage_download, "bad --limit-rate %s", optarg);
            break;
        case 'h': return cli_help(cli_usage_download);
        default: return cli_usage_error(cli, cli_usage_download, "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, cli_usage_download, "download takes one LINK");
    const char *arg = argv[optind];

    struct dl d = {.cli = cli, .out_fd = -1, .rate = (uint64_t)rate};
    char *pw = NULL;
    bp_file_dec *dec = NULL;
    struct bp_http_resp *resp = NULL;
    unsigned char *key = NULL;
    char final_path[PATH_MAX] = "", part_path[PATH_MAX + 8] = "";
    bool to_stdout = output && strcmp(output, "-") == 0, part_created = false, prog_on = false;
    int rc = CLI_OK, e;
    const char *why = NULL;

    /* 1. The link (a first parse to see whether it wants a password). */
    e = bp_link_parse(arg, NULL, &d.link, &why);
    if (e) {
        rc = e == BP_ELINK ? cli_fail(cli, CLI_AUTH, "not a link blindpad can open: %s",
                                      why ? why : "unknown format")
                           : cli_fail(cli, cli_exit_for(e), "%s", bp_strerror(e));
        goto out;
    }
    if (d.link->kind != BP_LINK_FILE) {
        rc = cli_fail(cli, CLI_USAGE, "this is a document link, not a file: `download` takes "
                      "file links (/file/#/2/file/...)");
        goto out;
    }
    if (!d.link->has_keys) {
        rc = cli_fail(cli, CLI_AUTH, "this link carries no key (a v3 \"safe\" link): ask for "
                      "the full link");
        goto out;
    }
    if (d.link->password_flag || want_pw) {
        if ((rc = cli_password(cli, "Password for this link: ", &pw)))
            goto out;
        bp_link_free(d.link);
        d.link = NULL;
        e = bp_link_parse(arg, pw, &d.link, &why);
        if (e) {
            rc = cli_fail(cli, cli_exit_for(e), "%s", why ? why : bp_strerror(e));
            goto out;
        }
    }
    if (cli_link_origin(arg, d.origin, sizeof d.origin)) {
        if ((rc = cli_set_origin(cli, d.origin, d.origin, sizeof d.origin)))
            goto out;
    } else {
        snprintf(d.origin, sizeof d.origin, "%s", cli->server);
    }
    char path[128];
    bp_link_blob_path(d.link->channel, path, sizeof path);
    snprintf(d.url, sizeof d.url, "%s%s", d.origin, path);
    key = sodium_malloc(32);
    if (!key) {
        rc = cli_fail(cli, CLI_LOCAL, "out of memory");
        goto out;
    }
    memcpy(key, d.link->crypt_key, 32);

    /* 2. The length prefix and the metadata box. */
    uint64_t total = 0, t2 = 0;
    if ((rc = fetch_range(&d, 0, 1, &resp, &total)))
        goto out;
    d.total = total;
    size_t L = ((size_t)resp->body[0] << 8) | resp->body[1];
    d.hdr = 2 + L;
    if (L < BP_FILE_TAGBYTES || d.hdr + BP_FILE_TAGBYTES > total) {
        rc = cli_fail(cli, CLI_INTEGRITY, "%s is not an encrypted file (bad header): it was "
                      "modified on the server, or the link is wrong", d.url);
        goto out;
    }
    e = bp_file_dec_new(&dec, key, total);
    if (e == 0)
        e = bp_file_dec_write(dec, resp->body, 2, NULL, NULL);
    bp_http_resp_free(resp);
    resp = NULL;
    if (e) {
        rc = cli_fail(cli, cli_exit_for(e), "cannot start decrypting: %s", bp_strerror(e));
        goto out;
    }
    if ((rc = fetch_range(&d, 2, d.hdr - 1, &resp, &t2)))
        goto out;
    e = t2 == total ? bp_file_dec_write(dec, resp->body, resp->body_len, NULL, NULL) : BP_ECORRUPT;
    bp_http_resp_free(resp);
    resp = NULL;
    const char *meta = e ? NULL : bp_file_dec_meta(dec, NULL);
    if (!meta) {
        rc = e == BP_ECORRUPT
                 ? cli_fail(cli, CLI_INTEGRITY, "the file changed on the server during the "
                            "download; try again")
                 : cli_fail(cli, CLI_AUTH, "wrong password or link: the file's header does not "
                            "decrypt with this link's key");
        goto out;
    }
    /* The box layout follows from the total size. */
    uint64_t data_len = total - d.hdr;
    uint64_t nboxes = (data_len + BP_FILE_BOX_MAX - 1) / BP_FILE_BOX_MAX;
    uint64_t last = data_len - (nboxes - 1) * BP_FILE_BOX_MAX;
    uint64_t plain_len = data_len - nboxes * BP_FILE_TAGBYTES;
    if (last < BP_FILE_TAGBYTES) {
        rc = cli_fail(cli, CLI_INTEGRITY, "the file was modified on the server or the link is "
                      "wrong (its size does not fit the format)");
        goto out;
    }

    /* 3. Where to write. */
    char name[256];
    safe_name(meta, d.link->channel, name, sizeof name);
    if (to_stdout) {
        d.out_fd = 1;
        d.out_name = "standard output";
    } else {
        struct stat st;
        int n;
        if (!output)
            n = snprintf(final_path, sizeof final_path, "%s", name);
        else if (stat(output, &st) == 0 && S_ISDIR(st.st_mode))
            n = snprintf(final_path, sizeof final_path, "%s/%s", output, name);
        else
            n = snprintf(final_path, sizeof final_path, "%s", output);
        if (n < 0 || (size_t)n >= sizeof final_path) {
            rc = cli_fail(cli, CLI_USAGE, "output path too long");
            goto out;
        }
        d.out_name = final_path;
        if (!force && lstat(final_path, &st) == 0) {
            rc = cli_fail(cli, CLI_LOCAL, "%s already exists: use --force to overwrite it, or "
                          "-o to choose another name", final_path);
            goto out;
        }
        snprintf(part_path, sizeof part_path, "%s.part", final_path);
    }
    char tag[33];
    resume_tag(d.link, total, tag);
    uint64_t resume_boxes = 0;
    if (!to_stdout) {
        int fd = open(part_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            char have[40] = "";
            ssize_t hl = fgetxattr(fd, RESUME_XATTR, have, sizeof have - 1);
            struct stat st;
            if (hl == 32 && memcmp(have, tag, 32) == 0 && fstat(fd, &st) == 0 &&
                (uint64_t)st.st_size <= plain_len) {
                resume_boxes = (uint64_t)st.st_size / BP_FILE_CHUNK;
                if (resume_boxes > nboxes)
                    resume_boxes = nboxes;
                if (ftruncate(fd, (off_t)(resume_boxes * BP_FILE_CHUNK)) < 0 ||
                    lseek(fd, 0, SEEK_END) < 0) {
                    close(fd);
                    rc = cli_fail(cli, CLI_LOCAL, "cannot resume %s: %s", part_path,
                                  strerror(errno));
                    goto out;
                }
                d.out_fd = fd;
                part_created = true;
                if (resume_boxes)
                    cli_note(cli, "resuming %s at %llu bytes", part_path,
                             (unsigned long long)(resume_boxes * BP_FILE_CHUNK));
            } else {
                close(fd);
                if (!force) {
                    rc = cli_fail(cli, CLI_LOCAL, "%s exists and is not a partial download of "
                                  "this link: remove it, or use --force", part_path);
                    goto out;
                }
                unlink(part_path);
            }
        }
        if (d.out_fd < 0) {
            d.out_fd = open(part_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
            if (d.out_fd < 0) {
                rc = cli_fail(cli, CLI_LOCAL, "cannot create %s: %s", part_path, strerror(errno));
                goto out;
            }
            part_created = true;
            if (fsetxattr(d.out_fd, RESUME_XATTR, tag, 32, 0) < 0)
                cli_note(cli, "%s: no extended attributes here, an interrupted download will "
                         "not be resumable", part_path);
        }
    }

    /* 4. The boxes. */
    uint64_t pos = d.hdr + resume_boxes * BP_FILE_BOX_MAX;
    d.box_index = resume_boxes;
    if (resume_boxes) {
        d.box = malloc(BP_FILE_BOX_MAX);
        d.plain = malloc(BP_FILE_BOX_MAX);
        if (!d.box || !d.plain) {
            rc = cli_fail(cli, CLI_LOCAL, "out of memory");
            goto out;
        }
    }
    cli_progress_start(cli, &d.prog, "download", total, pos);
    prog_on = true;
    d.t0 = cli_now();
    struct prefetch pf = {0};
    if (pos < total)
        prefetch_start(&pf, &d, pos,
                       pos + RANGE_BYTES - 1 < total - 1 ? pos + RANGE_BYTES - 1 : total - 1);
    while (pos < total) {
        if (cli_interrupted()) {
            prefetch_cancel(&pf);
            rc = cli_fail(cli, CLI_INTERRUPTED, "interrupted%s%s", part_created ? "; resume with "
                          "the same command, the partial data is in " : "",
                          part_created ? part_path : "");
            goto out;
        }
        uint64_t to = pf.to;
        if ((rc = prefetch_wait(&pf, &resp, &t2)))
            goto out;
        if (to + 1 < total) /* the next range, while this one is decrypted */
            prefetch_start(&pf, &d, to + 1,
                           to + RANGE_BYTES < total - 1 ? to + RANGE_BYTES : total - 1);
        if (t2 != total) {
            prefetch_cancel(&pf);
            rc = cli_fail(cli, CLI_INTEGRITY, "the file changed on the server during the "
                          "download; try again");
            goto out;
        }
        if (!resume_boxes) {
            e = bp_file_dec_write(dec, resp->body, resp->body_len, sink_write, &d);
        } else { /* the resumed path: whole boxes, opened here */
            e = 0;
            for (size_t off = 0; e == 0 && off < resp->body_len;) {
                uint64_t box_size = d.box_index + 1 == nboxes ? last : BP_FILE_BOX_MAX;
                size_t k = resp->body_len - off;
                if (k > box_size - d.box_fill)
                    k = (size_t)(box_size - d.box_fill);
                memcpy(d.box + d.box_fill, resp->body + off, k);
                d.box_fill += k;
                off += k;
                if (d.box_fill == box_size)
                    e = open_box(&d, key);
            }
        }
        size_t got = resp->body_len;
        bp_http_resp_free(resp);
        resp = NULL;
        if (e) {
            prefetch_cancel(&pf);
            break;
        }
        pos += got;
        cli_progress_add(&d.prog, got);
        throttle(&d, got);
    }
    if (e == 0 && !resume_boxes)
        e = bp_file_dec_final(dec, sink_write, &d);
    if (e == 0 && resume_boxes && (d.box_index != nboxes || d.box_fill))
        e = BP_EPROTO;
    if (e) {
        cli_progress_end(&d.prog, false);
        prog_on = false;
        if (e == BP_EDECRYPT || e == BP_EPROTO || e == BP_ECORRUPT) {
            if (part_created)
                unlink(part_path);
            part_created = false;
            rc = cli_fail(cli, CLI_INTEGRITY, "refused: the file was modified on the server or "
                          "the link is wrong (a block of %s does not decrypt); nothing was saved",
                          d.url);
        } else {
            rc = cli_fail(cli, CLI_LOCAL, "cannot write %s: %s", d.out_name, bp_strerror(e));
        }
        goto out;
    }
    cli_progress_end(&d.prog, true);
    prog_on = false;

    /* 5. Publish. */
    if (!to_stdout) {
        fremovexattr(d.out_fd, RESUME_XATTR);
        if (fsync(d.out_fd) < 0 || close(d.out_fd) < 0) {
            d.out_fd = -1;
            rc = cli_fail(cli, CLI_LOCAL, "cannot write %s: %s", part_path, strerror(errno));
            goto out;
        }
        d.out_fd = -1;
        if (renameat2(AT_FDCWD, part_path, AT_FDCWD, final_path, force ? 0 : RENAME_NOREPLACE) < 0 &&
            !(errno == EINVAL && !force && link(part_path, final_path) == 0 &&
              unlink(part_path) == 0)) {
            rc = cli_fail(cli, CLI_LOCAL, "cannot rename %s to %s: %s (the data is in %s)",
                          part_path, final_path, strerror(errno), part_path);
            part_created = false;
            goto out;
        }
        part_created = false;
    }
    if (cli->json) {
        json_t *j = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:I}", "ok", 1, "path",
                              to_stdout ? "-" : final_path, "name", name, "id", d.link->channel,
                              "size", (json_int_t)plain_len, "blobSize", (json_int_t)total,
                              "resumedFrom", (json_int_t)(resume_boxes * BP_FILE_CHUNK));
        json_t *m = json_loads(meta, JSON_DECODE_ANY, NULL);
        if (j && json_is_object(m))
            json_object_set(j, "metadata", m);
        json_decref(m);
        if (j)
            cli_json_out(j);
    } else if (!to_stdout) {
        char h[32];
        cli_note(cli, "saved %s (%s)", final_path, cli_human(plain_len, h, sizeof h));
    }

out:
    if (prog_on)
        cli_progress_end(&d.prog, false);
    if (d.out_fd > 1)
        close(d.out_fd);
    (void)part_created; /* a .part left behind is kept for resuming */
    bp_http_resp_free(resp);
    bp_file_dec_free(dec);
    bp_link_free(d.link);
    sodium_free(key);
    sodium_free(pw);
    free(d.box);
    free(d.plain);
    return rc;
}
