/* settings.h: the instance's run-time settings (SERVER-API.md §5, §2.10,
 * §4.9): built from the configuration at start, then changed by admin
 * decrees (decree.ndjson, replayed at start). Every module reads them here;
 * only the admin module (admin.c) changes them, through settings_apply().
 *
 * Threads: loop thread only. Ownership: struct server embeds one; the json_t
 * members are owned references, released by settings_free(). */
#ifndef BP_SETTINGS_H
#define BP_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct server;
struct config;

struct settings {
    json_t *admins;                /* array of edPublic strings (unsafe form) */
    json_t *moderators;            /* array of edPublic strings */
    json_t *limits;                /* object: edPublic -> {limit,plan,note[,users]} (decrees over config) */
    unsigned long long default_limit;   /* bytes per user */
    unsigned long long max_upload;      /* bytes */
    unsigned long long premium_upload;  /* bytes; 0 = none */
    bool restrict_registration;
    bool enable_embedding;              /* ACAO * and frame-ancestors relaxed */
    char last_broadcast_hash[65];       /* /api/broadcast; "" until the first admin broadcast */
    json_t *broadcast_extra;            /* object: surveyURL, maintenance, ... merged into /api/broadcast */
    json_t *instance;                   /* object served by /api/instance (name, description, ...) */
    json_t *config_extra;               /* object: optional /api/config keys, named as there and
                                           merged over the defaults: adminEmail, supportMailbox,
                                           supportMailboxKey, appsToDisable, restrictSsoRegistration,
                                           enforceMFA, listMyInstance, removeDonateButton */
    char install_token[65];             /* ADD_FIRST_ADMIN token (64 hex), "" if none; kept once
                                           admins exist (ADD_FIRST_ADMIN then answers EEXISTS) */
    uint8_t curve_pk[32], curve_sk[32]; /* server box keypair: /api/broadcast curvePublic,
                                           DELETE_MAILBOX_MESSAGE proofs */
    long long fresh_key;                /* cache-busting key in urlArgs; reset by FLUSH_CACHE */
    bool eviction;                      /* integrated eviction on */
    unsigned inactive_days, archive_retention_days, account_retention_days;
    /* Added by the admin module (decrees, INSTANCE_STATUS, eviction). */
    json_t *admins_data;                /* array: the admin entries as given (edPublic or
                                           "[user@host/KEY]"), parallel to admins */
    json_t *extra;                      /* object: decree state with no field of its own, keyed by the
                                           reference's Env names (consentToContact, instancePurpose,
                                           supportPinKey, bearerSecret, ...); replayed, not served */
    long long launch_time;              /* ms: when the settings were built (server start) */
    long long last_eviction;            /* ms: last eviction run (SET_LAST_EVICTION); launch time at start */
    json_t *eviction_report;            /* object: the last eviction's report ({} before the first) */
};

/* Fills srv->settings from srv->cfg. Returns 0 or a bp_err. */
int settings_init(struct server *srv);
/* The same for a bare struct (unit tests, decree replay without a server). */
int settings_init_from(struct settings *st, const struct config *cfg);
void settings_free_struct(struct settings *st);
void settings_free(struct server *srv);
bool settings_is_admin(const struct server *srv, const char *key);
/* The key's limit, plan and note (plan/note "" by default); the strings are
 * borrowed from the settings and valid until the next change. key is the
 * unsafe edPublic (Q4: UPDATE_LIMITS looks up the same way). */
void settings_limit(const struct server *srv, const char *key, unsigned long long *limit,
                    const char **plan, const char **note);
/* True if key has a limit entry with a non-empty plan (IS_PREMIUM). */
bool settings_is_premium(const struct server *srv, const char *key);
/* The key whose pins skip the quota (SET_SUPPORT_KEYS), "" if none. */
const char *settings_support_pin_key(const struct server *srv);

#endif
