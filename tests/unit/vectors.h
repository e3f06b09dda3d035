/* vectors.h: where the known-answer vectors are: $BP_VECTORS, else
 * ../shared/vectors relative to the repository root (tests run from there). */
#ifndef BP_TEST_VECTORS_H
#define BP_TEST_VECTORS_H
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static inline json_t *load_vectors(const char *name)
{
    const char *dir = getenv("BP_VECTORS");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "../shared/vectors", name);
    json_error_t err;
    json_t *v = json_load_file(path, 0, &err);
    if (!v)
        fprintf(stderr, "cannot load %s: %s\n", path, err.text);
    return v;
}
#endif
