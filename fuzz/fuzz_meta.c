/* libFuzzer target: metadata parsing (src/client/meta.c bp_meta_parse) and
 * the SET_METADATA argument builder.
 *
 * Input: the bytes are a metadata object as a server would send it. Oracles
 * besides "never crash / no leak":
 *   - a failure leaves *out NULL and is BP_EPROTO or BP_ETOOBIG;
 *   - a parsed object's lists hold NUL-terminated strings, rejected/empty
 *     are consistent with the text, m->json is the input;
 *   - every owner and allowed key that passes bp_meta_key_valid goes into a
 *     SET_METADATA argument that parses back as JSON with the same key. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/meta.h"

#define CHAN "0123456789abcdef0123456789abcdef"

static void check_keys(char *const *l, size_t n, enum bp_meta_cmd cmd)
{
    for (size_t i = 0; i < n; i++) {
        if (!l[i])
            abort();
        if (!bp_meta_key_valid(l[i]))
            continue;
        const char *k[1] = {l[i]};
        struct bp_meta_change ch = {.cmd = cmd, .keys = k, .n_keys = 1};
        char *s = NULL;
        if (bp_meta_change_json(CHAN, &ch, &s) != 0)
            abort();
        json_t *j = json_loads(s, 0, NULL);
        json_t *v = json_array_get(json_object_get(j, "value"), 0);
        if (!json_is_string(v) || strcmp(json_string_value(v), l[i]) != 0)
            abort();
        json_decref(j);
        free(s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bp_meta *m = (struct bp_meta *)1;
    int rc = bp_meta_parse((const char *)data, size, &m);
    if (rc != 0) {
        if (m != NULL || (rc != BP_EPROTO && rc != BP_ETOOBIG))
            abort();
        return 0;
    }
    if (memcmp(m->json, data, size) != 0 || m->json[size] != '\0')
        abort();
    if (m->empty && (m->n_owners || m->n_allowed || m->n_pending || m->restricted || m->rejected))
        abort();
    check_keys(m->owners, m->n_owners, BP_META_ADD_OWNERS);
    check_keys(m->pending_owners, m->n_pending, BP_META_RM_PENDING_OWNERS);
    check_keys(m->allowed, m->n_allowed, BP_META_ADD_ALLOWED);
    for (size_t i = 0; i < m->n_owners; i++)
        if (!bp_meta_is_owner(m, m->owners[i]) || !bp_meta_may_open(m, m->owners[i]))
            abort();
    bp_meta_free(m);
    return 0;
}
