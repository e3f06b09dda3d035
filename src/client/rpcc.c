/* rpcc.c: RPC envelopes and replies, client side (SERVER-API.md §1.3, §1.5,
 * §1.8). Pure functions; the request bookkeeping (txids, cookies, the
 * NO_COOKIE retry) is in nfc.c.
 *
 * What is signed: the UTF-8 bytes of JSON.stringify([cookie, COMMAND, arg]).
 * We produce that text with jsonw (JSON.stringify-exact) and embed the very
 * same bytes in the envelope, so a server that takes the raw slice (ours)
 * and one that re-serialises (the reference) both verify it. */
#include "client/cnet.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "protocol/rawjson.h"

int rpcc_build(struct buf *out, const char *txid, const struct bp_sign_key *key,
               const char *cookie, const char *cmd, const char *arg_json)
{
    if (!txid || !cmd || (key && (!key->pk || !key->sk)))
        return BP_EINVAL;
    json_t *arg = NULL;
    if (arg_json) {
        arg = rawjson_load(arg_json, strlen(arg_json));
        if (!arg)
            return BP_EINVAL;
    }
    struct buf inner = BUF_INIT; /* [cookie,cmd,arg] or [cmd,arg] */
    buf_appendc(&inner, '[');
    if (key) {
        if (cookie)
            jsonw_cstr(&inner, cookie);
        else
            buf_appends(&inner, "null");
        buf_appendc(&inner, ',');
    }
    jsonw_cstr(&inner, cmd);
    buf_appendc(&inner, ',');
    jsonw_value(&inner, arg); /* NULL -> null */
    buf_appendc(&inner, ']');
    json_decref(arg);

    buf_appendc(out, '[');
    jsonw_cstr(out, txid);
    buf_appendc(out, ',');
    if (!key) {
        buf_append(out, inner.data, inner.len);
    } else {
        uint8_t sig[crypto_sign_BYTES];
        crypto_sign_detached(sig, NULL, (const uint8_t *)inner.data, inner.len, key->sk);
        char sig64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        char pk64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
        sodium_bin2base64(pk64, sizeof(pk64), key->pk, 32, sodium_base64_VARIANT_ORIGINAL);
        buf_appendf(out, "[\"%s\",\"%s\",", sig64, pk64);
        buf_append(out, inner.data + 1, inner.len - 1); /* cookie,cmd,arg] */
    }
    buf_appendc(out, ']');
    buf_free(&inner);
    return 0;
}

static char *dup_json(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return jsonw_dump(v, NULL);
}

int rpcc_reply(json_t *arr, bool is_signed, char **values, char **cookie, char **err)
{
    *values = NULL;
    if (cookie)
        *cookie = NULL;
    if (err)
        *err = NULL;
    if (!json_is_array(arr) || json_array_size(arr) < 2 || !json_is_string(json_array_get(arr, 0)))
        return BP_EPROTO;
    json_t *e1 = json_array_get(arr, 1);
    if (json_is_string(e1) && strcmp(json_string_value(e1), "ERROR") == 0) {
        json_t *e = json_array_get(arr, 2);
        if (err) {
            *err = e ? dup_json(e) : strdup("ERROR");
            if (!*err)
                return BP_ENOMEM;
        }
        return BP_ESERVER;
    }
    size_t n = json_array_size(arr);
    json_t *vals = json_array();
    if (!vals)
        return BP_ENOMEM;
    if (!is_signed) {
        /* [txid, null, value, null]: the value is element 2. */
        json_array_append(vals, n > 2 ? json_array_get(arr, 2) : json_null());
    } else {
        if (cookie && json_is_string(e1) && strchr(json_string_value(e1), '|')) {
            *cookie = strdup(json_string_value(e1));
            if (!*cookie) {
                json_decref(vals);
                return BP_ENOMEM;
            }
        }
        for (size_t i = 2; i < n; i++)
            json_array_append(vals, json_array_get(arr, i));
    }
    *values = jsonw_dump(vals, NULL);
    json_decref(vals);
    return 0;
}
