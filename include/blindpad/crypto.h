/* blindpad/crypto.h: CryptPad's message formats (CRYPTO.md §0, §2-§5, §8).
 *
 *   - base64 in CryptPad's three flavours and hex (§0.1);
 *   - symmetric messages "nonceB64|boxB64" (§2, also v0 documents);
 *   - signed document messages b64(ed25519_sign(inner)) with the checkpoint
 *     "cp|id|" prefix and the 64-character message hash (§3);
 *   - curve chat key derivation (§5.2; its messages are §3 messages);
 *   - mailbox "sealed secret letters" (§5.1) and team roster messages (§5.3);
 *   - the authenticated RPC envelope and the other signatures of §8.
 *
 * Conventions (libsodium's shape):
 *   - every function returns 0 or a negative enum bp_err (blindpad/err.h);
 *   - outputs go to caller buffers. A function that writes text takes
 *     (out, cap, &out_len): on success out is NUL-terminated and out_len is the
 *     length without the NUL; when cap is too small it returns BP_ETOOBIG and
 *     sets out_len to the length it needs (without the NUL), so calling it
 *     with cap 0 asks for the size. The *_LEN() macros give upper bounds;
 *   - binary keys are fixed-size arrays the caller owns (put them in
 *     sodium_malloc memory if they are long-lived secrets); secrets this
 *     library copies to temporary memory are wiped with sodium_memzero;
 *   - decryption failures are named: BP_ESIG (a signature does not verify),
 *     BP_EDECRYPT (wrong key, or the ciphertext was tampered with),
 *     BP_EPROTO (not in the message format at all: no '|', bad base64, too
 *     short, plaintext not UTF-8);
 *   - plaintexts are byte strings (UTF-8 text in CryptPad; encryption does
 *     not check it, decryption refuses invalid UTF-8 as the JS does);
 *   - no global state; each entry point that needs it calls sodium_init()
 *     (idempotent) itself. Thread-safe.
 *
 * Random bytes come from randombytes_buf(); functions that draw them also take
 * an optional explicit `rng` argument (NULL in normal use) so that the
 * known-answer vectors, which script the random source, can be reproduced. */
#ifndef BLINDPAD_CRYPTO_H
#define BLINDPAD_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "blindpad/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BP_CRYPTO_KEYBYTES 32       /* secretbox key (cryptKey) */
#define BP_CRYPTO_NONCEBYTES 24
#define BP_CRYPTO_SIGN_SKBYTES 64   /* ed25519 secret key = seed || public key */
#define BP_CRYPTO_SIGN_PKBYTES 32   /* ed25519 public key (validateKey, edPublic) */
#define BP_CRYPTO_SIGBYTES 64
#define BP_CRYPTO_CURVE_BYTES 32    /* X25519 secret or public key */
#define BP_CRYPTO_HASH_LEN 64       /* characters of a message hash (§3) */

/* Length of the padded standard base64 of n bytes (no NUL). */
#define BP_B64_LEN(n) (((size_t)(n) + 2) / 3 * 4)
/* Upper bounds of the outputs below (no NUL). */
#define BP_CRYPTO_SYM_LEN(n) (32 + 1 + BP_B64_LEN((size_t)(n) + 16))
#define BP_CRYPTO_SIGNED_LEN(n) (16 + BP_B64_LEN(64 + BP_CRYPTO_SYM_LEN(n)))
#define BP_CRYPTO_MAILBOX_LEN(n) BP_B64_LEN((size_t)(n) + 144 + 64)

/* ---- base64 and hex (§0.1) ---- */

enum bp_b64 {
    BP_B64_STD = 0, /* "b64": RFC 4648 standard alphabet, padded */
    BP_B64_URL = 1, /* "urlb64": '/' -> '-', padding removed, '+' kept */
    BP_B64_ESC = 2, /* "esc64": '/' -> '-', padding kept */
};

/* Encodes in[0..n) in the given flavour. */
int bp_crypto_b64_encode(const uint8_t *in, size_t n, enum bp_b64 flavour, char *out, size_t cap,
                         size_t *out_len);
/* Decodes any of the three flavours the way CryptPad does ('-' -> '/', re-pad),
 * then strictly (libsodium: non-zero trailing bits are refused). BP_EINVAL if
 * s is not base64, BP_ETOOBIG if the result is longer than cap. */
