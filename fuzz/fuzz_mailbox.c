/* libFuzzer target: the mailbox parsers (src/client/mailbox.c).
 *
 * Input: byte 0 chooses the parser (even: a contact address, odd: a letter),
 * the rest is the text. Oracles besides "never crash":
 *   - an address either fails with BP_EINVAL and a reason, or has a 32-hex
 *     channel and formats back (when it names an origin) to an address that
 *     parses to the same channel, key and origin;
 *   - opening a letter with a fixed key returns 0 and a status in the
 *     documented set; a status-0 letter has an author, a type and JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    if (data[0] & 1)
        letter(s, size - 1);
    else
        addr(s);
    free(s);
    return 0;
}
