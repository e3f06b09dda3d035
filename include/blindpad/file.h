/* blindpad/file.h: CryptPad's encrypted file ("blob") format, streamed.
 *
 * Format (CRYPTO.md §6, www/file/file-crypto.js):
 *
 *   blob  = u16be(L) || metabox || box_1 || box_2 || ... || box_n
 *   metabox = secretbox(UTF-8 JSON metadata, nonce 0, key)       L = its length
 *   box_i   = secretbox(plain[(i-1)*131072 .. i*131072], nonce i, key)
 *
 * The nonce is 24 bytes, starting at zero for the metadata box and
 * incremented as one 192-bit big-endian integer after every box. Every data
 * box holds 131072 plaintext bytes (131088 cipher bytes) except the last,
 * which is shorter; a file of exactly k*131072 bytes has k boxes and an empty
 * file has one box (a bare 16-byte tag). The format has no end marker: a blob
 * cut exactly between two boxes still decrypts. The decryptor therefore takes
 * the expected blob size (the HTTP Content-Length / GET_FILE_SIZE) when the
 * caller knows it, and always refuses a blob that stops inside a box or
 * before the first data box.
 *
 * Memory is bounded: an encryptor or decryptor holds one 128 KiB plaintext
 * buffer, one 128 KiB cipher buffer and the metadata, whatever the file size.
 *
 * Ownership: bp_file_enc_new / bp_file_dec_new return an object the caller
 * frees with bp_file_enc_free / bp_file_dec_free (which wipe the key and the
 * buffers). The key is copied into sodium_malloc'd memory; the caller's copy
 * stays the caller's. Data handed to a sink is only valid during the call.
 * Objects are not thread-safe; distinct objects are independent. */
#ifndef BLINDPAD_FILE_H
#define BLINDPAD_FILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_FILE_KEYBYTES 32u
#define BP_FILE_CHUNK 131072u                        /* plaintext bytes per data box */
#define BP_FILE_TAGBYTES 16u                         /* secretbox overhead per box */
#define BP_FILE_BOX_MAX (BP_FILE_CHUNK + BP_FILE_TAGBYTES) /* 131088 */
#define BP_FILE_META_MAX (65535u - BP_FILE_TAGBYTES) /* metadata JSON bytes: 65519 */
#define BP_FILE_HEADER_MAX (2u + 65535u)             /* prefix + largest metabox */

/* Receives output: ciphertext boxes from an encryptor (the first call is the
 * 2-byte prefix + metadata box, then one call per data box: exactly the
 * chunks CryptPad's uploader POSTs), or the plaintext of each verified box
 * from a decryptor. Return 0 to go on, or a negative bp_err to stop: the
 * write/final call then returns that code and the object refuses further use. */
typedef int (*bp_file_sink)(void *ctx, const unsigned char *data, size_t len);

/* The exact blob size for plain_len bytes of file and meta_len bytes of
 * metadata JSON. */
uint64_t bp_file_encrypted_size(uint64_t plain_len, size_t meta_len);

/* CryptPad's computeEncryptedSize(): what the JS client declares in
 * UPLOAD_STATUS. Equal to bp_file_encrypted_size() except for an empty file,
 * where it is 16 bytes short (the JS client only logs the mismatch). */
uint64_t bp_file_estimate_size(uint64_t plain_len, size_t meta_len);

/* Writes JSON.stringify({name, type[, alt][, thumbnail]}) to out (NUL
 * terminated; *outlen excludes the NUL). alt and thumbnail may be NULL (then
 * omitted, as JS omits undefined). As CryptPad does, the thumbnail is dropped
 * if the JSON would exceed 65535 bytes. Strings must be valid UTF-8.
 * Returns 0, BP_EINVAL (NULL name/type, invalid UTF-8), or BP_ETOOBIG (cap too
 * small: *outlen is then the size needed including the NUL). */
int bp_file_meta_json(char *out, size_t cap, size_t *outlen, const char *name,
                      const char *type, const char *alt, const char *thumbnail);

/* ---- encryption ---- */

