/* err.c: descriptions of the project-wide error codes. */
#include "common/err.h"

#include <errno.h>

const char *bp_strerror(int err)
{
    switch (err) {
    case BP_OK: return "success";
    case BP_ENOMEM: return "out of memory";
    case BP_EINVAL: return "invalid argument";
    case BP_ETOOBIG: return "too big";
    case BP_EPROTO: return "malformed message";
    case BP_EAGAIN: return "need more data";
    case BP_ENOENT: return "not found";
    case BP_EIO: return "I/O error";
    case BP_ENOSPC: return "no space left on the device";
    case BP_EROFS: return "storage is read-only";
    case BP_EEXIST: return "already exists";
    case BP_EDELETED: return "deleted";
    case BP_ESIG: return "invalid signature or public key";
    case BP_EUNWRITABLE: return "store is not writable";
    case BP_ECLOSED: return "closed";
    case BP_EFORBIDDEN: return "forbidden";
    case BP_EEXPIRED: return "expired";
    case BP_ECORRUPT: return "corrupt data";
    case BP_EBADID: return "invalid id";
    case BP_ECONFIG: return "invalid configuration";
    case BP_ESYS: return "system error";
    case BP_EDECRYPT: return "cannot decrypt: wrong key, or the data was tampered with";
    case BP_ELINK: return "not a valid link";
    case BP_ENET: return "network error";
    case BP_ESERVER: return "the server refused the request";
    case BP_ETIMEOUT: return "timed out";
    case BP_EAUTH: return "wrong password or link";
    case BP_ECANCELED: return "cancelled";
    }
    return "unknown error";
}

int bp_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0: return BP_OK;
    case ENOMEM: return BP_ENOMEM;
    case EINVAL: return BP_EINVAL;
    case ENOENT: return BP_ENOENT;
    case EIO: return BP_EIO;
    case ENOSPC:
    case EDQUOT: return BP_ENOSPC;
    case EROFS:
    case EACCES:
    case EPERM: return BP_EROFS;
    case EEXIST: return BP_EEXIST;
    case EFBIG: return BP_ETOOBIG;
    }
    return BP_ESYS;
}
