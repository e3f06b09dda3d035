/* meta.c: metadata reduction and amendment commands (see meta.h). The command
 * semantics follow CryptPad's lib/metadata.js except where SERVER-API.md §9
 * lists a bug (RESET_ALLOWED is implemented as intended). */
#include "protocol/meta.h"

#include <limits.h>
#include <string.h>

static bool valid_key(const json_t *k)
{
    return json_is_string(k) && json_string_length(k) == 44;
}

static bool array_has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

/* Removes every element equal to s; returns the number removed. */
static int array_remove(json_t *arr, const char *s)
{
    int n = 0;
    for (size_t i = json_array_size(arr); i-- > 0;) {
        json_t *v = json_array_get(arr, i);
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) {
            json_array_remove(arr, i);
            n++;
        }
    }
    return n;
}

static json_t *get_array(json_t *meta, const char *field)
{
    json_t *a = json_object_get(meta, field);
    return json_is_array(a) ? a : NULL;
}

static int add_keys(json_t *meta, const char *field, const json_t *value, bool skip_owners,
                    const char **err, const char *e_invalid, const char *e_nonsense)
{
    if (!json_is_array(value)) {
        *err = e_invalid;
        return -1;
    }
    json_t *arr = json_object_get(meta, field);
    if (arr && !json_is_array(arr)) {
        *err = e_nonsense;
        return -1;
    }
    if (!arr) {
        arr = json_array();
        json_object_set_new(meta, field, arr);
    }
    json_t *owners = get_array(meta, "owners");
    int changed = 0;
    size_t i;
    json_t *k;
    json_array_foreach(value, i, k) {
        if (!valid_key(k) || array_has(arr, json_string_value(k)))
            continue;
        if (skip_owners && owners && array_has(owners, json_string_value(k)))
            continue;
        json_array_append(arr, k);
        changed = 1;
    }
    return changed;
}

static int rm_keys(json_t *meta, const char *field, const json_t *value, const char **err,
                   const char *e_invalid)
{
    if (!json_is_array(value)) {
        *err = e_invalid;
        return -1;
    }
    json_t *arr = get_array(meta, field);
    if (!arr)
        return 0;
    int changed = 0;
    size_t i;
    json_t *k;
    json_array_foreach(value, i, k) if (json_is_string(k)) changed |= array_remove(arr, json_string_value(k)) > 0;
    return changed;
}

/* Owners are never also in "allowed". */
static void drop_owners_from_allowed(json_t *meta)
{
    json_t *owners = get_array(meta, "owners"), *allowed = get_array(meta, "allowed");
    if (!owners || !allowed)
        return;
    size_t i;
    json_t *o;
    json_array_foreach(owners, i, o) if (json_is_string(o)) array_remove(allowed, json_string_value(o));
}

static void unrestrict_if_ownerless(json_t *meta)
{
    json_t *owners = get_array(meta, "owners");
    if (owners && json_array_size(owners) == 0 && json_is_true(json_object_get(meta, "restricted")))
        json_object_set_new(meta, "restricted", json_false());
}

static int set_bool(json_t *meta, const char *field, const json_t *value, const char **err)
{
    const json_t *b = json_is_array(value) ? json_array_get(value, 0) : NULL;
    if (!json_is_boolean(b)) {
        *err = "INVALID_STATE";
        return -1;
    }
    json_t *cur = json_object_get(meta, field);
    if (cur && json_is_boolean(cur) && json_boolean_value(cur) == json_boolean_value(b))
        return 0;
    json_object_set_new(meta, field, json_boolean(json_boolean_value(b)));
    if (strcmp(field, "restricted") == 0 && json_is_true(b) && !get_array(meta, "allowed"))
        json_object_set_new(meta, "allowed", json_array());
    return 1;
}

