/* Unit tests: src/client/merge.c (three-way line merge). Hand-made cases
 * (disjoint edits, the same edit on both sides, conflicts, insertions at the
 * same place, deletions, empty texts, no trailing newline, CRLF, the cost
 * cap), then randomized properties: disjoint edits made on each side of a
 * random base merge to the text with both applied; merge(b, x, b) == x;
 * merge(b, b, y) == y; merge(b, x, x) == x; clean merges are symmetric. */
#include "test.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/merge.h"

/* Merges and checks the result and the conflict count. */
static void check(const char *base, const char *ours, const char *theirs, const char *want, size_t want_conf)
{
    char *out = NULL;
    size_t n = 0, conf = 99;
    assert_int_equal(bp_merge_text(base, strlen(base), ours, strlen(ours), theirs, strlen(theirs), &out, &n, &conf), 0);
    assert_non_null(out);
    if (strcmp(out, want) != 0 || conf != want_conf)
        fprintf(stderr, "base=[%s] ours=[%s] theirs=[%s]\n got=[%s] (%zu conflicts)\nwant=[%s] (%zu)\n", base, ours,
                theirs, out, conf, want, want_conf);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, want);
    assert_int_equal(conf, want_conf);
    free(out);
}

static void test_disjoint(void **st)
{
    (void)st;
    const char *b = "1\n2\n3\n4\n5\n";
    check(b, "one\n2\n3\n4\n5\n", "1\n2\n3\n4\nfive\n", "one\n2\n3\n4\nfive\n", 0);
    check(b, "1\n2\n3\n4\nfive\n", "one\n2\n3\n4\n5\n", "one\n2\n3\n4\nfive\n", 0);
    /* an insertion on each side, far apart */
    check(b, "0\n1\n2\n3\n4\n5\n", "1\n2\n3\n4\n5\n6\n", "0\n1\n2\n3\n4\n5\n6\n", 0);
    /* one side only */
    check(b, b, "1\n2\nx\n4\n5\n", "1\n2\nx\n4\n5\n", 0);
    check(b, "1\n2\nx\n4\n5\n", b, "1\n2\nx\n4\n5\n", 0);
    /* separated by one unchanged line */
    check(b, "1\nA\n3\n4\n5\n", "1\n2\n3\nB\n5\n", "1\nA\n3\nB\n5\n", 0);
}

static void test_same_edit(void **st)
{
    (void)st;
    check("a\nb\nc\n", "a\nB\nc\n", "a\nB\nc\n", "a\nB\nc\n", 0);
    /* same change plus a disjoint one on one side */
    check("a\nb\nc\nd\ne\n", "a\nB\nc\nd\ne\n", "a\nB\nc\nd\nE\n", "a\nB\nc\nd\nE\n", 0);
    check("a\nb\nc\n", "a\nc\n", "a\nc\n", "a\nc\n", 0);
}

static void test_conflict(void **st)
{
    (void)st;
    check("a\nb\nc\n", "a\nmine\nc\n", "a\ntheirs\nc\n",
          "a\n<<<<<<< yours\nmine\n=======\ntheirs\n>>>>>>> theirs\nc\n", 1);
    /* two conflicts, and a clean change between them */
    check("1\n2\n3\n4\n5\n", "x\n2\n3\n4\ny\n", "X\n2\nthree\n4\nY\n",
          "<<<<<<< yours\nx\n=======\nX\n>>>>>>> theirs\n2\nthree\n4\n"
          "<<<<<<< yours\ny\n=======\nY\n>>>>>>> theirs\n",
          2);
    /* adjacent changes count as one conflict (as in git) */
    check("a\nb\nc\nd\n", "a\nB\nc\nd\n", "a\nb\nC\nd\n", "a\n<<<<<<< yours\nB\nc\n=======\nb\nC\n>>>>>>> theirs\nd\n", 1);
    /* change vs deletion */
    check("a\nb\nc\n", "a\nB\nc\n", "a\nc\n", "a\n<<<<<<< yours\nB\n=======\n>>>>>>> theirs\nc\n", 1);
}

