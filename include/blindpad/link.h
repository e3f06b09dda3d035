/* blindpad/link.h: CryptPad links ("URL hashes") and the keys they carry
 * (CRYPTO.md §1).
 *
 * A link is a full URL "https://host/<type>/#<hash>" (a query before the '#'
 * is ignored), a relative href "/<type>/#<hash>" as stored in drives, or a
 * bare hash ("/2/pad/edit/<key>/", "#/2/…", a v0 hash). Supported:
 *   documents  v0 <32 hex><24 b64>, v1 /1/edit|view/<chan>/<key>/,
 *              v2 /2/<app>/edit|view/<key>/[p/][embed/][present/]…,
 *              v3 /3/<app>/edit|view/<32 hex>/ (a "safe link": no keys);
 *   files      v1 /1/<chan>/<key>/, v2 /2/file/<key>/[p/], v3 /3/file/<48 hex>/.
 * Not links this library opens (BP_ELINK): v4 (options for a pad that does
 * not exist yet), /user/ and /invite/ hashes, anything else.
 *
 * The URL's <type> decides the family (file and media: files; everything
 * else: documents); the app name inside a v2 hash never enters a derivation.
 * For a bare hash the family is guessed from the hash ("file" app in v2/v3,
 * no edit/view element in v1).
 *
 * Passwords (v2 only; ignored for v0/v1 as CryptPad does): the UTF-8 bytes
 * go before the seed of each SHA-512. There is no verifier: a wrong password
 * gives another channel, which the caller notices because it is empty. The
 * "p/" flag in the link only says that one is needed (password_flag).
 *
 * Memory: a struct bp_link holds secret keys. It is allocated by this module
 * with sodium_malloc (guard pages, mlock'd where possible); free it with
 * bp_link_free(), which wipes it. All fields are read-only for the caller.
 * Functions return 0 or a negative enum bp_err; the optional `why` argument
 * receives a static English sentence saying what is wrong with a link. */
#ifndef BLINDPAD_LINK_H
#define BLINDPAD_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blindpad/err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum bp_link_kind {
    BP_LINK_DOC = 1,  /* a realtime document (pad, code, sheet, drive, form, …) */
    BP_LINK_FILE = 2, /* an encrypted blob */
};

enum bp_link_mode {
    BP_LINK_NONE = 0, /* files, v0 */
    BP_LINK_EDIT = 1,
    BP_LINK_VIEW = 2,
};

#define BP_LINK_HASH_MAX 160 /* longest rebuilt hash, NUL included */

struct bp_link {
    int version;              /* 0, 1, 2 or 3 */
    enum bp_link_kind kind;
    enum bp_link_mode mode;   /* BP_LINK_NONE for files and v0 */
    char type[32];            /* URL path segment ("pad", "code", "file"…); "" for a bare hash */
    char app[32];             /* app inside a v2/v3 hash; "" for v0/v1 */
    bool password_flag;       /* the link has the "p/" option */
    bool has_password;        /* a non-empty password went into the derivation (v2); rebuilt
                               * hashes then carry "p/", as Hash.getHashes does */
    bool embed, present;      /* other options ("embed/", "present/") */
    bool has_keys;            /* false for v3 safe links: only channel is set */
    bool has_sign_key;        /* sign_key/validate_key are set (v1/v2 edit) */
    bool has_secondary_key;   /* secondary_key is set (v2 document edit) */
    bool has_secondary_sign;  /* secondary_sign_key/_validate_key are set (v2 documents) */
    char channel[49];         /* lowercase hex: 32 (documents) or 48 (files) */
    char chan_id[33];         /* urlb64 of the channel bytes (v1, v2); "" otherwise */
    char edit_key_str[48];    /* v2: urlb64 24 chars; v1: standard b64 24 chars; v0: the 24 chars */
    char view_key_str[48];    /* v1/v2 documents: urlb64 43 chars */
    char file_key_str[48];    /* v2: urlb64 24 chars; v1: standard b64 of the key (44) */
    uint8_t crypt_key[32];    /* secretbox key of messages (documents) or of the blob (files) */
    uint8_t sign_key[64];     /* ed25519 secret key (signKey) */
    uint8_t validate_key[32]; /* ed25519 public key (validateKey, sent to the server) */
    uint8_t secondary_key[32];
    uint8_t secondary_sign_key[64];
    uint8_t secondary_validate_key[32];
    /* Burn after reading (CRYPTO.md §1.2 "ownerKey"): a link option of 86
     * chars, the urlb64 of an ed25519 secret key whose public key the
     * document's owners list holds. The reader signs REMOVE_OWNED_CHANNEL
     * with it once the content is shown. Not carried by bp_link_hash() /
     * bp_link_url() (rebuilt links carry only "p/", as Hash.getHashes);
     * bp_link_burn_url() makes such a link. */
    bool has_owner_key;
    uint8_t owner_key[64];    /* seed || public key (tweetnacl layout) */
};