int meta_apply(json_t *meta, const char *command, const json_t *value, const char **err)
{
    *err = NULL;
    if (!json_is_object(meta)) {
        *err = "INVALID_STATE";
        return -1;
    }
    int rc;
    if (strcmp(command, "ADD_OWNERS") == 0) {
        rc = add_keys(meta, "owners", value, false, err, "METADATA_INVALID_OWNERS", "METADATA_NONSENSE_OWNERS");
        if (rc > 0)
            drop_owners_from_allowed(meta);
        return rc;
    }
    if (strcmp(command, "RM_OWNERS") == 0) {
        if (json_object_get(meta, "owners") && !get_array(meta, "owners")) {
            *err = "METADATA_NONSENSE_OWNERS";
            return -1;
        }
        rc = rm_keys(meta, "owners", value, err, "METADATA_INVALID_OWNERS");
        if (rc < 0)
            return rc;
        json_t *mb = json_object_get(meta, "mailbox");
        size_t i;
        json_t *k;
        if (json_is_string(mb) && rc > 0) {
            json_object_del(meta, "mailbox");
        } else if (json_is_object(mb)) {
            json_array_foreach(value, i, k) if (json_is_string(k) && json_object_get(mb, json_string_value(k))) {
                json_object_del(mb, json_string_value(k));
                rc = 1;
            }
        }
        unrestrict_if_ownerless(meta);
        return rc;
    }
    if (strcmp(command, "RESET_OWNERS") == 0) {
        if (!json_is_array(value)) {
            *err = "METADATA_INVALID_OWNERS";
            return -1;
        }
        json_t *owners = json_array();
        size_t i;
        json_t *k;
        json_array_foreach(value, i, k) if (valid_key(k) && !array_has(owners, json_string_value(k)))
            json_array_append(owners, k);
        json_object_set_new(meta, "owners", owners);
        drop_owners_from_allowed(meta);
        unrestrict_if_ownerless(meta);
        return 1;
    }
    if (strcmp(command, "ADD_PENDING_OWNERS") == 0) {
        if (!json_is_array(value)) {
            *err = "METADATA_INVALID_PENDING_OWNERS";
            return -1;
        }
        json_t *cur = json_object_get(meta, "pending_owners");
        if (!cur) {
            /* The reference takes the first list as is (de-duplicated, unvalidated). */
            json_t *arr = json_array();
            size_t i;
            json_t *k;
            json_array_foreach(value, i, k) if (json_is_string(k) && !array_has(arr, json_string_value(k)))
                json_array_append(arr, k);
            json_object_set_new(meta, "pending_owners", arr);
            return 1;
        }
        return add_keys(meta, "pending_owners", value, false, err, "METADATA_INVALID_PENDING_OWNERS",
                        "METADATA_NONSENSE_PENDING_OWNERS");
    }
    if (strcmp(command, "RM_PENDING_OWNERS") == 0) {
        if (json_object_get(meta, "pending_owners") && !get_array(meta, "pending_owners")) {
            *err = "METADATA_NONSENSE_PENDING_OWNERS";
            return -1;
        }
        return rm_keys(meta, "pending_owners", value, err, "METADATA_INVALID_PENDING_OWNERS");
    }
    if (strcmp(command, "RESTRICT_ACCESS") == 0)
        return set_bool(meta, "restricted", value, err);
    if (strcmp(command, "ALLOW_LINE_DELETION") == 0)
        return set_bool(meta, "deleteLines", value, err);
    if (strcmp(command, "ADD_ALLOWED") == 0)
        return add_keys(meta, "allowed", value, true, err, "INVALID_ARGS", "INVALID_ARGS");
    if (strcmp(command, "RM_ALLOWED") == 0)
        return rm_keys(meta, "allowed", value, err, "INVALID_ARGS");
    if (strcmp(command, "RESET_ALLOWED") == 0) {
        if (!json_is_array(value)) {
            *err = "INVALID_ARGS";
            return -1;
        }
        json_t *owners = get_array(meta, "owners");
        json_t *arr = json_array();
        size_t i;
        json_t *k;
        json_array_foreach(value, i, k) {
            if (!valid_key(k) || array_has(arr, json_string_value(k)))
                continue;
            if (owners && array_has(owners, json_string_value(k)))
                continue;
            json_array_append(arr, k);
        }
        json_object_set_new(meta, "allowed", arr);
        return 1;
    }
    if (strcmp(command, "ADD_MAILBOX") == 0) {
        if (!json_is_object(value)) {
            *err = "METADATA_INVALID_MAILBOX";
            return -1;
        }
        json_t *owners = get_array(meta, "owners");
        if (!owners) {
            *err = "METADATA_NONSENSE_OWNERS";
            return -1;
        }
        json_t *mb = json_object_get(meta, "mailbox");
        if (json_is_string(mb)) {
            json_t *obj = json_object();
            json_t *o0 = json_array_get(owners, 0);
            if (json_is_string(o0))
                json_object_set(obj, json_string_value(o0), mb);
            json_object_set_new(meta, "mailbox", obj);
            mb = obj;
        } else if (!json_is_object(mb)) {
            mb = json_object();
            json_object_set_new(meta, "mailbox", mb);
        }
        int changed = 0;
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)value, key, v) {
            if (!array_has(owners, key))
                continue;
            json_object_set(mb, key, v);
            changed = 1;
        }
        return changed;
    }
    if (strcmp(command, "RM_MAILBOX") == 0) {
        if (!json_is_array(value)) {
            *err = "INVALID_ARGS";
            return -1;
        }
        json_t *mb = json_object_get(meta, "mailbox");
        if (json_is_string(mb)) {
            if (json_array_size(value) == 0) {
                json_object_del(meta, "mailbox");
                return 1;
            }
            return 0;
        }
        if (!json_is_object(mb))
            return 0;
        int changed = 0;
        size_t i;
        json_t *k;
        json_array_foreach(value, i, k) if (json_is_string(k) && json_object_get(mb, json_string_value(k))) {
            json_object_del(mb, json_string_value(k));
            changed = 1;
        }
        return changed;
    }
    if (strcmp(command, "UPDATE_EXPIRATION") == 0) {
        *err = "E_NOT_IMPLEMENTED";
        return -1;
    }
    *err = "UNSUPPORTED_COMMAND";
    return -1;
}

