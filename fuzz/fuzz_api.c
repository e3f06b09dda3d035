/* fuzz_api: the pure parsers of the server API's stored formats.
 * The first input byte picks the target; the rest is its input.
 *   0: pin logs (pinlog.c): every line fed to the reducer. Oracles: the set
 *      never holds an empty id; pinlog_hash() equals pinlog_hash_list() over
 *      pinlog_sorted() (the same set, sorted in UTF-16 order, each id once),
 *      and that order is strictly increasing.
 *   1: decree logs (decree.c): replayed over fresh settings, then canonical
 *      key parsing of the same bytes. Oracle: a canonicalised key is 44 chars
 *      (and nothing leaks or crashes under ASan).
 *   2: base32 (totp.c). Oracle: whatever decodes re-encodes to the same
 *      letters (upper-cased, up to the first '='). */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/totp.h"
#include "server/decree.h"
#include "server/settings.h"
#include "storage/pinlog.h"

static void fuzz_pinlog(const char *d, size_t n)
{
    struct pinlog p;
    pinlog_init(&p);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || d[i] == '\n') {
            pinlog_feed(&p, d + start, i - start);
            start = i + 1;
        }
    }
    const struct pinlog_id **ids = NULL;
    size_t k = pinlog_sorted(&p, &ids);
    if (k != pinlog_count(&p))
        abort();
    const char **strs = calloc(k ? k : 1, sizeof *strs);
    for (size_t i = 0; i < k; i++) {
        strs[i] = ids[i]->id;
        if (!ids[i]->id[0])
            abort();
        if (i && pinlog_utf16_cmp(ids[i - 1]->id, strlen(ids[i - 1]->id), ids[i]->id, strlen(ids[i]->id)) >= 0)
            abort();
    }
    char h1[PINLOG_HASH_LEN + 1], h2[PINLOG_HASH_LEN + 1];
    pinlog_hash(&p, h1);
    pinlog_hash_list(strs, k, h2);
    if (strcmp(h1, h2) != 0)
        abort();
    free(strs);
    free(ids);
    pinlog_free(&p);
}

static void fuzz_decree(const char *d, size_t n)
{
    struct settings st;
    memset(&st, 0, sizeof st);
    st.admins = json_array();
    st.moderators = json_array();
    st.limits = json_object();
    st.broadcast_extra = json_object();
    st.instance = json_object();
    st.config_extra = json_object();
    st.extra = json_object();
    st.default_limit = 52428800;
    st.max_upload = 20971520;
    size_t bad = 0;
    decree_replay(&st, "", d, n, &bad);
    json_decref(st.admins);
    json_decref(st.moderators);
    json_decref(st.limits);
    json_decref(st.broadcast_extra);
    json_decref(st.instance);
    json_decref(st.config_extra);
    json_decref(st.extra);
    char key[45];
    char *name = NULL;
    /* Like the reference's canonicalize, any 44 chars pass as a key; the
     * other forms yield the 44 chars they carry. */
    if (decree_canon_key(d, n, key, &name) == 0 && strlen(key) != 44)
        abort();
    free(name);
}

static void fuzz_base32(const char *d, size_t n)
{
    uint8_t out[512];
    size_t olen = 0;
    if (totp_base32_decode(d, n, out, sizeof out, &olen) != 0)
        return;
    size_t letters = 0;
    while (letters < n && d[letters] != '=')
        letters++;
    char enc[1024];
    size_t elen = totp_base32_encode(out, olen, enc);
    if (elen != letters)
        abort();
    for (size_t i = 0; i < letters; i++)
        if (toupper((unsigned char)d[i]) != enc[i])
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        log_set_level(LOG_LEVEL_ERROR);
        once = 1;
    }
    if (size < 1)
        return 0;
    const char *d = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0: fuzz_pinlog(d, n); break;
    case 1: fuzz_decree(d, n); break;
    default: if (n <= 600) fuzz_base32(d, n); break;
    }
    return 0;
}