typedef struct bp_file_enc bp_file_enc;

/* meta: the metadata JSON text (meta_len bytes, at most BP_FILE_META_MAX:
 * otherwise BP_ETOOBIG, CryptPad's METADATA_TOO_LARGE). The text is encrypted
 * as given (use bp_file_meta_json for CryptPad's exact form).
 * Returns 0, BP_EINVAL, BP_ETOOBIG or BP_ENOMEM. */
int bp_file_enc_new(bp_file_enc **out, const unsigned char key[BP_FILE_KEYBYTES],
                    const char *meta, size_t meta_len);

/* Streaming interface: feed the plaintext in pieces of any size, then call
 * bp_file_enc_final once. Boxes go to sink as soon as they are complete (a
 * full 128 KiB chunk is held back until more input or final shows whether
 * it is the last). Returns 0 or the first error (sink's own code included). */
int bp_file_enc_write(bp_file_enc *e, const unsigned char *in, size_t len,
                      bp_file_sink sink, void *ctx);
int bp_file_enc_final(bp_file_enc *e, bp_file_sink sink, void *ctx);

/* Box-at-a-time interface (no internal copy; do not mix with write/final):
 * bp_file_enc_header writes the first upload chunk (prefix + metabox,
 * bp_file_enc_header_len() bytes); then bp_file_enc_box seals one chunk of at
 * most BP_FILE_CHUNK bytes into out (len + 16 bytes). Every chunk but the
 * last must be full; a short chunk ends the file (later boxes: BP_EINVAL); an
 * empty file is one bp_file_enc_box(e, NULL, 0, ...). */
size_t bp_file_enc_header_len(const bp_file_enc *e);
int bp_file_enc_header(bp_file_enc *e, unsigned char *out, size_t cap, size_t *outlen);
int bp_file_enc_box(bp_file_enc *e, const unsigned char *plain, size_t len,
                    unsigned char *out, size_t cap, size_t *outlen);

/* Blob bytes produced so far. */
uint64_t bp_file_enc_written(const bp_file_enc *e);
void bp_file_enc_free(bp_file_enc *e);

/* ---- decryption ---- */

typedef struct bp_file_dec bp_file_dec;

/* expected_size: the blob's total size if known (then a shorter or longer
 * blob is refused with BP_EPROTO even at a box boundary), 0 if unknown.
 * Returns 0, BP_EINVAL or BP_ENOMEM. */
int bp_file_dec_new(bp_file_dec **out, const unsigned char key[BP_FILE_KEYBYTES],
                    uint64_t expected_size);

/* Feeds blob bytes split anyhow. The plaintext of each box goes to sink once
 * its MAC has been checked (sink may be NULL to only check, or to read just
 * the metadata). Errors (sticky: every later call returns the same):
 *   BP_EDECRYPT  a box does not open (wrong key, or tampered/truncated data);
 *   BP_EPROTO    malformed: metadata box shorter than a tag, metadata not
 *                UTF-8 JSON (or falsy, as JS refuses), more bytes than
 *                expected_size. */
int bp_file_dec_write(bp_file_dec *d, const unsigned char *in, size_t len,
                      bp_file_sink sink, void *ctx);

/* End of input: opens the last, partial box and checks the blob is complete.
 * BP_EPROTO if it stopped before the first data box, inside a box shorter
 * than a tag, or short of expected_size; BP_EDECRYPT if the last box does
 * not open (with an unknown size, a box cut in the middle shows up so). */
int bp_file_dec_final(bp_file_dec *d, bp_file_sink sink, void *ctx);

/* The decrypted metadata JSON (NUL terminated; *len excludes it, len may be
 * NULL), or NULL until the metadata box has been read and checked. Owned by
 * d. Enough to read only the name/type: feed the first 2 + L bytes. */
const char *bp_file_dec_meta(const bp_file_dec *d, size_t *len);
/* Plaintext bytes emitted so far. */
uint64_t bp_file_dec_plain_len(const bp_file_dec *d);
void bp_file_dec_free(bp_file_dec *d);

#ifdef __cplusplus
}
#endif

#endif