int bp_crypto_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len);
/* Decodes s into exactly `want` bytes; BP_EINVAL otherwise. Convenient for keys. */
int bp_crypto_b64_key(const char *s, uint8_t *out, size_t want);
/* Lower-case hex; out needs 2n+1 bytes. */
void bp_crypto_hex_encode(const uint8_t *in, size_t n, char *out);
/* Hex (either case) of exactly 2*want characters into want bytes; BP_EINVAL otherwise. */
int bp_crypto_hex_decode(const char *s, size_t n, uint8_t *out, size_t want);

/* ---- §2 symmetric messages ---- */

/* msg = b64(nonce) "|" b64(secretbox(plain, nonce, key)). nonce: NULL draws a
 * random one (normal use) or exactly 24 bytes. cap >= BP_CRYPTO_SYM_LEN(n)+1. */
int bp_crypto_encrypt(const uint8_t key[32], const void *plain, size_t n, const uint8_t *nonce,
                      char *out, size_t cap, size_t *out_len);
/* Opens a §2 message. out needs at least n + 1 bytes (always enough); the
 * plaintext is NUL-terminated. BP_EPROTO / BP_EDECRYPT as above. */
int bp_crypto_decrypt(const uint8_t key[32], const char *msg, size_t n, char *out, size_t cap,
                      size_t *out_len);

/* ---- §3 signed document messages (also §5.2 curve chat messages) ---- */

enum {
    /* Prefix "cp|<b64 of SHA-512(plain)[0..8]>|" when plain starts with "[4"
     * (a ChainPad checkpoint), as chainpad-netflux does. */
    BP_CRYPTO_CP_AUTO = 1,
};

/* message = b64(ed25519_sign(inner)), inner = bp_crypto_encrypt(plain).
 * flags: 0 or BP_CRYPTO_CP_AUTO. nonce as in bp_crypto_encrypt.
 * cap >= BP_CRYPTO_SIGNED_LEN(n) + 1. */
int bp_crypto_sign_encrypt(const uint8_t crypt_key[32], const uint8_t sign_key[64], const void *plain,
                           size_t n, int flags, const uint8_t *nonce, char *out, size_t cap,
                           size_t *out_len);
/* Opens a signed message (with or without a "cp|…|" prefix). validate_key:
 * the 32-byte public key to verify with (BP_ESIG if it fails), or NULL to skip
 * the check as chainpad-crypto does for history-keeper messages and curve
 * chat. out needs n + 1 bytes. The legacy "^\d+:" prefix chainpad-netflux
 * strips after decryption is left to the caller (the ChainPad layer). */
int bp_crypto_sign_decrypt(const uint8_t crypt_key[32], const uint8_t *validate_key, const char *msg,
                           size_t n, char *out, size_t cap, size_t *out_len);
/* The message hash: the first 64 characters of the stored message (prefix
 * included). out gets min(n, 64) characters + NUL. */
void bp_crypto_msg_hash(const char *msg, size_t n, char out[BP_CRYPTO_HASH_LEN + 1]);
/* Length of a "cp|…|" prefix at the start of msg (0 if none), per the
 * server's regex ^cp\|([A-Za-z0-9+/=]{0,20}\|)? */
size_t bp_crypto_cp_prefix_len(const char *msg, size_t n);

/* ---- §4 validateKey / ed25519 helpers ---- */

/* Ed25519 key pair from a 32-byte seed (nacl.sign.keyPair.fromSeed). */
int bp_crypto_sign_seed_keypair(const uint8_t seed[32], uint8_t sk[64], uint8_t pk[32]);
/* The public half of a 64-byte secret key (Hash.getSignPublicFromPrivate). */
void bp_crypto_sign_sk_to_pk(const uint8_t sk[64], uint8_t pk[32]);
/* b64(ed25519_detached(msg, sk)); out gets 88 characters + NUL. */
int bp_crypto_sign_detached_b64(const uint8_t sk[64], const void *msg, size_t n, char out[89]);
/* Verifies a b64 detached signature: 0, BP_ESIG, or BP_EINVAL (not 64 bytes). */
int bp_crypto_verify_detached_b64(const uint8_t pk[32], const void *msg, size_t n, const char *sig_b64);
/* b64(ed25519_sign_combined(msg, sk)) (upload cookies, §6). */
int bp_crypto_sign_combined_b64(const uint8_t sk[64], const void *msg, size_t n, char *out, size_t cap,
                                size_t *out_len);

