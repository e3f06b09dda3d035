/* meta.c: owners and access lists over GET_METADATA / SET_METADATA
 * (blindpad/meta.h; SERVER-API.md §2.2, §2.6, §1.7).
 *
 * Parsing (bp_meta_parse) and building the SET_METADATA argument
 * (bp_meta_change_json) are pure; bp_meta_get / bp_meta_set add the RPCs on
 * a blocking client. Errors from the server are mapped here; their text
 * stays in bp_client_error(). */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <blindpad/meta.h>

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

void bp_meta_free(struct bp_meta *m)
{
    if (!m)
        return;
    free_list(m->owners, m->n_owners);
    free_list(m->pending_owners, m->n_pending);
    free_list(m->allowed, m->n_allowed);
    free(m->json);
    free(m);
}

/* The strings of array member name of o into *list (absent or not an array:
 * an empty list). */
static int take_list(const json_t *o, const char *name, char ***list, size_t *n)
{
    *list = NULL;
    *n = 0;
    const json_t *a = json_object_get(o, name);
    if (!json_is_array(a) || json_array_size(a) == 0)
        return 0;
    if (json_array_size(a) > BP_META_MAX_KEYS)
        return BP_ETOOBIG;
    char **l = calloc(json_array_size(a), sizeof *l);
    if (!l)
        return BP_ENOMEM;
    size_t i, k = 0;
    const json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v))
            continue;
        if (!(l[k] = strdup(json_string_value(v)))) {
            free_list(l, k);
            return BP_ENOMEM;
        }
        k++;
    }
    *list = l;
    *n = k;
    return 0;
}

static int64_t num_of(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    return 0;
}

int bp_meta_parse(const char *json, size_t len, struct bp_meta **out)
{
    if (!out)
        return BP_EINVAL;
    *out = NULL;
    if (!json)
        return BP_EINVAL;
    if (len > BP_META_MAX_JSON)
        return BP_ETOOBIG;
    json_t *o = json_loadb(json, len, JSON_DECODE_ANY, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return BP_EPROTO;
    }
    struct bp_meta *m = calloc(1, sizeof *m);
    int r = m ? 0 : BP_ENOMEM;
    if (!r && !(m->json = malloc(len + 1)))
        r = BP_ENOMEM;
    if (!r) {
        memcpy(m->json, json, len);
        m->json[len] = '\0';
        r = take_list(o, "owners", &m->owners, &m->n_owners);
    }
    if (!r)
        r = take_list(o, "pending_owners", &m->pending_owners, &m->n_pending);
    if (!r)
        r = take_list(o, "allowed", &m->allowed, &m->n_allowed);
    if (r) {
        json_decref(o);
        bp_meta_free(m);
        return r;
    }
    m->restricted = json_is_true(json_object_get(o, "restricted"));
    m->rejected = json_is_true(json_object_get(o, "rejected"));
    m->empty = json_object_size(o) == 0;
    m->expire = num_of(o, "expire");
    m->created = num_of(o, "created");
    json_decref(o);
    *out = m;
    return 0;
}

static bool in_list(char *const *l, size_t n, const char *key)
{
    if (!key)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i], key) == 0)
            return true;
    return false;
}

bool bp_meta_is_owner(const struct bp_meta *m, const char *key)
{
    return m && in_list(m->owners, m->n_owners, key);
}

bool bp_meta_is_pending(const struct bp_meta *m, const char *key)
{
    return m && in_list(m->pending_owners, m->n_pending, key);
}

bool bp_meta_may_open(const struct bp_meta *m, const char *key)
{
    if (!m)
        return false;
    if (!m->restricted)
        return true;
    return in_list(m->owners, m->n_owners, key) || in_list(m->allowed, m->n_allowed, key);
}

bool bp_meta_key_valid(const char *s)
{
    if (!s || strlen(s) != BP_META_KEY_LEN)
        return false;
    uint8_t pk[32];
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(pk, sizeof pk, s, BP_META_KEY_LEN, NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    return n == 32 && end == s + BP_META_KEY_LEN;
}

void bp_meta_key_of(const uint8_t pk[32], char out[BP_META_KEY_LEN + 1])
{
    sodium_bin2base64(out, BP_META_KEY_LEN + 1, pk, 32, sodium_base64_VARIANT_ORIGINAL);
}

const char *bp_meta_cmd_name(enum bp_meta_cmd cmd)
{
    switch (cmd) {
    case BP_META_ADD_OWNERS: return "ADD_OWNERS";
    case BP_META_RM_OWNERS: return "RM_OWNERS";
    case BP_META_RESET_OWNERS: return "RESET_OWNERS";
    case BP_META_ADD_PENDING_OWNERS: return "ADD_PENDING_OWNERS";
    case BP_META_RM_PENDING_OWNERS: return "RM_PENDING_OWNERS";
    case BP_META_ADD_ALLOWED: return "ADD_ALLOWED";
    case BP_META_RM_ALLOWED: return "RM_ALLOWED";
    case BP_META_RESTRICT_ACCESS: return "RESTRICT_ACCESS";
    }
    return NULL;
}

/* 32 (document) or 48 (file) lowercase hex. */
static bool chan_valid(const char *c)
{
    if (!c)
        return false;
    size_t n = strlen(c);
    if (n != 32 && n != 48)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'f')))
            return false;
    return true;
}