/* Parses a link and derives its keys. password: NULL or "" for none (a UTF-8
 * C string otherwise; BP_EINVAL if it is not UTF-8). On success *out is a new
 * struct the caller frees with bp_link_free(). On failure *out is NULL and the
 * result is BP_ELINK (not a link this library can open; *why says why),
 * BP_EINVAL, BP_ENOMEM or BP_ESYS. Never reads past the NUL of link. */
int bp_link_parse(const char *link, const char *password, struct bp_link **out, const char **why);

/* The same for a hash whose URL type is known (Hash.getSecrets(type, hash)). */
int bp_link_parse_hash(const char *type, const char *hash, const char *password, struct bp_link **out,
                       const char **why);

/* A new v2 link with random keys. app: the URL type ("pad", "code", "sheet",
 * "drive", "form", …; "file" or "media" makes a file link). password as in
 * bp_link_parse; a non-empty one sets password_flag. Documents come back in
 * edit mode. */
int bp_link_make(const char *app, const char *password, struct bp_link **out);
/* The same from an explicit 18-byte seed (Crypto.createEditCryptor2(undefined, seed)). */
int bp_link_make_from_seed(const char *app, const uint8_t seed[18], const char *password,
                           struct bp_link **out);
/* A v1 document edit link from its parts (the legacy user hash of a login,
 * CRYPTO.md §7.2: channel = channelSeed, seed = encryptionSeed). type: URL
 * type ("drive" for a user hash). */
int bp_link_make_v1(const char *type, const uint8_t channel[16], const uint8_t seed[18],
                    struct bp_link **out);
/* The read-only link of a document link (edit or view): same channel and
 * crypt_key, the signing keys dropped. BP_EINVAL for files and v0/v3. */
int bp_link_make_view(const struct bp_link *link, struct bp_link **out);

/* The burn-after-reading link of a document (CryptPad's share dialog,
 * makeBurnAfterReadingUrl): its view link with owner_sk (an ed25519 secret
 * key, 64 bytes) as the ownerKey option, e.g.
 * <origin>/<type>/#/2/<app>/view/<key>/<86 chars>/[p/]. The caller must make
 * owner_sk's public key an owner of the document (ADD_OWNERS, or at
 * creation). BP_EINVAL for files and v0/v3, BP_ETOOBIG if cap is short. */
int bp_link_burn_url(const struct bp_link *l, const char *origin, const uint8_t owner_sk[64],
                     char *out, size_t cap);

/* Frees (and wipes) a link; NULL is fine. */
void bp_link_free(struct bp_link *link);

/* The hash CryptPad rebuilds (Hash.getHashes): mode BP_LINK_EDIT or
 * BP_LINK_VIEW for documents (BP_EINVAL if the link has not got that key),
 * BP_LINK_NONE for files and v0. Only the "p/" option is kept. out gets the
 * hash and a NUL; BP_ETOOBIG if cap is too small. */
int bp_link_hash(const struct bp_link *link, enum bp_link_mode mode, char *out, size_t cap);
/* origin + "/" + type + "/#" + bp_link_hash(); origin without a trailing '/'
 * ("https://cryptpad.example"); an empty link type becomes the app, or
 * "pad"/"file". */
int bp_link_url(const struct bp_link *link, const char *origin, enum bp_link_mode mode, char *out,
                size_t cap);
/* "/blob/<id[0..2]>/<id>" for a file link's 48-hex blob id
 * (Hash.getBlobPathFromHex); id must be at least 2 hex characters. */
int bp_link_blob_path(const char *id, char *out, size_t cap);

/* Form keys (§1.7, Hash.getFormData): curve key pair whose secret is the
 * first 32 ASCII bytes of the base64 text of secondaryKey. Needs
 * has_secondary_key (a v2 edit link). */
int bp_link_form_keys(const struct bp_link *link, uint8_t form_private[32], uint8_t form_public[32]);

/* The form's auditor hash (Hash.getFormData form_auditorHash):
 * "/1/view/<chanId>/<esc64 b64(crypt_key)>/auditor=<esc64 form_private b64>/". */
int bp_link_form_auditor_hash(const struct bp_link *link, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
