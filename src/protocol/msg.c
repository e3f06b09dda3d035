/* msg.c: message hash, checkpoint prefix and signature check (see msg.h). */
#include "protocol/msg.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

size_t msg_hash_len(const char *content, size_t len)
{
    const unsigned char *s = (const unsigned char *)content;
    size_t i = 0, units = 0;
    while (i < len && units < MSG_HASH_CHARS) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        size_t u = n == 4 ? 2 : 1; /* code points above U+FFFF take two UTF-16 units */
        if (units + u > MSG_HASH_CHARS || i + n > len)
            break;
        units += u;
        i += n;
    }
    return i;
}

static bool cp_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

bool msg_checkpoint(const char *content, size_t len, size_t *prefix_len, const char **id,
                    size_t *id_len)
{
    *prefix_len = 0;
    *id = NULL;
    *id_len = 0;
    if (len < 3 || memcmp(content, "cp|", 3) != 0)
        return false;
    size_t i = 3;
    while (i < len && cp_id_char(content[i]))
        i++;
    if (i > 3 && i < len && content[i] == '|') {
        *id = content + 3;
        *id_len = i - 3;
        *prefix_len = i + 1;
    } else {
        *prefix_len = 3;
    }
    return true;
}

int msg_b64decode(const char *b64, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    /* Accept missing padding, as the reference does: strip '=' and decode the
     * unpadded form, which libsodium checks strictly (no stray characters). */
    size_t n = len;
    while (n > 0 && b64[n - 1] == '=' && len - n < 2)
        n--;
    if (n % 4 == 1)
        return BP_EINVAL;
    size_t bin_len = 0;
    if (sodium_base642bin(out, cap, b64, n, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0)
        return BP_EINVAL;
    *out_len = bin_len;
    return 0;
}

int msg_key32(const char *b64, size_t len, uint8_t out[32])
{
    uint8_t tmp[48];
    size_t n = 0;
    if (len > 64 || msg_b64decode(b64, len, tmp, sizeof tmp, &n) != 0 || n != 32)
        return BP_EINVAL;
    memcpy(out, tmp, 32);
    return 0;
}

int msg_verify(const uint8_t key[32], const char *content, size_t len)
{
    size_t pre, idl;
    const char *id;
    msg_checkpoint(content, len, &pre, &id, &idl);
    content += pre;
    len -= pre;
    size_t cap = len / 4 * 3 + 3;
    uint8_t stackbuf[4096];
    uint8_t *bin = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!bin)
        return BP_ESIG;
    size_t n = 0;
    int rc = BP_ESIG;
    if (msg_b64decode(content, len, bin, cap, &n) == 0 && n >= crypto_sign_BYTES &&
        crypto_sign_verify_detached(bin, bin + crypto_sign_BYTES, n - crypto_sign_BYTES, key) == 0)
        rc = 0;
    if (bin != stackbuf)
        free(bin);
    return rc;
}
