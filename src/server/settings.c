/* settings.c: see settings.h. */
#include "server/settings.h"

#include <sodium.h>
#include <string.h>

#include "common/err.h"
#include "server/server.h"

int settings_init(struct server *srv)
{
    struct settings *st = &srv->settings;
    const struct config *cfg = &srv->cfg;
    st->admins = json_array();
    st->moderators = json_array();
    st->limits = json_object();
    st->broadcast_extra = json_object();
    st->instance = json_object();
    st->config_extra = json_object();
    const char *p = cfg->admin_keys;
    while (*p) {
        size_t n = strcspn(p, ", \t");
        if (n == 44) {
            char k[45];
            memcpy(k, p, 44);
            k[44] = '\0';
            json_array_append_new(st->admins, json_string(k));
        }
        p += n;
        p += strspn(p, ", \t");
    }
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
    return 0;
}

void settings_free(struct server *srv)
{
    struct settings *st = &srv->settings;
    json_decref(st->admins);
    json_decref(st->moderators);
    json_decref(st->limits);
    json_decref(st->broadcast_extra);
    json_decref(st->instance);
    json_decref(st->config_extra);
    sodium_memzero(st->curve_sk, sizeof st->curve_sk);
    memset(st, 0, sizeof *st);
}

bool settings_is_admin(const struct server *srv, const char *key)
{
    size_t i;
    json_t *k;
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
    json_t *e = json_object_get(srv->settings.limits, key);
    if (!json_is_object(e) || !json_is_number(json_object_get(e, "limit")))
        return;
    double l = json_number_value(json_object_get(e, "limit"));
    *limit = l > 0 ? (unsigned long long)l : 0;
    if (json_is_string(json_object_get(e, "plan")))
        *plan = json_string_value(json_object_get(e, "plan"));
    if (json_is_string(json_object_get(e, "note")))
        *note = json_string_value(json_object_get(e, "note"));
}
