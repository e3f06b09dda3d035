/* xmalloc.h: allocation for the server.
 *
 * OOM policy: the server aborts on allocation failure (like Redis, h2o, tmux);
 * a server that half-handles OOM loses writes in ways no test finds. Every
 * size that comes from the wire is checked against a configured limit before
 * it gets here, so an abort means the machine itself is out of memory.
 * (The client library, when it exists, returns BP_ENOMEM instead.) */
#ifndef BP_XMALLOC_H
#define BP_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

#endif
