/* blindpad/login.h: CryptPad's login (CRYPTO.md §7): username + password ->
 * scrypt -> the 192-byte split (allocateBytes) -> the login block's keys, its
 * URL, the block itself and the /api/auth WRITE_BLOCK content.
 *
 *   salt  = toLowerCase(username) + loginSalt
 *   bytes = scrypt(password, salt, N=256, r=1024, p=1, 192 bytes)
 *           (strings encoded one UTF-16 code unit at a time, as scrypt-async
 *           does: a character above U+FFFF becomes two 3-byte sequences)
 *   [0,18) legacy drive seed  [18,34) legacy channel  [34,66) legacy curve
 *   [66,98) legacy ed seed    [98,130) block sign seed [130,162) block key
 *   block = 0x00 || nonce(24) || secretbox(JSON {User_hash, edPublic}, nonce, block key)
 *
 * Ownership: bp_login_derive / bp_login_keys_from_bytes return a struct in
 * sodium_malloc'd memory that the caller frees with bp_login_keys_free (which
 * wipes it). Every other function writes into caller buffers: on BP_ETOOBIG
 * *outlen holds the size needed (for strings: including the NUL). Strings are
 * UTF-8, NUL terminated, *outlen excluding the NUL. No global state. */
#ifndef BLINDPAD_LOGIN_H
#define BLINDPAD_LOGIN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_LOGIN_BYTES 192u          /* scrypt output */
#define BP_LOGIN_SCRYPT_N 256u
#define BP_LOGIN_SCRYPT_R 1024u
#define BP_LOGIN_SCRYPT_P 1u
#define BP_LOGIN_BLOCK_OVERHEAD 41u  /* version byte + nonce + tag */
#define BP_LOGIN_BLOCK_MAX 65536u    /* largest block this library reads or writes */

struct bp_login_keys {
    unsigned char bytes[BP_LOGIN_BYTES];  /* the whole scrypt output */
    /* legacy account (no block): drive /1/edit/<channel>/<seed>/ and keys */
    unsigned char encryption_seed[18];
    unsigned char channel_seed[16];
    unsigned char curve_secret[32], curve_public[32];
    unsigned char ed_secret[64], ed_public[32];     /* from the legacy ed seed */
    /* the login block */
    unsigned char block_secret[64], block_public[32]; /* Ed25519, seed bytes [98,130) */
    unsigned char block_key[32];                      /* secretbox key, [130,162) */
};

/* The v1 edit keys of the legacy drive (createEditCryptor(null, seed)). */
struct bp_login_legacy {
    char user_hash[64];       /* "/1/edit/<urlb64 channel>/<esc64 seed>/" */
    char edit_key_str[25];    /* esc64 of the 18-byte seed */
    char view_key_str[44];    /* urlb64 of crypt_key */
    unsigned char sign_secret[64], sign_public[32];
    unsigned char crypt_key[32];
};

/* JavaScript's String.prototype.toLowerCase() on UTF-8 (full default case
 * mapping, locale independent). Returns 0, BP_EINVAL (not UTF-8), BP_ETOOBIG. */
int bp_login_lowercase(const char *in, char *out, size_t cap, size_t *outlen);

/* scrypt-async's byte encoding of a UTF-8 string (CESU-8 style above U+FFFF).
 * Returns 0, BP_EINVAL (not UTF-8) or BP_ETOOBIG. */
int bp_login_scrypt_encode(const char *in, unsigned char *out, size_t cap, size_t *outlen);

/* The 192 bytes for a username as typed (lower-cased here), a password and
 * the instance's AppConfig.loginSalt (NULL = ""). Takes 32 MiB for a moment.
 * Returns 0, BP_EINVAL (NULL, not UTF-8, empty username), BP_ENOMEM. */
int bp_login_scrypt(const char *username, const char *password, const char *login_salt,
                    unsigned char out[BP_LOGIN_BYTES]);

