/* blindpad/account.h: CryptPad accounts: registration and login with a
 * username and a password, interoperable with CryptPad's web client
 * (CRYPTO.md §7, SERVER-API.md §6 and §7 B/C).
 *
 * Register (what www/common/common-login.js does for a new account):
 *   1. scrypt the credentials (bp_login_derive) -> block keys;
 *   2. GET the block URL: 404 without "reason" = free; 200 = name taken
 *      (BP_EEXIST); 404 with a reason = an account deleted (BP_EDELETED);
 *      the legacy drive (§7.2) must be empty too (BP_EEXIST otherwise);
 *   3. random account keys (allocateBytes on 192 random bytes: ed + curve);
 *   4. a new drive: a v2 "drive" document (random /2/drive/edit/<key>/ hash)
 *      created owned by edPublic, holding the chainpad-listmap object
 *      {curvePrivate, curvePublic, "cryptpad.username", edPrivate, edPublic,
 *       login_name, version: 11};
 *   5. the login block {User_hash, edPublic} written with WRITE_BLOCK
 *      (/api/auth, signed by the block key, hasPassword: true);
 *   6. GET the block again: it must be what was written.
 * Login: derive; GET the block (200: decrypt it, open the drive named by its
 * User_hash; 404 with a reason: BP_EDELETED; 404 without: the legacy drive,
 * else BP_EAUTH, "wrong password or user name"); read the account keys from
 * the drive and check that the drive's edPublic is the block's.
 *
 * The block, API and websocket all live at `server` (an origin, "http://host:
 * port", no trailing '/'): ApiConfig.fileHost and the instance's loginSalt
 * are not read from /api/config yet (a loginSalt can be passed in opts).
 *
 * Ownership: a struct bp_account is sodium_malloc'd (its secrets inside it),
 * freed and wiped by bp_account_free. No global state. Each call blocks
 * (scrypt takes 32 MiB and ~0.2-1 s; then a few HTTP requests and one
 * websocket session).
 *
 * Errors (blindpad/err.h): BP_EINVAL (empty username, password too short at
 * registration, not UTF-8), BP_EEXIST (name taken), BP_EDELETED (account
 * deleted: *errmsg has the server's reason, e.g. "PASSWORD_CHANGE"),
 * BP_EAUTH (wrong password or user name), BP_ECORRUPT (the block or the drive
 * does not hold what an account holds), BP_ENET / BP_ETIMEOUT / BP_ESERVER
 * (errmsg says more), BP_ENOMEM. */
#ifndef BLINDPAD_ACCOUNT_H
#define BLINDPAD_ACCOUNT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_ACCOUNT_MIN_PASSWORD 8u /* AppConfig.minimumPasswordLength (characters) */

struct bp_account {
    char server[512];
    char username[256];      /* as typed (login_name) */
    char user_hash[160];     /* drive edit hash: "/2/drive/edit/<24>/" (or a v1 one) */
    char block_url[640];     /* "" for a legacy account (no block) */
    char ed_public[64];      /* b64 of ed_pk */
    char curve_public[64];   /* b64 */
    unsigned char ed_pk[32];
    unsigned char ed_sk[64]; /* tweetnacl layout: seed || public */
    unsigned char curve_sk[32];
    int legacy;              /* 1: logged in through the legacy drive (no block) */
};

struct bp_account_opts {
    const char *login_salt;  /* AppConfig.loginSalt; NULL = "" (CryptPad's default) */
    unsigned timeout_ms;     /* per request; 0 = default */
};

/* Creates an account; on success *out is the logged-in account. opts may be NULL. */
int bp_account_register(const char *server, const char *username, const char *password,
                        const struct bp_account_opts *opts, struct bp_account **out,
                        char *errmsg, size_t errmsg_len);

/* Logs in; on success *out is the account. opts may be NULL. */
int bp_account_login(const char *server, const char *username, const char *password,
                     const struct bp_account_opts *opts, struct bp_account **out, char *errmsg,
                     size_t errmsg_len);

/* Wipes and frees; NULL is fine. */
void bp_account_free(struct bp_account *a);

#ifdef __cplusplus
}
#endif

#endif
