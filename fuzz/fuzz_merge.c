/* libFuzzer target: three-way line merge (src/client/merge.c).
 *
 * Input: base NUL ours NUL theirs (split at the first two NUL bytes; a
 * missing part is empty). Oracles besides "never crash, never leak":
 *   - merge(base, ours, base) == ours and merge(base, base, theirs) == theirs,
 *     both clean;
 *   - merge(base, ours, ours) == ours, clean (the same change taken once);
 *   - merge(base, ours, theirs) and merge(base, theirs, ours) have the same
 *     number of conflicts, and the same text when there are none;
 *   - the output is NUL-terminated at *outlen, and a merge with conflicts
 *     holds that many "<<<<<<< yours\n" markers at least. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/merge.h"

static void expect(const char *b, size_t bn, const char *x, size_t xn, const char *y, size_t yn, const char *want,
                   size_t wn)
{
    char *out = NULL;
    size_t n = 0, conf = 0;
    if (bp_merge_text(b, bn, x, xn, y, yn, &out, &n, &conf) != 0)
        abort();
    if (conf != 0 || n != wn || memcmp(out, want, n) != 0 || out[n] != '\0')
        abort();
    free(out);
}

static size_t count_markers(const char *s, size_t n)
{
    static const char m[] = "<<<<<<< yours\n";
    size_t k = 0;
    for (size_t i = 0; i + sizeof m - 1 <= n; i++)
        if (memcmp(s + i, m, sizeof m - 1) == 0)
            k++;
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    const char *p[3] = {"", "", ""};
    size_t n[3] = {0, 0, 0};
    const char *d = (const char *)data;
    size_t at = 0;
    for (int i = 0; i < 3 && at <= size; i++) {
        const char *z = i < 2 && at < size ? memchr(d + at, '\0', size - at) : NULL;
        size_t end = z ? (size_t)(z - d) : size;
        p[i] = d + at;
        n[i] = end - at;
        at = z ? end + 1 : size + 1;
    }
    expect(p[0], n[0], p[1], n[1], p[0], n[0], p[1], n[1]);
    expect(p[0], n[0], p[0], n[0], p[2], n[2], p[2], n[2]);
    expect(p[0], n[0], p[1], n[1], p[1], n[1], p[1], n[1]);
    char *m1 = NULL, *m2 = NULL;
    size_t n1 = 0, n2 = 0, c1 = 0, c2 = 0;
    if (bp_merge_text(p[0], n[0], p[1], n[1], p[2], n[2], &m1, &n1, &c1) != 0 ||
        bp_merge_text(p[0], n[0], p[2], n[2], p[1], n[1], &m2, &n2, &c2) != 0)
        abort();
    if (c1 != c2 || m1[n1] != '\0' || m2[n2] != '\0')
        abort();
    if (c1 == 0 && (n1 != n2 || memcmp(m1, m2, n1) != 0))
        abort();
    if (count_markers(m1, n1) < c1)
        abort();
    free(m1);
    free(m2);
    return 0;
}