/* ---- §5.2 curve chat ---- */

/* Keys both contacts derive (Crypto.Curve.deriveKeys). Messages are §3
 * messages with these keys (bp_crypto_sign_encrypt / _decrypt; CryptPad does
 * not check the signature when reading, pass validate_key to do so). */
int bp_crypto_curve_derive(const uint8_t their_public[32], const uint8_t my_private[32],
                           uint8_t crypt_key[32], uint8_t sign_key[64], uint8_t validate_key[32]);
/* X25519 public key of a secret key (nacl.box.keyPair.fromSecretKey). */
int bp_crypto_curve_public(const uint8_t secret[32], uint8_t pub[32]);

/* ---- §5.1 mailbox (sealed secret letters) and §5.3 team messages ---- */

/* ciphertext = b64([sign(] n2 || ephPub || box(n1 || myPub || box(plain, n1,
 * theirPub, myPriv), n2, theirPub, ephPriv) [)]). sign_key: NULL (what
 * CryptPad sends) or a 64-byte ed25519 secret key. rng: NULL, or the 80
 * bytes n1(24) || ephemeral secret(32) || n2(24) in the order the JS draws
 * them. cap >= BP_CRYPTO_MAILBOX_LEN(n) + 1. */
int bp_crypto_mailbox_encrypt(const uint8_t my_private[32], const uint8_t my_public[32],
                              const uint8_t their_public[32], const uint8_t *sign_key, const void *plain,
                              size_t n, const uint8_t *rng, char *out, size_t cap, size_t *out_len);
/* Opens a letter sent to my_private. validate_key: NULL for an unsigned
 * letter, or the signer's public key (the signature is checked: BP_ESIG).
 * author (may be NULL) gets the sender's curve public key. out needs n + 1. */
int bp_crypto_mailbox_decrypt(const uint8_t my_private[32], const uint8_t *validate_key, const char *msg,
                              size_t n, char *out, size_t cap, size_t *out_len, uint8_t author[32]);

/* Team roster keys (Crypto.Team.deriveMemberKeys) from seed1 (base64 of 18+
 * bytes, '-' or '/' accepted). Team messages are signed mailbox letters:
 * encrypt with bp_crypto_mailbox_encrypt(myCurvePriv, myCurvePub,
 * team_curve_pk, team_ed_sk, …); read with bp_crypto_mailbox_decrypt(
 * team_curve_sk, team_ed_pk, …). The struct holds secrets: wipe it with
 * sodium_memzero (or keep it in sodium_malloc memory). */
struct bp_team_keys {
    uint8_t team_ed_sk[64];
    uint8_t team_ed_pk[32];
    uint8_t team_curve_sk[32];
    uint8_t team_curve_pk[32];
    char channel[33];        /* hex roster channel */
    char view_key_str[45];   /* esc64 of seed2 (padding kept) */
};
int bp_crypto_team_keys(const char *seed1, struct bp_team_keys *out);

/* ---- §8 RPC and helpers ---- */

/* The authenticated RPC envelope: writes the JSON array
 *   [sig, edPublic, cookie, command, args]
 * where sig = b64(ed25519_detached(UTF-8 of [cookie,command,args], ed_sk)).
 * cookie NULL serialises as null (the first COOKIE call). args_json is the
 * already-serialised argument, in JavaScript's JSON.stringify form (the server
 * re-serialises before verifying, so it must be canonical). The caller wraps
 * the result as [txid, <this>]. */
int bp_crypto_rpc_envelope(const uint8_t ed_sk[64], const char *cookie, const char *command,
                           const char *args_json, size_t args_len, char *out, size_t cap,
                           size_t *out_len);
/* b64(SHA-512(JSON.stringify(sorted unique ids))) (Hash.hashChannelList);
 * ids need not be sorted or unique. out gets 88 characters + NUL. */
int bp_crypto_hash_channel_list(const char *const *ids, size_t n, char out[89]);
/* hex of the first 16 bytes of a base64 key (Hash.getChannelIdFromKey). */
int bp_crypto_channel_from_key(const char *key_b64, char out[33]);
/* "[<name>@<host>/<esc64 edPublic>]" (Hash.getPublicSigningKeyString); origin
 * is "https://host[:port]" (the scheme is dropped). */
int bp_crypto_public_key_string(const char *origin, const char *name, const char *ed_public_b64,
                                char *out, size_t cap, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif
