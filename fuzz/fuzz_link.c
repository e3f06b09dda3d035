/* libFuzzer target: link parsing (src/client/link.c).
 *
 * Input: byte 0 chooses the password (bit 0: none / "pw", bit 1: a UTF-8
 * one), the rest is the link text. Oracles besides "never crash":
 *   - a failure is BP_ELINK (with a reason) or BP_EINVAL, and leaves *out NULL;
 *   - a parsed link has a 32- or 48-character lowercase hex channel;
 *   - parse -> bp_link_url -> parse gives the same channel and keys, and the
 *     same through bp_link_parse_hash with the link's type;
 *   - the view link made from a document link parses to the same channel and
 *     encryption key, without signing keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/link.h"

static void same_keys(const struct bp_link *a, const struct bp_link *b)
{
    if (strcmp(a->channel, b->channel) != 0 || a->has_keys != b->has_keys || a->kind != b->kind)
        abort();
    if (a->has_keys && memcmp(a->crypt_key, b->crypt_key, 32) != 0)
        abort();
    if (a->has_sign_key != b->has_sign_key || (a->has_sign_key && memcmp(a->sign_key, b->sign_key, 64) != 0))
        abort();
}

static void round_trip(const struct bp_link *l, enum bp_link_mode mode, const char *pw)
{
    char url[512], hash[BP_LINK_HASH_MAX];
    if (bp_link_url(l, "https://fuzz.example", mode, url, sizeof url) != 0)
        abort();
    struct bp_link *r = NULL;
    const char *why = NULL;
    if (bp_link_parse(url, pw, &r, &why) != 0)
        abort();
    if (mode == l->mode || mode == BP_LINK_NONE)
        same_keys(l, r);
    else if (strcmp(l->channel, r->channel) != 0 || memcmp(l->crypt_key, r->crypt_key, 32) != 0)
        abort();
    bp_link_free(r);
    if (bp_link_hash(l, mode, hash, sizeof hash) != 0)
        abort();
    const char *type = l->type[0] ? l->type : "";
    if (bp_link_parse_hash(type, hash, pw, &r, NULL) != 0)
        abort();
    if (strcmp(l->channel, r->channel) != 0 || memcmp(l->crypt_key, r->crypt_key, 32) != 0)
        abort();
    bp_link_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    const char *pw = (data[0] & 1) ? ((data[0] & 2) ? "p\xc3\xa4ss \xf0\x9f\x94\x91" : "pw") : NULL;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';

    struct bp_link *l = (struct bp_link *)1;
    const char *why = NULL;
    int rc = bp_link_parse(s, pw, &l, &why);
    if (rc != 0) {
        if (l != NULL || (rc != BP_ELINK && rc != BP_EINVAL) || (rc == BP_ELINK && !why))
            abort();
        free(s);
        return 0;
    }
    size_t cl = strlen(l->channel);
    if (cl != 32 && cl != 48)
        abort();
    for (size_t i = 0; i < cl; i++)
        if (!((l->channel[i] >= '0' && l->channel[i] <= '9') || (l->channel[i] >= 'a' && l->channel[i] <= 'f')))
            abort();
    if (l->has_keys) {
        if (l->kind == BP_LINK_FILE || l->version == 0) {
            round_trip(l, BP_LINK_NONE, pw);
        } else {
            round_trip(l, l->mode, pw);
            if (l->mode == BP_LINK_EDIT)
                round_trip(l, BP_LINK_VIEW, pw);
            struct bp_link *v = NULL;
            if (bp_link_make_view(l, &v) != 0 || v->has_sign_key)
                abort();
            round_trip(v, BP_LINK_VIEW, pw);
            bp_link_free(v);
        }
    }
    bp_link_free(l);
    free(s);
    return 0;
}