json_t *meta_reduce(const char *log, size_t len, const json_t *legacy)
{
    json_t *state = NULL;
    int fed = 0; /* lines fed so far: the base object must be among the first two */
    const char *p = log, *end = log ? log + len : NULL;
    bool log_starts_with_object = false;
    if (log) {
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\n'))
            q++;
        log_starts_with_object = q < end && *q == '{';
    }
    if (legacy && json_is_object(legacy) && !log_starts_with_object) {
        state = json_deep_copy(legacy);
        fed = 1;
    }
    while (log && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le > p) {
            json_t *v = json_loadb(p, (size_t)(le - p), JSON_DECODE_ANY, NULL);
            if (v) {
                fed++;
                if (json_is_object(v)) {
                    if (!state && fed <= 2) {
                        state = v;
                        v = NULL;
                    }
                } else if (json_is_array(v) && json_is_string(json_array_get(v, 0))) {
                    if (!state)
                        state = json_object();
                    const char *err;
                    meta_apply(state, json_string_value(json_array_get(v, 0)), json_array_get(v, 1), &err);
                }
                json_decref(v);
            }
        }
        p = le + 1;
    }
    return state;
}

bool meta_valid(const json_t *meta)
{
    const json_t *c = json_object_get(meta, "channel");
    return json_is_object(meta) && json_is_string(c) && json_string_length(c) == 32;
}

const char *meta_validate_key(const json_t *meta)
{
    const json_t *k = json_object_get(meta, "validateKey");
    return json_is_string(k) ? json_string_value(k) : NULL;
}

bool meta_restricted(const json_t *meta)
{
    return json_is_true(json_object_get(meta, "restricted"));
}

long long meta_expire(const json_t *meta)
{
    const json_t *e = json_object_get(meta, "expire");
    if (json_is_integer(e))
        return (long long)json_integer_value(e);
    if (json_is_real(e)) {
        /* Clamp before converting: a legacy channel may hold 1e+303, and an
         * out-of-range double -> integer conversion is undefined. */
        double d = json_real_value(e);
        if (!(d == d) || d <= 0)
            return 0;
        if (d >= 9.2e18)
            return LLONG_MAX;
        return (long long)d;
    }
    return 0;
}

bool meta_is_owner(const json_t *meta, const char *key)
{
    const json_t *o = json_object_get(meta, "owners");
    return json_is_array(o) && array_has(o, key);
}

bool meta_allows(const json_t *meta, const char *key)
{
    const json_t *a = json_object_get(meta, "allowed");
    return meta_is_owner(meta, key) || (json_is_array(a) && array_has(a, key));
}
