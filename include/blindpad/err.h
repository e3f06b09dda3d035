/* blindpad/err.h: the error codes shared by libblindpad and blindpad-server.
 *
 * Every function that can fail returns 0 (BP_OK) or one of these negative
 * codes; bp_strerror() turns a code into a short sentence. */
#ifndef BLINDPAD_ERR_H
#define BLINDPAD_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

enum bp_err {
    BP_OK = 0,
    BP_ENOMEM = -1,     /* out of memory (client library only; the server aborts) */
    BP_EINVAL = -2,     /* an argument or a field has the wrong type or value */
    BP_ETOOBIG = -3,    /* a length read from the wire is over its limit */
    BP_EPROTO = -4,     /* malformed input: not JSON, not an array, bad frame */
    BP_EAGAIN = -5,     /* a parser needs more bytes */
    BP_ENOENT = -6,     /* no such channel, file or user */
    BP_EIO = -7,        /* I/O error from the disk */
    BP_ENOSPC = -8,     /* the disk is full */
    BP_EROFS = -9,      /* the file system is read-only (or permission denied) */
    BP_EEXIST = -10,    /* already exists */
    BP_EDELETED = -11,  /* the channel was deleted (a placeholder exists) */
    BP_ESIG = -12,      /* a signature or public key does not verify */
    BP_EUNWRITABLE = -13, /* the store has been marked not writable after a failure */
    BP_ECLOSED = -14,   /* the connection or the store is closed */
    BP_EFORBIDDEN = -15, /* not allowed (restricted channel, admin channel) */
    BP_EEXPIRED = -16,  /* the channel has expired */
    BP_ECORRUPT = -17,  /* stored data does not parse */
    BP_EBADID = -18,    /* an id that cannot be stored (length or characters) */
    BP_ECONFIG = -19,   /* bad configuration */
    BP_ESYS = -20,      /* another system error (see the log) */
    BP_EDECRYPT = -21,  /* decryption failed: wrong key, or the data was tampered with */
    BP_ELINK = -22,     /* not a link (URL or hash) this library understands */
    BP_ENET = -23,      /* cannot reach the server, or the connection broke */
    BP_ESERVER = -24,   /* the server answered with an error (its text is kept by the caller) */
    BP_ETIMEOUT = -25,  /* no answer in time */
    BP_EAUTH = -26,     /* wrong password or link, or not authorised */
    BP_ECANCELED = -27, /* cancelled by the caller */
};

/* Returns a static, never-NULL description of err (also of unknown codes). */
const char *bp_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
