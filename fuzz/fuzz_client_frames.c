/* fuzz_client_frames.c: the client connection's parsers (src/client/cnet.h):
 * Netflux frames (nfc_parse), history keeper messages (nfc_hk_parse,
 * nfc_hist_msg), RPC replies (rpcc_reply, signed and anonymous), HTTP
 * responses (cnet_http_parse_response, chunked included, GET and HEAD) and
 * URLs (cnet_url_parse).
 *
 * The first byte selects the parser; the rest is its input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/cnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0] % 5;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    switch (sel) {
    case 0: {
        struct nfc_frame f;
        if (nfc_parse(p, n, &f) == 0)
            nfc_frame_free(&f);
        break;
    }
    case 1: {
        struct nfc_hk h;
        if (nfc_hk_parse(p, n, &h) == 0) {
            struct bp_hist_msg m;
            if (h.kind == NFC_HK_ARRAY)
                (void)nfc_hist_msg(h.root, &m);
            char *v, *c, *e;
            for (int s = 0; s < 2; s++) {
                if (rpcc_reply(h.root, s, &v, &c, &e) == 0) {
                    free(v);
                    free(c);
                } else {
                    free(e);
                }
            }
            nfc_hk_free(&h);
        }
        break;
    }
    case 2:
    case 3: {
        struct bp_http_resp *r = NULL;
        if (cnet_http_parse_response(p, n, sel == 3, 1 << 20, &r) == 0)
            bp_http_resp_free(r);
        break;
    }
    case 4: {
        char *s = malloc(n + 1);
        if (!s)
            return 0;
        memcpy(s, p, n);
        s[n] = '\0';
        struct cnet_url u;
        (void)cnet_url_parse(s, &u);
        free(s);
        break;
    }
    }
    return 0;
}
