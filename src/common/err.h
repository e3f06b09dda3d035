/* err.h: the project-wide error codes (the enum is public: include/blindpad/err.h).
 *
 * Every function that can fail returns 0 (BP_OK) or one of these negative
 * codes; bp_strerror() turns a code into a short sentence for logs and for
 * error replies. A function that takes a callback never calls it after
 * returning an error (the libuv rule). */
#ifndef BP_ERR_H
#define BP_ERR_H

#include <blindpad/err.h>

/* Maps an errno value to the closest bp_err code (ENOSPC -> BP_ENOSPC, ...). */
int bp_err_from_errno(int errnum);

#endif
