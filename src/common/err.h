/* err.h: the project-wide error codes.
 *
 * Every function that can fail returns 0 (BP_OK) or one of these negative
 * codes; bp_strerror() turns a code into a short sentence for logs and for
 * error replies. A function that takes a callback never calls it after
 * returning an error (the libuv rule). */
#ifndef BP_ERR_H
#define BP_ERR_H

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
};

/* Returns a static, never-NULL description of err (also of unknown codes). */
const char *bp_strerror(int err);

/* Maps an errno value to the closest bp_err code (ENOSPC -> BP_ENOSPC, ...). */
int bp_err_from_errno(int errnum);

#endif
