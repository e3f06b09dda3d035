/* decree.c: admin decrees applied to struct settings (see decree.h).
 *
 * Which setting each decree changes:
 *   - fields of struct settings: ADD_ADMIN_KEY, RM_ADMIN_KEY (admins,
 *     admins_data), ADD_INSTALL_TOKEN, RESTRICT_REGISTRATION, ENABLE_EMBEDDING,
 *     DISABLE_INTEGRATED_EVICTION (eviction = !value), UPDATE_DEFAULT_STORAGE,
 *     SET_MAX_UPLOAD_SIZE, SET_PREMIUM_UPLOAD_SIZE, SET_INACTIVE_TIME,
 *     SET_ARCHIVE_RETENTION_TIME, SET_ACCOUNT_RETENTION_TIME,
 *     SET_LAST_BROADCAST_HASH, SET_QUOTA and RM_QUOTA (limits);
 *   - /api/broadcast extras (broadcast_extra): SET_SURVEY_URL, SET_MAINTENANCE;
 *   - /api/instance (instance): SET_INSTANCE_NAME|DESCRIPTION|JURISDICTION|NOTICE
 *     (language maps name, description, location, notice), SET_ACCENT_COLOR (color);
 *   - /api/config extras (config_extra): SET_ADMIN_EMAIL, SET_SUPPORT_MAILBOX,
 *     SET_SUPPORT_KEYS (supportMailboxKey), DISABLE_APPS, RESTRICT_SSO_REGISTRATION,
 *     ENFORCE_MFA, LIST_MY_INSTANCE, REMOVE_DONATE_BUTTON;
 *   - everything else the reference knows is kept in `extra` under its Env
 *     name, so it replays and shows in INSTANCE_STATUS without doing anything.
 * Unknown names fail with DECREE_UNSUPPORTED_COMMAND, as in the reference.
 *
 * Deviations (all refuse with INVALID_ARGS what the reference would store and
 * then misbehave on): negative sizes and day counts; a non-string or >64-char
 * SET_LAST_BROADCAST_HASH or install token; a non-string survey URL. */
#include "server/decree.h"

#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <string.h>

#include "common/b64.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "server/settings.h"

/* ---- keys --------------------------------------------------------------- */

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-';
}

/* "<43 chars of [A-Za-z0-9+-]>=" at s[0..44) */
static bool dashed_key(const char *s, size_t len)
{
    if (len != 44 || s[43] != '=')
        return false;
    for (size_t i = 0; i < 43; i++)
        if (!key_char(s[i]))
            return false;
    return true;
}

static void unescape_key(const char *s, char out[45])
{
    for (size_t i = 0; i < 44; i++)
        out[i] = s[i] == '-' ? '/' : s[i];
    out[44] = '\0';
}

int decree_canon_key(const char *in, size_t len, char out[45], char **name)
{
    if (name)
        *name = NULL;
    if (!in || memchr(in, '\0', len))
        return -1;
    if (len == 44) {
        unescape_key(in, out);
        return 0;
    }
    /* "[user@domain/KEY]": the key is the last 44 chars before ']', after a '/'. */
    if (len >= 2 + 3 + 45 && in[0] == '[' && in[len - 1] == ']' && memchr(in + 1, '@', len - 2)) {
        const char *inner = in + 1;
        size_t ilen = len - 2;
        const char *k = inner + ilen - 44;
        if (k[-1] == '/' && dashed_key(k, 44)) {
            size_t rest = ilen - 45; /* "user@domain" */
            size_t at = rest;
            while (at > 0 && inner[at - 1] != '@')
                at--;
            /* lastIndexOf('@') >= 1, and user and domain both non-empty */
            if (at >= 2 && at < rest) {
                unescape_key(k, out);
                if (name)
                    *name = xstrndup(inner, at - 1);
                return 0;
            }
        }
    }
    /* Legacy: http(s*)://<host>/user/#/1/<user>/<KEY> */
    if (len > 4 && memcmp(in, "http", 4) == 0) {
        size_t i = 4;
        while (i < len && in[i] == 's')
            i++;
        if (len - i < 3 || memcmp(in + i, "://", 3) != 0)
            return -1;
        i += 3;
        size_t h = i;
        while (i < len && in[i] != '/')
            i++;
        if (i == h || len - i < 11 || memcmp(in + i, "/user/#/1/", 10) != 0)
            return -1;
        i += 10;
        size_t u = i;
        while (i < len && in[i] != '/')
            i++;
        if (i == u || i >= len || len - i - 1 != 44 || !dashed_key(in + i + 1, 44))
            return -1;
        unescape_key(in + i + 1, out);
        if (name)
            *name = xstrndup(in + u, i - u);
        return 0;
    }
    return -1;
}

