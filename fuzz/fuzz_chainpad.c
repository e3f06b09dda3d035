/* fuzz_chainpad: the ChainPad engine (src/client/chainpad*.c).
 *
 * Input byte 0 picks the mode:
 *   even: reader. The rest is split on NUL bytes into message strings fed to
 *         one engine (flags from byte 0). Oracles: never crash; after every
 *         message that lands on the chain, the content hash the engine
 *         reports equals H() of the content it returns (UTF-16 round trip),
 *         the head is the last element of the chain, and a message's
 *         re-serialization hashes to the same value.
 *   odd:  writers. The rest is an edit script for two writers A and B and a
 *         reader R sharing a simulated server (concurrent sends, acks, rebases).
 *         Oracle: after everything is delivered, A, B and R have the same
 *         head and content, and the writers have nothing left to send. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "blindpad/chainpad.h"

static void check_hash(const bp_chainpad *cp)
{
    char *c;
    size_t l;
    if (bp_chainpad_content(cp, &c, &l) != 0)
        abort();
    char h1[65], h2[65];
    bp_chainpad_content_hash(cp, h1);
    if (bp_chainpad_hash(c, l, h2) != 0 || strcmp(h1, h2) != 0)
        abort();
    free(c);
    char *chain;
    size_t n;
    if (bp_chainpad_chain(cp, &chain, &n) != 0 || n == 0)
        abort();
    bp_chainpad_head(cp, h1);
    if (strcmp(chain + 65 * (n - 1), h1) != 0)
        abort();
    free(chain);
}

static void reader(const uint8_t *d, size_t n, unsigned flags)
{
    bp_chainpad *cp;
    if (bp_chainpad_new(&cp, flags) != 0)
        abort();
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && d[j] != 0)
            j++;
        int st = bp_chainpad_receive(cp, (const char *)d + i, j - i);
        if (st < 0)
            abort();
        if (st == BP_CHAINPAD_CHAIN)
            check_hash(cp);
        char h[65];
        if (st != BP_CHAINPAD_UNPARSABLE && bp_chainpad_message_hash((const char *)d + i, j - i, h) != 0)
            abort();
        i = j + 1;
    }
    bp_chainpad_free(cp);
}

/* ---- writers -------------------------------------------------------------- */

struct sim {
    bp_chainpad *a, *b, *r;
    char *pa, *pb; /* messages made and not yet stored by the server */
    size_t la, lb;
};

static const char *const pieces[] = {"a", "b", "\n", " ", "\xc3\xa9", "\xf0\x9f\x98\x80", "\"", "\\", "xyz", "\xe6\x97\xa5"};

static void edit(bp_chainpad *cp, uint8_t x, uint8_t y)
{
    char *c;
    size_t l;
    if (bp_chainpad_user_content(cp, &c, &l) != 0)
        abort();
    size_t pos = l ? (size_t)y * 7919 % (l + 1) : 0;
    while (pos < l && ((unsigned char)c[pos] & 0xC0) == 0x80)
        pos++;
    size_t del = x & 0x20 ? (x & 7) : 0;
    size_t end = pos;
    for (size_t k = 0; k < del && end < l; k++) {
        end++;
        while (end < l && ((unsigned char)c[end] & 0xC0) == 0x80)
            end++;
    }
    const char *ins = (x & 0x40) ? "" : pieces[(x >> 1) % 10];
    size_t il = strlen(ins);
    char *nc = malloc(l - (end - pos) + il + 1);
    memcpy(nc, c, pos);
    memcpy(nc + pos, ins, il);
    memcpy(nc + pos + il, c + end, l - end);
    size_t nl = l - (end - pos) + il;
    if (bp_chainpad_set_content(cp, nc, nl) != 0)
        abort();
    free(c);
    free(nc);
}

static void make(bp_chainpad *cp, char **p, size_t *l)
{
    if (*p)
        return;
    int rc = bp_chainpad_make_message(cp, p, l, NULL);
    if (rc != 0)
        abort();
}

/* The server stores the message: its author gets the ACK, the others it. */
static void deliver(struct sim *s, int from_a)
{
    char **p = from_a ? &s->pa : &s->pb;
    size_t l = from_a ? s->la : s->lb;
    if (!*p)
        return;
    if (bp_chainpad_ack(from_a ? s->a : s->b) < 0)
        abort();
    if (bp_chainpad_receive(from_a ? s->b : s->a, *p, l) < 0)
        abort();
    if (bp_chainpad_receive(s->r, *p, l) < 0)
        abort();
    free(*p);
    *p = NULL;
}

static void writers(const uint8_t *d, size_t n, unsigned flags)
{
    struct sim s = {0};
    if (bp_chainpad_new(&s.a, flags) || bp_chainpad_new(&s.b, flags) || bp_chainpad_new(&s.r, flags))
        abort();
    if (flags) { /* JSON engines: edit a string inside an object */
        json_t *v = json_pack("{s:s}", "content", "");
        bp_chainpad_set_json(s.a, v);
        json_decref(v);
    }
    for (size_t i = 0; i + 2 < n && i < 3 * 200; i += 3) {
        switch (d[i] % 6) {
        case 0:
            if (!flags)
                edit(s.a, d[i + 1], d[i + 2]);
            else {
                json_t *v = json_pack("{s:s,s:i}", "content", pieces[d[i + 1] % 10], "n", d[i + 2]);
                bp_chainpad_set_json(s.a, v);
                json_decref(v);
            }
            break;
        case 1:
            if (!flags)
                edit(s.b, d[i + 1], d[i + 2]);
            else {
                json_t *v = NULL;
                if (bp_chainpad_get_json(s.b, &v) == 0 && json_is_object(v)) {
                    json_object_set_new(v, pieces[d[i + 1] % 10], json_integer(d[i + 2]));
                    bp_chainpad_set_json(s.b, v);
                }
                json_decref(v);
            }
            break;
        case 2: make(s.a, &s.pa, &s.la); break;
        case 3: make(s.b, &s.pb, &s.lb); break;
        case 4: deliver(&s, 1); break;
        case 5: deliver(&s, 0); break;
        }
    }
    /* flush: every writer sends what it has left until nobody has anything */
    for (int round = 0; round < 200; round++) {
        deliver(&s, 1);
        deliver(&s, 0);
        make(s.a, &s.pa, &s.la);
        make(s.b, &s.pb, &s.lb);
        if (!s.pa && !s.pb)
            break;
    }
    if (s.pa || s.pb)
        abort(); /* the writers do not settle */
    char ha[65], hb[65], hr[65];
    bp_chainpad_head(s.a, ha);
    bp_chainpad_head(s.b, hb);
    bp_chainpad_head(s.r, hr);
    if (strcmp(ha, hb) || strcmp(ha, hr))
        abort();
    char *ca, *cb, *cr;
    bp_chainpad_content(s.a, &ca, NULL);
    bp_chainpad_content(s.b, &cb, NULL);
    bp_chainpad_content(s.r, &cr, NULL);
    if (strcmp(ca, cb) || strcmp(ca, cr))
        abort();
    check_hash(s.r);
    free(ca);
    free(cb);
    free(cr);
    bp_chainpad_free(s.a);
    bp_chainpad_free(s.b);
    bp_chainpad_free(s.r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        if (sodium_init() < 0)
            abort();
        init = 1;
    }
    if (size < 1)
        return 0;
    unsigned flags = (data[0] >> 1) % 3; /* 0 text, 1 JSON, 2 listmap */
    if (data[0] & 1)
        writers(data + 1, size - 1, flags);
    else
        reader(data + 1, size - 1, flags);
    return 0;
}
