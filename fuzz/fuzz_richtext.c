/* libFuzzer target: rich text rendering (src/client/richtext.c).
 *
 * Input: a JSON text (the decrypted content of a rich text pad is whatever
 * any writer of the channel put there). Oracles besides "never crash" and
 * bounded recursion: success means the output is NUL-terminated with the
 * reported length, holds no NUL byte (JSON_ALLOW_NUL lets "\u0000" into text
 * nodes: they must not cut the output) and ends with '\n' unless empty; a failure is
 * BP_EPROTO or BP_ETOOBIG and leaves *out NULL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "blindpad/err.h"
#include "blindpad/richtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!doc)
        return 0;
    char *out = (char *)1;
    size_t n = 0;
    int e = bp_richtext_to_text(doc, &out, &n);
    if (e == 0) {
        if (!out || out[n] != '\0' || memchr(out, '\0', n) != NULL)
            abort();
        if (n && out[n - 1] != '\n')
            abort();
        free(out);
    } else if ((e != BP_EPROTO && e != BP_ETOOBIG) || out != NULL) {
        abort();
    }
    json_decref(doc);
    return 0;
}
