/* link_info.c: `blindpad link-info LINK [--show-keys]`: what a link is,
 * parsed offline. Secrets (keys) only with --show-keys; the channel / blob id
 * is not secret (the server knows it). */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include <blindpad/crypto.h>
#include <blindpad/err.h>
#include <blindpad/link.h>

#include "cli/cli.h"

const char cli_usage_link_info[] =
    "usage: blindpad link-info LINK [--show-keys]\n"
    "\n"
    "Parses LINK offline and prints its kind (document or file), version, app,\n"
    "mode (edit/view), options, server and channel (blob id for files). Keys are\n"
    "only printed with --show-keys (anyone who sees them can read the data).\n";

static json_t *b64j(const uint8_t *p, size_t n)
{
    char buf[128];
    size_t len = 0;
    if (bp_crypto_b64_encode(p, n, BP_B64_STD, buf, sizeof buf, &len))
        return json_null();
    json_t *s = json_stringn(buf, len);
    sodium_memzero(buf, sizeof buf);
    return s;
}

int cmd_link_info(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"show-keys", no_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    bool keys = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': keys = true; break;
        case 'h': return cli_help(cli_usage_link_info);
        default: return cli_usage_error(cli, cli_usage_link_info, "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, cli_usage_link_info, "link-info takes one LINK");
    const char *arg = argv[optind];
    struct bp_link *l = NULL;
    const char *why = NULL;
    int e = bp_link_parse(arg, NULL, &l, &why);
    if (e)
        return e == BP_ELINK ? cli_fail(cli, CLI_AUTH, "not a link blindpad can open: %s",
                                        why ? why : "unknown format")
                             : cli_fail(cli, cli_exit_for(e), "%s", bp_strerror(e));
    char origin[CLI_ORIGIN_MAX] = "";
    bool has_origin = cli_link_origin(arg, origin, sizeof origin);
    const char *kind = l->kind == BP_LINK_FILE ? "file" : "document";
    const char *mode = l->mode == BP_LINK_EDIT ? "edit" : l->mode == BP_LINK_VIEW ? "view" : "none";
    json_t *j = json_object();
    json_object_set_new(j, "ok", json_true());
    json_object_set_new(j, "kind", json_string(kind));
    json_object_set_new(j, "version", json_integer(l->version));
    json_object_set_new(j, "type", json_string(l->type));
    json_object_set_new(j, "app", json_string(l->app));
    json_object_set_new(j, "mode", json_string(mode));
    json_object_set_new(j, "server", has_origin ? json_string(origin) : json_null());
    json_object_set_new(j, "channel", json_string(l->channel));
    if (l->kind == BP_LINK_FILE) {
        char p[128];
        if (bp_link_blob_path(l->channel, p, sizeof p) == 0)
            json_object_set_new(j, "blobPath", json_string(p));
    }
    json_object_set_new(j, "passwordProtected", json_boolean(l->password_flag));
    json_object_set_new(j, "hasKeys", json_boolean(l->has_keys));
    json_object_set_new(j, "canEdit", json_boolean(l->has_sign_key));
    json_object_set_new(j, "embed", json_boolean(l->embed));
    json_object_set_new(j, "present", json_boolean(l->present));
    if (keys && l->has_keys) {
        json_t *k = json_object();
        if (l->edit_key_str[0])
            json_object_set_new(k, "editKeyStr", json_string(l->edit_key_str));
        if (l->view_key_str[0])
            json_object_set_new(k, "viewKeyStr", json_string(l->view_key_str));
        if (l->file_key_str[0])
            json_object_set_new(k, "fileKeyStr", json_string(l->file_key_str));
        json_object_set_new(k, "cryptKey", b64j(l->crypt_key, 32));
        if (l->has_sign_key) {
            json_object_set_new(k, "signKey", b64j(l->sign_key, 64));
            json_object_set_new(k, "validateKey", b64j(l->validate_key, 32));
        }
        json_object_set_new(j, "keys", k);
    }
    if (cli->json) {
        cli_json_out(j);
    } else {
        const char *names[] = {"kind", "version", "type", "app", "mode", "server", "channel",
                               "blobPath", "passwordProtected", "canEdit"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            json_t *v = json_object_get(j, names[i]);
            if (!v)
                continue;
            char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);
            const char *txt = json_is_string(v) ? json_string_value(v) : s;
            if (txt && *txt)
                printf("%-18s %s\n", names[i], txt);
            free(s);
        }
        json_t *k = json_object_get(j, "keys");
        const char *kn;
        json_t *kv;
        json_object_foreach(k, kn, kv) printf("%-18s %s\n", kn, json_string_value(kv));
        if (!keys && l->has_keys)
            printf("(keys hidden; --show-keys prints them)\n");
        json_decref(j);
    }
    bp_link_free(l);
    return CLI_OK;
}