/* bp_login_scrypt + bp_login_keys_from_bytes. */
int bp_login_derive(const char *username, const char *password, const char *login_salt,
                    struct bp_login_keys **out);

/* allocateBytes() on any 192 bytes (registration runs it on random bytes and
 * keeps the ed/curve keys). Returns 0, BP_EINVAL, BP_ENOMEM. */
int bp_login_keys_from_bytes(const unsigned char bytes[BP_LOGIN_BYTES],
                             struct bp_login_keys **out);
void bp_login_keys_free(struct bp_login_keys *k);

/* The legacy drive hash and its v1 keys. Wipe *out with sodium_memzero. */
int bp_login_legacy(const struct bp_login_keys *k, struct bp_login_legacy *out);

/* <origin>/block/<2 chars>/<esc64(b64 block public)>; origin without the
 * trailing '/' (ApiConfig.fileHost || httpUnsafeOrigin). */
int bp_login_block_url(const char *origin, const unsigned char block_public[32], char *out,
                       size_t cap, size_t *outlen);
/* The block URL + '#' + esc64(block key): CryptPad's Block_hash. */
int bp_login_block_hash(const char *origin, const struct bp_login_keys *k, char *out,
                        size_t cap, size_t *outlen);
/* Splits a Block_hash into its URL (into url) and block key.
 * Returns 0, BP_ELINK (no '#', bad key), BP_ETOOBIG. */
int bp_login_block_hash_parse(const char *hash, char *url, size_t cap,
                              unsigned char block_key[32]);

/* JSON.stringify({User_hash, edPublic}) (edPublic: b64 of the account key). */
int bp_login_block_content(const char *user_hash, const char *ed_public, char *out, size_t cap,
                           size_t *outlen);

/* Seals content (len bytes, at most BP_LOGIN_BLOCK_MAX - 41) into a block of
 * len + 41 bytes. nonce: 24 bytes, or NULL for a random one (tests pass it). */
int bp_login_block_encrypt(const unsigned char block_key[32], const char *content, size_t len,
                           const unsigned char *nonce, unsigned char *out, size_t cap,
                           size_t *outlen);

/* Opens a block into its JSON text (out gets len - 41 + 1 bytes at most).
 * Returns 0, BP_EPROTO (shorter than 41 bytes, not UTF-8 JSON), BP_ETOOBIG,
 * BP_EDECRYPT (wrong key or tampered). The version byte is ignored, as JS does. */
int bp_login_block_decrypt(const unsigned char block_key[32], const unsigned char *block,
                           size_t len, char *out, size_t cap, size_t *outlen);

/* Reads User_hash and edPublic from the block's JSON (other keys ignored).
 * Returns 0, BP_EPROTO (not an object, fields missing or not strings),
 * BP_ETOOBIG (a field longer than its buffer). */
int bp_login_block_parse(const char *json, size_t len, char *user_hash, size_t hash_cap,
                         char *ed_public, size_t ed_cap);

/* The block signature the server checks: Ed25519 detached over SHA-512(block). */
int bp_login_block_sign(const struct bp_login_keys *k, const unsigned char *block, size_t len,
                        unsigned char sig[64]);

/* JSON.stringify([b64(old block public), b64(sig of it by the old block key)]). */
int bp_login_registration_proof(const struct bp_login_keys *old_keys, char *out, size_t cap,
                                size_t *outlen);

/* The WRITE_BLOCK "content" object, in CryptPad's key order:
 * {"publicKey","signature","ciphertext"[,"hasPassword"][,"registrationProof"]}.
 * has_password: 1 true, 0 false, -1 omitted; proof: NULL to omit. */
int bp_login_write_block_content(const struct bp_login_keys *k, const unsigned char *block,
                                 size_t len, int has_password, const char *proof, char *out,
                                 size_t cap, size_t *outlen);

#ifdef __cplusplus
}
#endif

#endif