static void test_insert_same_spot(void **st)
{
    (void)st;
    check("a\nb\n", "a\nx\nb\n", "a\ny\nb\n", "a\n<<<<<<< yours\nx\n=======\ny\n>>>>>>> theirs\nb\n", 1);
    check("a\nb\n", "a\nx\nb\n", "a\nx\nb\n", "a\nx\nb\n", 0);
    /* both append at the end */
    check("a\n", "a\nx\n", "a\ny\n", "a\n<<<<<<< yours\nx\n=======\ny\n>>>>>>> theirs\n", 1);
}

static void test_deletions(void **st)
{
    (void)st;
    const char *b = "1\n2\n3\n4\n5\n6\n";
    check(b, "2\n3\n4\n5\n6\n", "1\n2\n3\n4\n5\n", "2\n3\n4\n5\n", 0);
    check(b, "1\n4\n5\n6\n", "1\n2\n3\n4\n6\n", "1\n4\n6\n", 0);
    check(b, "", b, "", 0);
    check(b, b, "", "", 0);
    check(b, "", "", "", 0);
    /* one deletes everything, the other changes a line: conflict */
    check(b, "", "1\n2\nx\n4\n5\n6\n", "<<<<<<< yours\n=======\n1\n2\nx\n4\n5\n6\n>>>>>>> theirs\n", 1);
}

static void test_empty(void **st)
{
    (void)st;
    check("", "", "", "", 0);
    check("", "a\n", "", "a\n", 0);
    check("", "", "b\n", "b\n", 0);
    check("", "a\n", "a\n", "a\n", 0);
    check("", "a\n", "b\n", "<<<<<<< yours\na\n=======\nb\n>>>>>>> theirs\n", 1);
    char *out = NULL;
    size_t n = 1, conf = 1;
    assert_int_equal(bp_merge_text(NULL, 0, NULL, 0, NULL, 0, &out, &n, &conf), 0);
    assert_string_equal(out, "");
    assert_int_equal(n, 0);
    assert_int_equal(conf, 0);
    free(out);
    assert_int_equal(bp_merge_text(NULL, 1, "", 0, "", 0, &out, &n, NULL), BP_EINVAL);
    assert_null(out);
    assert_int_equal(bp_merge_text("", 0, "", 0, "", 0, NULL, &n, NULL), BP_EINVAL);
}

static void test_no_trailing_newline(void **st)
{
    (void)st;
    /* the last line without '\n' is a line of its own */
    check("a\nb\nc", "A\nb\nc", "a\nb\nC", "A\nb\nC", 0);
    check("a\nb\nc", "a\nb\nc\n", "A\nb\nc", "A\nb\nc\n", 0);
    check("a", "b", "a", "b", 0);
    check("a\nb", "a\nb\nc", "a\nb", "a\nb\nc", 0);
    /* a conflict on unterminated last lines: markers stay on their own lines */
    check("a\nb", "a\nx", "a\ny", "a\n<<<<<<< yours\nx\n=======\ny\n>>>>>>> theirs\n", 1);
    /* the same unterminated change on both sides is taken once */
    check("a\nb", "a\nx", "a\nx", "a\nx", 0);
}

static void test_crlf(void **st)
{
    (void)st;
    /* bytes are bytes: "\r\n" lines keep their "\r" */
    check("a\r\nb\r\nc\r\n", "A\r\nb\r\nc\r\n", "a\r\nb\r\nC\r\n", "A\r\nb\r\nC\r\n", 0);
    /* a line that only changed its line ending is a change */
    check("a\nb\nc\n", "a\r\nb\nc\n", "a\nb\nc\n", "a\r\nb\nc\n", 0);
    check("a\nb\nc\n", "a\r\nb\nc\n", "x\nb\nc\n", "<<<<<<< yours\na\r\n=======\nx\n>>>>>>> theirs\nb\nc\n", 1);
    /* NUL bytes inside lines */
    char out_want[] = "x\0y\nb\nz\n";
    char *out = NULL;
    size_t n = 0, conf = 0;
    assert_int_equal(bp_merge_text("a\nb\nc\n", 6, "x\0y\nb\nc\n", 8, "a\nb\nz\n", 6, &out, &n, &conf), 0);
    assert_int_equal(n, sizeof out_want - 1);
    assert_memory_equal(out, out_want, n);
    assert_int_equal(conf, 0);
    free(out);
}

