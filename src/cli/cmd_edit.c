/* cmd_edit.c: `blindpad edit LINK`: opens a text document's text in $VISUAL /
 * $EDITOR (vi) and writes the result back. The connection is kept alive
 * while the editor runs (other writers' changes are followed); if someone
 * else changed the text meanwhile, nothing is written and the edited text
 * is kept in a file (see docs/client/pad.md: three-way merge left to do). */
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
#include <blindpad/pad.h>

#include "cli/cli.h"
#include "cli/cmd_pad.h"

const char cli_usage_edit[] =
    "usage: blindpad edit LINK [--password]\n"
    "\n"
    "Opens the text of a code, markdown or slide document in $VISUAL or $EDITOR\n"
    "(default vi) and saves your changes to the document when the editor exits.\n"
    "If someone else changed the document while you were editing, nothing is\n"
    "saved: your text is kept in a file whose name is printed (exit status 5).\n"
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
    char head0[65], head1[65];
    bp_pad_head(pad, head0);
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
    if (en == on && memcmp(orig, edited, on) == 0) {
        cli_note(cli, "no change");
        goto out;
    }
    bp_pad_head(pad, head1);
    if (strcmp(head0, head1) != 0) {
        keep = true;
        rc = cli_fail(cli, CLI_SERVER, "the document was changed by someone else while you "
                      "were editing; nothing saved. Your text is in %s", path);
        goto out;
    }
    e = bp_pad_write(pad, edited, en);
    for (int i = 0; !e && i < 3; i++) {
        int r = bp_pad_poll(pad, 100);
        if (r < 0)
            e = r;
    }
    if (e) {
        keep = true;
        rc = cli_pad_fail(cli, pad, "cannot save", e);
        cli_note(cli, "your text is in %s", path);
        goto out;
    }
    cli_note(cli, "saved");
out:
    if (!keep && fd >= 0)
        unlink(path);
    free(orig);
    free(edited);
    bp_pad_free(pad);
    return rc;
}