int bp_meta_change_json(const char *channel, const struct bp_meta_change *ch, char **out)
{
    if (!out)
        return BP_EINVAL;
    *out = NULL;
    if (!ch || !chan_valid(channel))
        return BP_EINVAL;
    const char *name = bp_meta_cmd_name(ch->cmd);
    if (!name)
        return BP_EINVAL;
    json_t *value = json_array();
    if (!value)
        return BP_ENOMEM;
    if (ch->cmd == BP_META_RESTRICT_ACCESS) {
        json_array_append_new(value, json_boolean(ch->flag));
    } else {
        /* RESET_OWNERS with no key would leave the channel without owners:
         * refused here (nobody could change it back). */
        if (!ch->n_keys || !ch->keys || ch->n_keys > BP_META_MAX_KEYS) {
            json_decref(value);
            return BP_EINVAL;
        }
        for (size_t i = 0; i < ch->n_keys; i++) {
            if (!bp_meta_key_valid(ch->keys[i])) {
                json_decref(value);
                return BP_EINVAL;
            }
            json_array_append_new(value, json_string(ch->keys[i]));
        }
    }
    /* Key order as CryptPad's client sends it (channel, command, value). */
    json_t *o = json_pack("{s:s, s:s, s:o}", "channel", channel, "command", name, "value", value);
    if (!o)
        return BP_ENOMEM;
    *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return *out ? 0 : BP_ENOMEM;
}

/* The first value of an RPC reply array, parsed as metadata. */
static int meta_of_reply(const char *reply, struct bp_meta **out)
{
    json_t *a = json_loads(reply, JSON_DECODE_ANY, NULL);
    json_t *v = json_is_array(a) ? json_array_get(a, 0) : NULL;
    if (!json_is_object(v)) {
        json_decref(a);
        return BP_EPROTO;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(a);
    if (!s)
        return BP_ENOMEM;
    int r = bp_meta_parse(s, strlen(s), out);
    free(s);
    return r;
}

/* The first value of an anonymous RPC's reply (JSON text of [value]). */
static json_t *first_value(const char *reply)
{
    json_t *a = json_loads(reply, JSON_DECODE_ANY, NULL);
    json_t *v = json_is_array(a) ? json_incref(json_array_get(a, 0)) : NULL;
    json_decref(a);
    return v;
}

/* Is there anything at channel (no metadata at all)? 0 = yes, BP_ENOENT or
 * BP_EDELETED = no, else an error. */
static int exists(struct bp_client *cl, const char *channel)
{
    char arg[64], *reply = NULL;
    snprintf(arg, sizeof arg, "\"%s\"", channel);
    bool blob = strlen(channel) == 48;
    int r = bp_client_rpc(cl, NULL, blob ? "GET_FILE_SIZE" : "IS_NEW_CHANNEL", arg, &reply);
    if (r)
        return r;
    json_t *v = first_value(reply);
    free(reply);
    if (blob) {
        r = json_is_number(v) && json_number_value(v) > 0 ? 0 : BP_ENOENT;
    } else if (json_is_object(v)) {
        if (json_is_true(json_object_get(v, "isNew")))
            r = json_is_string(json_object_get(v, "reason")) ? BP_EDELETED : BP_ENOENT;
        else
            r = 0;
    } else {
        r = BP_EPROTO;
    }
    json_decref(v);
    return r;
}

int bp_meta_get(struct bp_client *cl, const struct bp_sign_key *auth, const char *channel,
                struct bp_meta **out)
{
    if (!out)
        return BP_EINVAL;
    *out = NULL;
    if (!cl || !chan_valid(channel) || (auth && (!auth->pk || !auth->sk)))
        return BP_EINVAL;
    char *reply = NULL;
    int r;
    if (auth) {
        /* Any signed RPC authenticates this connection for auth's key (§1.7). */
        if ((r = bp_client_rpc(cl, auth, "COOKIE", NULL, &reply)))
            return r;
        free(reply);
        reply = NULL;
    }
    char arg[64];
    snprintf(arg, sizeof arg, "\"%s\"", channel);
    r = bp_client_rpc(cl, NULL, "GET_METADATA", arg, &reply);
    if (r == BP_ESERVER) {
        /* A deleted document answers with its placeholder text (the reason,
         * e.g. "ARCHIVE_OWNED"); the id errors cannot happen (checked above). */
        const char *e = bp_client_error(cl);
        if (strcmp(e, "INVALID_CHAN") && strcmp(e, "INVALID_ID") &&
            strcmp(e, "INVALID_CHAN_LENGTH"))
            return BP_EDELETED;
        return BP_ESERVER;
    }
    if (r)
        return r;
    struct bp_meta *m = NULL;
    r = meta_of_reply(reply, &m);
    free(reply);
    if (r)
        return r;
    if (m->empty && (r = exists(cl, channel))) {
        bp_meta_free(m);
        return r;
    }
    *out = m;
    return 0;
}

int bp_meta_set(struct bp_client *cl, const struct bp_sign_key *key, const char *channel,
                const struct bp_meta_change *ch, struct bp_meta **out)
{
    if (out)
        *out = NULL;
    if (!cl || !key || !key->pk || !key->sk)
        return BP_EINVAL;
    char *arg = NULL, *reply = NULL;
    int r = bp_meta_change_json(channel, ch, &arg);
    if (r)
        return r;
    r = bp_client_rpc(cl, key, "SET_METADATA", arg, &reply);
    free(arg);
    if (r == BP_ESERVER) {
        const char *e = bp_client_error(cl);
        if (!strcmp(e, "INSUFFICIENT_PERMISSIONS") || !strcmp(e, "E_NO_OWNERS"))
            return BP_EFORBIDDEN;
        if (!strncmp(e, "Error: ", 7) || !strcmp(e, "INVALID_CHAN") ||
            !strcmp(e, "INVALID_COMMAND") || !strcmp(e, "UNSUPPORTED_COMMAND"))
            return BP_EINVAL;
        return BP_ESERVER;
    }
    if (r)
        return r;
    if (out)
        r = meta_of_reply(reply, out);
    free(reply);
    return r;
}
