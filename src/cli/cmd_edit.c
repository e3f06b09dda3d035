/* cmd_edit.c: `blindpad edit LINK`: opens a text document's text in $VISUAL /
 * $EDITOR (vi) and writes the result back. The connection is kept alive
 * while the editor runs (other writers' changes are followed).
 *
 * If someone else changed the text meanwhile, the user's edit is merged
 * into the current text (bp_merge_text(original, edited, current), line by
 * line like diff3). A clean merge is written; a merge with conflicts is not:
 * it is left, with git-style markers, in the kept temporary file (exit 5).
 *
 * Saving races: bp_pad_write() puts the text on the head it has seen; a
 * message of someone else that wins the race while ours is in flight is kept
 * (ChainPad's TextTransformer moves our operations over theirs and never
 * removes text they inserted), but where the two overlap our operation is
 * cut, so our edit may land incomplete. So after each write the text is read
 * back: if it is not what was written, our edit is merged again into what is
 * there now; the loop stops when the document holds our edit (the merge
 * changes nothing), on a conflict, or after EDIT_MAX_ROUNDS writes. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <blindpad/err.h>
#include <blindpad/merge.h>
#include <blindpad/pad.h>

#include "cli/cli.h"
#include "cli/cmd_pad.h"

const char cli_usage_edit[] =
    "usage: blindpad edit LINK [--password]\n"
    "\n"
    "Opens the text of a code, markdown or slide document in $VISUAL or $EDITOR\n"
    "(default vi) and saves your changes to the document when the editor exits.\n"
    "If someone else changed the document while you were editing, your changes\n"
    "are merged line by line with theirs (like diff3) and saved. If both changed\n"
    "the same lines, nothing is saved: the merged text, with <<<<<<< yours /\n"
    "======= / >>>>>>> theirs markers around each conflict, is kept in a file\n"
    "whose name is printed (exit status 5); resolve them and run edit again.\n"
    "\n"
    "  --password      the link's password ($BLINDPAD_PASSWORD or asked)\n";

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, k;
    char *b = malloc(cap);
    while (b && (k = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = n;
    }
    return b;
}

#define EDIT_MAX_ROUNDS 4 /* writes before giving up on a document that keeps changing */

/* bp_pad_write stores "\r\n" as "\n": the texts are compared and merged in
 * that form, in place. */
static void lf_only(char *s, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (!(s[i] == '\r' && i + 1 < *n && s[i + 1] == '\n'))
            s[k++] = s[i];
    s[k] = '\0';
    *n = k;
}

static bool same(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

/* Replaces the file's content (the kept temporary file). */
static int rewrite_file(const char *path, const char *s, size_t n)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0)
        return -1;
    int r = write_all(fd, s, n);
    if (close(fd))
        r = -1;
    return r;
}