bool decree_valid_public_key(const char *s, size_t len)
{
    unsigned char raw[33];
    size_t n = 0;
    return len == 44 && b64_chars_ok(s, len, false) &&
           sodium_base642bin(raw, sizeof raw, s, len, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
           n == 32;
}

bool decree_key_in_list(const char *list, const char *key)
{
    const char *p = list ? list : "";
    while (*p) {
        p += strspn(p, ", \t\r\n");
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t' || p[m - 1] == '\r' || p[m - 1] == '\n'))
            m--;
        char k[45];
        if (m > 0 && decree_canon_key(p, m, k, NULL) == 0 && strcmp(k, key) == 0)
            return true;
        p += n;
    }
    return false;
}

/* ---- argument checks (the reference's Utils.args_*) --------------------- */

static bool is_integer(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

static const json_t *arg0(const json_t *args)
{
    return json_is_array(args) ? json_array_get(args, 0) : NULL;
}

/* args[0] as a non-negative integer that fits max, or -1. */
static int arg_count(const json_t *args, unsigned long long max, unsigned long long *out)
{
    const json_t *v = arg0(args);
    if (!is_integer(v))
        return -1;
    double d = json_number_value(v);
    if (d < 0 || d > (double)max)
        return -1;
    *out = json_is_integer(v) ? (unsigned long long)json_integer_value(v) : (unsigned long long)d;
    return 0;
}

/* ---- setters ------------------------------------------------------------- */

/* Sets obj[key] = v (a new reference taken); 1 if it changed. */
static int set_json(json_t *obj, const char *key, json_t *v)
{
    json_t *old = json_object_get(obj, key);
    if (old && json_equal(old, v)) {
        json_decref(v);
        return 0;
    }
    json_object_set_new(obj, key, v);
    return 1;
}

static int set_bool(bool *field, const json_t *args, const char **err)
{
    const json_t *v = arg0(args);
    if (!json_is_boolean(v)) {
        *err = "INVALID_ARGS";
        return -1;
    }
    bool b = json_is_true(v);
    if (b == *field)
        return 0;
    *field = b;
    return 1;
}

static int set_ull(unsigned long long *field, const json_t *args, const char **err)
{
    unsigned long long v;
    if (arg_count(args, (unsigned long long)1 << 53, &v) < 0) {
        *err = "INVALID_ARGS";
        return -1;
    }
    if (v == *field)
        return 0;
    *field = v;
    return 1;
}

static int set_days(unsigned *field, const json_t *args, const char **err)
{
    unsigned long long v;
    if (arg_count(args, 1000000, &v) < 0) {
        *err = "INVALID_ARGS";
        return -1;
    }
    if (v == *field)
        return 0;
    *field = (unsigned)v;
    return 1;
}

/* makeTranslation: a string sets map.default; an object sets each language. */
static int set_translation(json_t *instance, const char *field, const json_t *args, const char **err)
{
    if (!json_is_array(args)) {
        *err = "INVALID_ARGS";
        return -1;
    }
    json_t *map = json_object_get(instance, field);
    if (!json_is_object(map)) {
        map = json_object();
        json_object_set_new(instance, field, map);
    }
    const json_t *v = arg0(args);
    if (json_is_string(v))
        return set_json(map, "default", json_copy((json_t *)v));
    if (json_is_object(v)) {
        int changed = 0;
        const char *lang;
        json_t *t;
        json_object_foreach((json_t *)v, lang, t) changed |= set_json(map, lang, json_deep_copy(t));
        return changed;
    }
    return 0;
}

/* Generic decrees whose value is kept under an Env name. */
enum gtype { G_BOOL, G_STRING, G_POSINT };
enum gwhere { W_EXTRA, W_CONFIG };

struct generic {
    const char *name;    /* decree */
    const char *key;     /* the reference's Env name */
    enum gtype type;
    enum gwhere where;   /* W_CONFIG: also served by /api/config (config_extra) */
};

static const struct generic g_generic[] = {
    {"RESTRICT_SSO_REGISTRATION", "restrictSsoRegistration", G_BOOL, W_CONFIG},
    {"ENFORCE_MFA", "enforceMFA", G_BOOL, W_CONFIG},
    {"LIST_MY_INSTANCE", "listMyInstance", G_BOOL, W_CONFIG},
    {"REMOVE_DONATE_BUTTON", "removeDonateButton", G_BOOL, W_CONFIG},
    {"DISABLE_STORE_INVITED_USERS", "dontStoreInvitedUsers", G_BOOL, W_EXTRA},
    {"DISABLE_STORE_SSO_USERS", "dontStoreSSOUsers", G_BOOL, W_EXTRA},
    {"DISABLE_INTEGRATED_TASKS", "disableIntegratedTasks", G_BOOL, W_EXTRA},
    {"CONSENT_TO_CONTACT", "consentToContact", G_BOOL, W_EXTRA},
    {"PROVIDE_AGGREGATE_STATISTICS", "provideAggregateStatistics", G_BOOL, W_EXTRA},
    {"BLOCK_DAILY_CHECK", "blockDailyCheck", G_BOOL, W_EXTRA},
    {"ENABLE_PROFILING", "enableProfiling", G_BOOL, W_EXTRA},
    {"SET_PROFILING_WINDOW", "profilingWindow", G_POSINT, W_EXTRA},
    {"SET_LOGO_MIME", "logoMimeType", G_STRING, W_EXTRA},
    {"SET_INSTANCE_PURPOSE", "instancePurpose", G_STRING, W_EXTRA},
    {"SET_ADMIN_EMAIL", "adminEmail", G_STRING, W_CONFIG},
};

static int apply_generic(struct settings *st, const struct generic *g, const json_t *args, const char **err)
{
    const json_t *v = arg0(args);
    bool ok = g->type == G_BOOL ? json_is_boolean(v)
              : g->type == G_STRING ? json_is_string(v)
                                    : is_integer(v) && json_number_value(v) > 0;
    if (!ok) {
        *err = "INVALID_ARGS";
        return -1;
    }
    int changed = set_json(st->extra, g->key, json_copy((json_t *)v));
    if (g->where == W_CONFIG)
        changed |= set_json(st->config_extra, g->key, json_copy((json_t *)v));
    return changed;
}

static bool valid_limit(const json_t *o)
{
    if (!json_is_object(o) || !json_is_number(json_object_get(o, "limit")) ||
        !json_is_string(json_object_get(o, "plan")) || !json_is_string(json_object_get(o, "note")))
        return false;
    const json_t *users = json_object_get(o, "users");
    if (users && !json_is_array(users))
        return false;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        if (strcmp(k, "limit") && strcmp(k, "plan") && strcmp(k, "note") && strcmp(k, "users") && strcmp(k, "origin"))
            return false;
    }
    return true;
}

static int canon_arg(const json_t *v, char out[45], char **name)
{
    if (!json_is_string(v))
        return -1;
    return decree_canon_key(json_string_value(v), json_string_length(v), out, name);
}

static int key_index(const json_t *arr, const char *key)
{
    size_t i;
    json_t *k;
    json_array_foreach(arr, i, k) if (json_is_string(k) && strcmp(json_string_value(k), key) == 0) return (int)i;
    return -1;
}

int decree_apply(struct settings *st, const char *config_admins, const char *name, const json_t *args,
                 const char **err)
{
    *err = NULL;
    const json_t *v = arg0(args);
    char key[45];
    if (!name) {
        *err = "DECREE_UNSUPPORTED_COMMAND";
        return -1;
    }
    for (size_t i = 0; i < sizeof g_generic / sizeof g_generic[0]; i++)
        if (strcmp(name, g_generic[i].name) == 0)
            return apply_generic(st, &g_generic[i], args, err);

    if (strcmp(name, "RESTRICT_REGISTRATION") == 0)
        return set_bool(&st->restrict_registration, args, err);
    if (strcmp(name, "ENABLE_EMBEDDING") == 0)
        return set_bool(&st->enable_embedding, args, err);
    if (strcmp(name, "DISABLE_INTEGRATED_EVICTION") == 0) {
        bool disabled = !st->eviction;
        int rc = set_bool(&disabled, args, err);
        st->eviction = !disabled;
        return rc;
    }
    if (strcmp(name, "UPDATE_DEFAULT_STORAGE") == 0)
        return set_ull(&st->default_limit, args, err);
    if (strcmp(name, "SET_MAX_UPLOAD_SIZE") == 0)
        return set_ull(&st->max_upload, args, err);
    if (strcmp(name, "SET_PREMIUM_UPLOAD_SIZE") == 0)
        return set_ull(&st->premium_upload, args, err);
    if (strcmp(name, "SET_INACTIVE_TIME") == 0)
        return set_days(&st->inactive_days, args, err);
    if (strcmp(name, "SET_ARCHIVE_RETENTION_TIME") == 0)
        return set_days(&st->archive_retention_days, args, err);
    if (strcmp(name, "SET_ACCOUNT_RETENTION_TIME") == 0)
        return set_days(&st->account_retention_days, args, err);

    if (strcmp(name, "SET_LAST_BROADCAST_HASH") == 0) {
        if (!json_is_string(v) || json_string_length(v) >= sizeof st->last_broadcast_hash) {
            *err = "INVALID_ARGS";
            return -1;
        }
        if (strcmp(st->last_broadcast_hash, json_string_value(v)) == 0)
            return 0;
        memcpy(st->last_broadcast_hash, json_string_value(v), json_string_length(v) + 1);
        return 1;
    }
    if (strcmp(name, "SET_SURVEY_URL") == 0) {
        if (!json_is_string(v)) {
            *err = "INVALID_ARGS";
            return -1;
        }
        return set_json(st->broadcast_extra, "surveyURL", json_copy((json_t *)v));
    }
    if (strcmp(name, "SET_MAINTENANCE") == 0) {
        /* "" (or any string, as the reference's check lets through) or {start, end} */
        bool ok = json_is_string(v) || (json_is_object(v) && json_is_number(json_object_get(v, "start")) &&
                                        json_is_number(json_object_get(v, "end")));
        if (!ok) {
            *err = "INVALID_ARGS";
            return -1;
        }
        return set_json(st->broadcast_extra, "maintenance", json_deep_copy(v));
    }

    if (strcmp(name, "SET_INSTANCE_NAME") == 0)
        return set_translation(st->instance, "name", args, err);
    if (strcmp(name, "SET_INSTANCE_DESCRIPTION") == 0)
        return set_translation(st->instance, "description", args, err);
    if (strcmp(name, "SET_INSTANCE_JURISDICTION") == 0)
        return set_translation(st->instance, "location", args, err);
    if (strcmp(name, "SET_INSTANCE_NOTICE") == 0)
        return set_translation(st->instance, "notice", args, err);
    if (strcmp(name, "SET_ACCENT_COLOR") == 0) {
        if (!json_is_string(v)) {
            *err = "INVALID_ARGS";
            return -1;
        }
        set_json(st->extra, "accentColor", json_copy((json_t *)v));
        return set_json(st->instance, "color", json_copy((json_t *)v));
    }

    if (strcmp(name, "SET_SUPPORT_MAILBOX") == 0) {
        if (!json_is_string(v) || !decree_valid_public_key(json_string_value(v), json_string_length(v))) {
            *err = "INVALID_ARGS";
            return -1;
        }
        return set_json(st->config_extra, "supportMailbox", json_copy((json_t *)v));
    }
    if (strcmp(name, "SET_SUPPORT_KEYS") == 0) {
        const json_t *curve = arg0(args), *ed = json_array_get(args, 1);
        bool ok = json_is_string(curve) && json_is_string(ed) &&
                  (!json_string_length(curve) || decree_valid_public_key(json_string_value(curve), json_string_length(curve))) &&
                  (!json_string_length(ed) || decree_valid_public_key(json_string_value(ed), json_string_length(ed)));
        if (!ok) {
            *err = "INVALID_ARGS";
            return -1;
        }
        int changed = set_json(st->config_extra, "supportMailboxKey", json_copy((json_t *)curve));
        changed |= set_json(st->extra, "supportPinKey", json_copy((json_t *)ed));
        return changed;
    }
    if (strcmp(name, "DISABLE_APPS") == 0) {
        if (!json_is_array(args)) {
            *err = "INVALID_ARGS";
            return -1;
        }
        return set_json(st->config_extra, "appsToDisable", json_deep_copy(args));
    }

    if (strcmp(name, "SET_QUOTA") == 0) {
        if (!json_is_array(args) || json_array_size(args) != 2 || canon_arg(v, key, NULL) < 0 ||
            !valid_limit(json_array_get(args, 1))) {
            *err = "INVALID_ARGS";
            return -1;
        }
        json_t *limit = json_deep_copy(json_array_get(args, 1));
        json_object_set_new(limit, "origin", json_string("decree"));
        json_object_set_new(st->limits, key, limit);
        return 1;
    }
    if (strcmp(name, "RM_QUOTA") == 0) {
        if (!json_is_array(args) || json_array_size(args) != 1 || canon_arg(v, key, NULL) < 0) {
            *err = "INVALID_ARGS";
            return -1;
        }
        if (!json_object_get(st->limits, key)) {
            *err = "ENOENT";
            return -1;
        }
        json_object_del(st->limits, key);
        return 1;
    }

    if (strcmp(name, "ADD_INSTALL_TOKEN") == 0) {
        if (!json_is_array(args) || json_array_size(args) != 1 || !json_is_string(v) || !json_string_length(v) ||
            json_string_length(v) >= sizeof st->install_token) {
            *err = "INVALID_ARGS";
            return -1;
        }
        memcpy(st->install_token, json_string_value(v), json_string_length(v) + 1);
        return 1;
    }
    if (strcmp(name, "ADD_ADMIN_KEY") == 0 || strcmp(name, "RM_ADMIN_KEY") == 0) {
        if (!json_is_array(args) || json_array_size(args) != 1 || !json_is_string(v) || !json_string_length(v)) {
            *err = "INVALID_ARGS";
            return -1;
        }
        if (canon_arg(v, key, NULL) < 0) {
            *err = "INVALID_KEY";
            return -1;
        }
        int idx = key_index(st->admins, key);
        if (name[0] == 'A') {
            if (idx >= 0)
                return 0;
            json_array_append_new(st->admins, json_string(key));
            json_array_append_new(st->admins_data, json_copy((json_t *)v));
            return 1;
        }
        if (idx < 0)
            return 0;
        if (decree_key_in_list(config_admins, key)) {
            *err = "CANT_REMOVE_CONFIG";
            return -1;
        }
        if (json_array_size(st->admins) == 1) {
            *err = "CANT_REMOVE_LAST_ADMIN";
            return -1;
        }
        json_array_remove(st->admins, (size_t)idx);
        for (size_t i = json_array_size(st->admins_data); i-- > 0;) {
            char k2[45];
            if (canon_arg(json_array_get(st->admins_data, i), k2, NULL) == 0 && strcmp(k2, key) == 0)
                json_array_remove(st->admins_data, i);
        }
        return 1;
    }
    if (strcmp(name, "PROOFS_MIGRATED") == 0) {
        /* The reference checks args === 1 (not an array). */
        if (!json_is_integer(args) || json_integer_value(args) != 1) {
            *err = "INVALID_ARGS";
            return -1;
        }
        set_json(st->extra, "proofsMigrated", json_true());
        return 1;
    }
    if (strcmp(name, "SET_BEARER_SECRET") == 0) {
        if (!json_is_array(args) || json_array_size(args) != 1 || !json_is_string(v) || !json_string_length(v)) {
            *err = "INVALID_ARGS";
            return -1;
        }
        return set_json(st->extra, "bearerSecret", json_copy((json_t *)v));
    }
    *err = "DECREE_UNSUPPORTED_COMMAND";
    return -1;
}

size_t decree_replay(struct settings *st, const char *config_admins, const char *data, size_t len, size_t *bad)
{
    size_t applied = 0, lineno = 0;
    *bad = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        if (n > 0) {
            json_t *line = json_loadb(p, n, 0, NULL);
            const char *err = NULL;
            if (!json_is_array(line) || !json_is_string(json_array_get(line, 0))) {
                LOG_WARN("decrees: line %zu is not a decree; skipped", lineno);
                (*bad)++;
            } else if (decree_apply(st, config_admins, json_string_value(json_array_get(line, 0)),
                                    json_array_get(line, 1), &err) < 0) {
                LOG_WARN("decrees: line %zu (%s): %s; skipped", lineno, json_string_value(json_array_get(line, 0)),
                         err);
                (*bad)++;
            } else {
                applied++;
            }
            json_decref(line);
        }
        p += n + (nl ? 1 : 0);
    }
    return applied;
}
