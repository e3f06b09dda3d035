/* libFuzzer target: the mailbox parsers (src/client/mailbox.c) and the
 * contact user data check (src/client/contacts.c).
 *
 * Input: byte 0 chooses the parser (bit 1 set: a letter's user data as
 * JSON, bit 2 = the chat channel is required; else even: a contact address,
 * odd: a letter), the rest is the text. Oracles besides "never crash":
 *   - an address either fails with BP_EINVAL and a reason, or has a 32-hex
 *     channel and formats back (when it names an origin) to an address that
 *     parses to the same channel, key and origin;
 *   - opening a letter with a fixed key returns 0 and a status in the
 *     documented set; a status-0 letter has an author, a type and JSON;
 *   - user data is either refused (BP_EPROTO with a reason) or copied to an
 *     object of known string members only, with a 44-char curvePublic and
 *     a 32-hex notifications (and channel when required). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/contacts.h"
#include "blindpad/err.h"
#include "blindpad/mailbox.h"

static void addr(const char *s)
{
    struct bp_mailbox_addr a, b;
    const char *why = NULL;
    int e = bp_mailbox_addr_parse(s, &a, &why);
    if (e) {
        if (e != BP_EINVAL || !why)
            abort();
        return;
    }
    if (strlen(a.channel) != 32 || strspn(a.channel, "0123456789abcdef") != 32)
        abort();
    if (!a.origin[0])
        return;
    char out[BP_MAILBOX_ADDR_MAX + 600];
    size_t len;
    if (bp_mailbox_addr_format(&a, out, sizeof out, &len) != 0 || len != strlen(out))
        abort();
    if (bp_mailbox_addr_parse(out, &b, &why) != 0 || strcmp(a.channel, b.channel) != 0 ||
        strcmp(a.origin, b.origin) != 0 || memcmp(a.curve_public, b.curve_public, 32) != 0)
        abort();
}

static void letter(const char *s, size_t n)
{
    static const unsigned char sk[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                         17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    struct bp_mailbox_msg m;
    if (bp_mailbox_open(sk, s, n, 0, &m) != 0)
        abort();
    switch (m.status) {
    case 0:
        if (!m.json || !m.author[0] || !m.type[0])
            abort();
        break;
    case BP_EDECRYPT: case BP_EPROTO: case BP_ESIG: case BP_ETOOBIG:
        break;
    default:
        abort();
    }
    bp_mailbox_msg_clear(&m);
}

static bool hex32(const char *s)
{
    return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

static void user_data(const char *s, bool want_channel)
{
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    if (!j)
        return;
    int e = 1;
    const char *why = NULL;
    json_t *c = bp_contacts_user_copy(j, want_channel, &e, &why);
    json_decref(j);
    if (!c) {
        if (e != BP_EPROTO || !why)
            abort();
        return;
    }
    static const char *known[] = {"channel", "displayName", "profile", "edPublic", "curvePublic",
                                  "notifications", "avatar", "badge", "uid"};
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v) {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(k, known[i]) != 0)
            i++;
        if (i == sizeof known / sizeof known[0] || !json_is_string(v))
            abort();
    }
    const char *curve = json_string_value(json_object_get(c, "curvePublic"));
    if (e != 0 || !curve || strlen(curve) != 44 || !hex32(json_string_value(json_object_get(c, "notifications"))) ||
        (want_channel && !hex32(json_string_value(json_object_get(c, "channel")))))
        abort();
    json_decref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16)
        return 0;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] & 2)
        user_data(s, data[0] & 4);
    else if (data[0] & 1)
        letter(s, size - 1);
    else
        addr(s);
    free(s);
    return 0;
}
