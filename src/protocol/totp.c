/* totp.c: see totp.h. */
#include "protocol/totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char B32_ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static int b32_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int totp_base32_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    *outlen = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '=')
            break;
        int v = b32_value(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* What is left must be fewer than 5 bits, all zero: anything else is not
     * the encoding of a whole number of bytes. */
    if (bits >= 5 || acc != 0)
        return -1;
    *outlen = n;
    return 0;
}

size_t totp_base32_encode(const uint8_t *in, size_t n, char *out)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = B32_ALPHABET[(acc >> bits) & 31];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0)
        out[o++] = B32_ALPHABET[(acc << (5 - bits)) & 31];
    out[o] = '\0';
    return o;
}

long totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, unsigned digits)
{
    if (digits < 1 || digits > 9 || keylen > 1024)
        return -1;
    uint8_t msg[8];
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    if (!HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof msg, mac, &maclen) || maclen != 20)
        return -1;
    unsigned off = mac[19] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
    uint32_t mod = 1;
    for (unsigned i = 0; i < digits; i++)
        mod *= 10;
    return (long)(bin % mod);
}

bool totp_code_format_ok(const char *code, size_t len)
{
    if (len != TOTP_DIGITS)
        return false;
    for (size_t i = 0; i < len; i++)
        if (code[i] < '0' || code[i] > '9')
            return false;
    return true;
}

bool totp_check(const uint8_t *key, size_t keylen, const char *code, size_t codelen, int64_t now_s)
{
    if (!totp_code_format_ok(code, codelen) || now_s < TOTP_STEP)
        return false;
    uint64_t t = (uint64_t)now_s / TOTP_STEP;
    bool ok = false;
    for (uint64_t c = t - 1; c <= t + 1; c++) {
        long v = totp_hotp(key, keylen, c, TOTP_DIGITS);
        if (v < 0)
            return false;
        char want[TOTP_DIGITS];
        for (int i = TOTP_DIGITS - 1; i >= 0; i--) {
            want[i] = (char)('0' + v % 10);
            v /= 10;
        }
        unsigned diff = 0;
        for (int i = 0; i < TOTP_DIGITS; i++)
            diff |= (unsigned)(want[i] ^ code[i]);
        ok |= diff == 0;
    }
    return ok;
}