int cmd_edit(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"password", no_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool want_pw = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': want_pw = true; break;
        case 'h': return cli_help(cli_usage_edit);
        default: return cli_usage_error(cli, cli_usage_edit, "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, cli_usage_edit, "edit takes one LINK");
    struct bp_pad *pad = NULL;
    int rc = cli_pad_open(cli, argv[optind], want_pw, &pad);
    if (rc)
        return rc;
    char *orig = NULL, *edited = NULL;
    size_t on = 0, en = 0;
    char path[] = "/tmp/blindpad-edit-XXXXXX";
    bool keep = false;
    int fd = -1;
    int e = bp_pad_text(pad, &orig, &on);
    if (e) {
        rc = cli_pad_fail(cli, pad, "cannot edit", e);
        goto out;
    }
    if (bp_pad_link(pad)->mode == BP_LINK_VIEW) {
        rc = cli_fail(cli, CLI_AUTH, "this is a read-only (view) link");
        goto out;
    }
    fd = mkstemp(path); /* mode 0600: the plaintext stays private */
    if (fd < 0 || write_all(fd, orig, on) || close(fd)) {
        rc = cli_fail(cli, CLI_LOCAL, "cannot write a temporary file: %s", strerror(errno));
        goto out;
    }
    const char *ed = getenv("VISUAL");
    if (!ed || !*ed)
        ed = getenv("EDITOR");
    if (!ed || !*ed)
        ed = "vi";
    pid_t pid = fork();
    if (pid == 0) { /* the editor command may carry arguments ("code -w"): run it via sh */
        setenv("BLINDPAD_EDITOR", ed, 1);
        execl("/bin/sh", "sh", "-c", "exec $BLINDPAD_EDITOR \"$1\"", "sh", path, (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        rc = cli_fail(cli, CLI_LOCAL, "cannot start the editor: %s", strerror(errno));
        goto out;
    }
    int st = 0;
    for (;;) { /* keep the connection alive and follow other writers */
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            break;
        if (bp_pad_poll(pad, 200) < 0)
            usleep(200000);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        rc = cli_fail(cli, CLI_LOCAL, "the editor failed (status %d); nothing saved",
                      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        goto out;
    }
    if (!(edited = read_file(path, &en))) {
        rc = cli_fail(cli, CLI_LOCAL, "cannot read back %s", path);
        keep = true;
        goto out;
    }
    lf_only(orig, &on);
    lf_only(edited, &en);
    if (same(orig, on, edited, en)) {
        cli_note(cli, "no change");
        goto out;
    }
    /* Each round: follow the others, take the current text, put our edit on
     * it (merge unless it is still the original), write unless it is already
     * there. written: what the last write asked for. */
    bool merged = false;
    char *cur = NULL, *want = NULL, *written = NULL;
    size_t cn = 0, wn = 0, writn = 0;
    for (int round = 0;; round++) {
        free(cur);
        cur = NULL;
        e = bp_pad_poll(pad, 0);
        if (e >= 0)
            e = bp_pad_text(pad, &cur, &cn);
        if (e < 0) {
            keep = true;
            rc = cli_pad_fail(cli, pad, "cannot save", e);
            cli_note(cli, "your text is in %s", path);
            break;
        }
        lf_only(cur, &cn);
        if (written && same(cur, cn, written, writn)) {
            cli_note(cli, merged ? "merged with changes made meanwhile by others; saved" : "saved");
            break;
        }
        free(want);
        want = NULL;
        size_t conflicts = 0;
        if (same(cur, cn, orig, on)) {
            want = malloc(en + 1);
            if (want) {
                memcpy(want, edited, en + 1);
                wn = en;
            }
            e = want ? 0 : BP_ENOMEM;
        } else {
            e = bp_merge_text(orig, on, edited, en, cur, cn, &want, &wn, &conflicts);
            merged = true;
        }
        if (e) {
            keep = true;
            rc = cli_fail(cli, CLI_LOCAL, "cannot merge with the changes made meanwhile (%s); nothing "
                          "saved. Your text is in %s", bp_strerror(e), path);
            break;
        }
        if (conflicts) {
            keep = true;
            if (rewrite_file(path, want, wn)) {
                rc = cli_fail(cli, CLI_LOCAL, "the document was changed by someone else while you were "
                              "editing and your changes conflict with theirs; nothing %ssaved. Your text "
                              "is in %s (cannot write the merge there: %s)", written ? "more " : "", path,
                              strerror(errno));
                break;
            }
            rc = cli_fail(cli, CLI_SERVER, "the document was changed by someone else while you were "
                          "editing and %zu of your changes conflict with theirs; nothing %ssaved. The "
                          "merged text, with <<<<<<< yours / ======= / >>>>>>> theirs around each "
                          "conflict, is in %s: resolve them and run edit again", conflicts,
                          written ? "more " : "", path);
            break;
        }
        if (same(want, wn, cur, cn)) { /* our edit is already in the document */
            cli_note(cli, written ? (merged ? "merged with changes made meanwhile by others; saved" : "saved")
                                  : "the document already has your changes; nothing to save");
            break;
        }
        if (round == EDIT_MAX_ROUNDS) {
            keep = true;
            rewrite_file(path, edited, en);
            rc = cli_fail(cli, CLI_SERVER, "the document kept changing while saving; it may hold part of "
                          "your changes. Your text is in %s", path);
            break;
        }
        e = bp_pad_write(pad, want, wn);
        for (int i = 0; !e && i < 3; i++) { /* let the others' concurrent messages arrive */
            int r = bp_pad_poll(pad, 100);
            if (r < 0)
                e = r;
        }
        if (e) {
            keep = true;
            rc = cli_pad_fail(cli, pad, "cannot save", e);
            cli_note(cli, "your text is in %s", path);
            break;
        }
        free(written);
        written = want;
        writn = wn;
        want = NULL;
    }
    free(cur);
    free(want);
    free(written);
out:
    if (!keep && fd >= 0)
        unlink(path);
    free(orig);
    free(edited);
    bp_pad_free(pad);
    return rc;
}