static void test_repeated_lines(void **st)
{
    (void)st;
    check("x\nx\nx\nx\nx\nx\nx\n", "x\nx\nx\nx\nx\nx\nx\nend\n", "start\nx\nx\nx\nx\nx\nx\nx\n",
          "start\nx\nx\nx\nx\nx\nx\nx\nend\n", 0);
    /* minus one line, plus one line: the diffs put both at the end, where
     * they touch: a conflict (git says the same), not a guess */
    check("}\n}\n}\n", "}\n}\n", "}\n}\n}\n}\n", "}\n}\n<<<<<<< yours\n=======\n}\n}\n>>>>>>> theirs\n", 1);
}

/* Over the cost cap the diff becomes one block: still clean when the other
 * side did not touch it, a conflict when it did; never a wrong merge. */
static void test_cost_cap(void **st)
{
    (void)st;
    const size_t n = BP_MERGE_MAX_COST + 500;
    size_t cap = n * 16 + 64;
    char *b = malloc(cap), *o = malloc(cap), *t = malloc(cap);
    size_t bn = 0, on = 0, tn = 0;
    tn += (size_t)snprintf(t + tn, cap - tn, "head changed\n");
    for (size_t i = 0; i < n; i++) {
        bn += (size_t)snprintf(b + bn, cap - bn, "b%zu\n", i);
        on += (size_t)snprintf(o + on, cap - on, "o%zu\n", i);
        tn += (size_t)snprintf(t + tn, cap - tn, "b%zu\n", i);
    }
    char *out = NULL;
    size_t outn = 0, conf = 0;
    /* ours rewrote every line, theirs only inserted a head line: the block
     * is [0, n) in base and the head insertion at 0 touches it: conflict */
    assert_int_equal(bp_merge_text(b, bn, o, on, t, tn, &out, &outn, &conf), 0);
    assert_int_equal(conf, 1);
    free(out);
    /* theirs unchanged: ours exactly */
    assert_int_equal(bp_merge_text(b, bn, o, on, b, bn, &out, &outn, &conf), 0);
    assert_int_equal(conf, 0);
    assert_int_equal(outn, on);
    assert_memory_equal(out, o, on);
    free(out);
    free(b);
    free(o);
    free(t);
}

/* ---- random -------------------------------------------------------------- */

struct lines {
    char **l;
    size_t n, cap;
};

static void push(struct lines *L, char *s)
{
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 16;
        L->l = realloc(L->l, L->cap * sizeof *L->l);
        assert_non_null(L->l);
    }
    L->l[L->n++] = s;
}

static char *join(const struct lines *L, size_t *n)
{
    size_t len = 0;
    for (size_t i = 0; i < L->n; i++)
        len += strlen(L->l[i]);
    char *s = malloc(len + 1), *p = s;
    for (size_t i = 0; i < L->n; i++) {
        size_t k = strlen(L->l[i]);
        memcpy(p, L->l[i], k);
        p += k;
    }
    *p = '\0';
    *n = len;
    return s;
}

static char *fmt(const char *f, unsigned a, unsigned b)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, f, a, b);
    return strdup(tmp);
}

static void merge_eq(const char *b, size_t bn, const char *x, size_t xn, const char *y, size_t yn, const char *want,
                     size_t wn)
{
    char *out = NULL;
    size_t n = 0, conf = 9;
    assert_int_equal(bp_merge_text(b, bn, x, xn, y, yn, &out, &n, &conf), 0);
    if (conf != 0 || n != wn || memcmp(out, want, n) != 0)
        fprintf(stderr, "base:\n%s\nours:\n%s\ntheirs:\n%s\ngot (%zu conflicts):\n%s\nwant:\n%s\n", b, x, y, conf,
                out, want);
    assert_int_equal(conf, 0);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    free(out);
}

/* Random base of unique lines; edits (replace 0-2 lines by 0-2 new lines,
 * at least one line touched) given at random to ours or theirs, always with
 * an untouched base line between two edits. With unique lines the minimal
 * diff of each side finds exactly its edits, so the merge must be clean and
 * equal to the base with both sides' edits applied. */
