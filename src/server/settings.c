/* settings.c: see settings.h. Decrees (decree.c) change the struct after
 * settings_init_from(); admin.c replays them at start. */
#include "server/settings.h"

#include <sodium.h>
#include <string.h>

#include "common/err.h"
#include "server/config.h"
#include "server/decree.h"
#include "server/server.h"

/* Adds the configured admins (comma-separated; each a 44-char key or a
 * "[user@host/KEY]" id, canonicalised as the reference does). */
static void add_config_admins(struct settings *st, const char *list)
{
    const char *p = list;
    while (*p) {
        p += strspn(p, ", \t\r\n");
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t' || p[m - 1] == '\r' || p[m - 1] == '\n'))
            m--;
        char k[45];
        if (m > 0 && decree_canon_key(p, m, k, NULL) == 0) {
            bool dup = false;
            size_t i;
            json_t *a;
            json_array_foreach(st->admins, i, a) dup |= strcmp(json_string_value(a), k) == 0;
            if (!dup) {
                json_array_append_new(st->admins, json_string(k));
                json_array_append_new(st->admins_data, json_stringn(p, m));
            }
        }
        p += n;
    }
}

int settings_init_from(struct settings *st, const struct config *cfg)
{
    memset(st, 0, sizeof *st);
    st->admins = json_array();
    st->admins_data = json_array();
    st->moderators = json_array();
    st->limits = json_object();
    st->broadcast_extra = json_object();
    /* /api/instance's shape before any decree: empty language maps. */
    st->instance = json_pack("{s:{},s:{},s:{},s:{}}", "name", "description", "location", "notice");
    st->config_extra = json_object();
    st->extra = json_object();
    st->eviction_report = json_object();
    add_config_admins(st, cfg->admin_keys);
    st->default_limit = cfg->default_storage_limit;
    st->max_upload = cfg->max_upload_size;
    st->premium_upload = cfg->premium_upload_size >= cfg->max_upload_size ? cfg->premium_upload_size : 0;
    st->restrict_registration = cfg->restrict_registration != 0;
    st->eviction = cfg->eviction != 0;
    st->inactive_days = cfg->inactive_days;
    st->archive_retention_days = cfg->archive_retention_days;
    st->account_retention_days = cfg->account_retention_days;
    crypto_box_keypair(st->curve_pk, st->curve_sk);
    st->fresh_key = server_now_ms();
    st->launch_time = st->fresh_key;
    st->last_eviction = st->launch_time;
    return 0;
}

int settings_init(struct server *srv)
{
    return settings_init_from(&srv->settings, &srv->cfg);
}

void settings_free_struct(struct settings *st)
{
    json_decref(st->admins);
    json_decref(st->admins_data);
    json_decref(st->moderators);
    json_decref(st->limits);
    json_decref(st->broadcast_extra);
    json_decref(st->instance);
    json_decref(st->config_extra);
    json_decref(st->extra);
    json_decref(st->eviction_report);
    sodium_memzero(st->curve_sk, sizeof st->curve_sk);
    memset(st, 0, sizeof *st);
}

void settings_free(struct server *srv)
{
    settings_free_struct(&srv->settings);
}

bool settings_is_admin(const struct server *srv, const char *key)
{
    size_t i;
    json_t *k;
    if (!key)
        return false;
    json_array_foreach(srv->settings.admins, i, k) {
        if (json_is_string(k) && strcmp(json_string_value(k), key) == 0)
            return true;
    }
    return false;
}

void settings_limit(const struct server *srv, const char *key, unsigned long long *limit, const char **plan,
                    const char **note)
{
    *limit = srv->settings.default_limit;
    *plan = "";
    *note = "";
    json_t *e = key ? json_object_get(srv->settings.limits, key) : NULL;
    if (!json_is_object(e) || !json_is_number(json_object_get(e, "limit")))
        return;
    double l = json_number_value(json_object_get(e, "limit"));
    *limit = l > 0 ? (unsigned long long)l : 0;
    if (json_is_string(json_object_get(e, "plan")))
        *plan = json_string_value(json_object_get(e, "plan"));
    if (json_is_string(json_object_get(e, "note")))
        *note = json_string_value(json_object_get(e, "note"));
}

bool settings_is_premium(const struct server *srv, const char *key)
{
    json_t *e = key ? json_object_get(srv->settings.limits, key) : NULL;
    const json_t *plan = json_object_get(e, "plan");
    return json_is_string(plan) && json_string_length(plan) > 0;
}

const char *settings_support_pin_key(const struct server *srv)
{
    const char *k = json_string_value(json_object_get(srv->settings.extra, "supportPinKey"));
    return k ? k : "";
}