static void test_random_disjoint(void **st)
{
    (void)st;
    for (unsigned iter = 0; iter < 2000; iter++) {
        size_t nb = randombytes_uniform(40);
        struct lines base = {0}, ours = {0}, theirs = {0}, both = {0};
        for (size_t i = 0; i < nb; i++)
            push(&base, fmt("base %u.%u\n", iter, (unsigned)i));
        unsigned fresh = 0;
        size_t i = 0;
        bool gap_ok = true; /* an untouched line was kept since the last edit */
        while (i <= nb) {
            if (gap_ok && randombytes_uniform(3) == 0) {
                size_t del = randombytes_uniform(3);
                if (i + del > nb)
                    del = nb - i;
                size_t ins = randombytes_uniform(3);
                if (del == 0 && ins == 0)
                    ins = 1;
                bool mine = randombytes_uniform(2);
                struct lines *side = mine ? &ours : &theirs, *other = mine ? &theirs : &ours;
                for (size_t k = 0; k < ins; k++) {
                    char *s = fmt(mine ? "ours %u.%u\n" : "theirs %u.%u\n", iter, fresh++);
                    push(side, s);
                    push(&both, strdup(s));
                }
                for (size_t k = 0; k < del; k++)
                    push(other, strdup(base.l[i + k]));
                i += del;
                gap_ok = false;
                continue;
            }
            if (i == nb)
                break;
            push(&ours, strdup(base.l[i]));
            push(&theirs, strdup(base.l[i]));
            push(&both, strdup(base.l[i]));
            gap_ok = true;
            i++;
        }
        size_t bn, on, tn, wn;
        char *b = join(&base, &bn), *o = join(&ours, &on), *t = join(&theirs, &tn), *w = join(&both, &wn);
        merge_eq(b, bn, o, on, t, tn, w, wn);
        merge_eq(b, bn, t, tn, o, on, w, wn);
        free(b);
        free(o);
        free(t);
        free(w);
        struct lines *all[] = {&base, &ours, &theirs, &both};
        for (size_t k = 0; k < 4; k++) {
            for (size_t j = 0; j < all[k]->n; j++)
                free(all[k]->l[j]);
            free(all[k]->l);
        }
    }
}

/* Random texts over a tiny alphabet (lots of repeated lines, "\r", lines
 * without '\n'): the identities hold whatever the diff finds. */
static char *random_text(size_t *n)
{
    static const char alpha[] = "ab\n\n\r";
    size_t len = randombytes_uniform(60);
    char *s = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        s[i] = alpha[randombytes_uniform(sizeof alpha - 1)];
    s[len] = '\0';
    *n = len;
    return s;
}

static void test_random_identities(void **st)
{
    (void)st;
    for (unsigned iter = 0; iter < 3000; iter++) {
        size_t bn, xn, yn;
        char *b = random_text(&bn), *x = random_text(&xn), *y = random_text(&yn);
        merge_eq(b, bn, x, xn, b, bn, x, xn);
        merge_eq(b, bn, b, bn, y, yn, y, yn);
        merge_eq(b, bn, x, xn, x, xn, x, xn);
        char *m1 = NULL, *m2 = NULL;
        size_t n1, n2, c1, c2;
        assert_int_equal(bp_merge_text(b, bn, x, xn, y, yn, &m1, &n1, &c1), 0);
        assert_int_equal(bp_merge_text(b, bn, y, yn, x, xn, &m2, &n2, &c2), 0);
        assert_int_equal(c1, c2);
        if (c1 == 0) {
            assert_int_equal(n1, n2);
            assert_memory_equal(m1, m2, n1);
        } else {
            assert_non_null(strstr(m1, "<<<<<<< yours\n"));
        }
        free(m1);
        free(m2);
        free(b);
        free(x);
        free(y);
    }
}

static void test_too_many_lines(void **st)
{
    (void)st;
    size_t n = (size_t)BP_MERGE_MAX_LINES + 1;
    char *s = malloc(n);
    memset(s, '\n', n);
    char *out = (char *)1;
    size_t outn;
    assert_int_equal(bp_merge_text(s, n, "", 0, "", 0, &out, &outn, NULL), BP_ETOOBIG);
    assert_null(out);
    free(s);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disjoint),
        cmocka_unit_test(test_same_edit),
        cmocka_unit_test(test_conflict),
        cmocka_unit_test(test_insert_same_spot),
        cmocka_unit_test(test_deletions),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_no_trailing_newline),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_repeated_lines),
        cmocka_unit_test(test_cost_cap),
        cmocka_unit_test(test_random_disjoint),
        cmocka_unit_test(test_random_identities),
        cmocka_unit_test(test_too_many_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
