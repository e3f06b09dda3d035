/* merge.c: three-way line merge (blindpad/merge.h).
 *
 * Algorithm (diff3):
 *   1. Split the three texts into lines (a line ends after '\n'; a last
 *      piece without '\n' is a line too; "" has no lines) and give every
 *      distinct line a number (a hash table over the bytes), so the diffs
 *      compare integers.
 *   2. Diff base->ours and base->theirs. Each diff is a list of hunks, in
 *      base order: base lines [b0,b1) were replaced by the side's lines
 *      [s0,s1) (b0 == b1: an insertion; s0 == s1: a deletion); two hunks of
 *      one diff are always separated by at least one unchanged line. The
 *      diff is Myers' O(ND) greedy algorithm ("An O(ND) Difference Algorithm
 *      and Its Variations", 1986), forward only, keeping the furthest-reaching
 *      x of every diagonal k for every cost d to walk the path back; the common
 *      head and tail are removed first. The trace costs (d+1)^2 ints, so d is
 *      capped at BP_MERGE_MAX_COST: past it the whole unmatched middle becomes
 *      one hunk (a valid, non-minimal diff).
 *   3. Walk both hunk lists together. A chunk starts at the hunk (of either
 *      side) with the lowest b0 and absorbs every hunk of either side with
 *      b0 <= the chunk's end (so touching changes and insertions at the same
 *      place join one chunk), growing the end to that hunk's b1. Base lines
 *      between chunks are copied. For a chunk [lo,hi) each side's version is
 *      its lines from lo+delta to hi+delta', delta being the running
 *      (inserted - deleted) count of that side's hunks before the chunk and
 *      delta' after it: this is exact because no hunk of that side crosses lo
 *      or hi. A chunk changed by one side only takes that side's version; one
 *      changed by both takes it once when both versions are the same lines,
 *      else it is a conflict block with markers.
 *
 * Properties this gives (tests/unit/test_client_merge.c and fuzz/fuzz_merge.c
 * check them): merge(b, x, b) == x, merge(b, b, y) == y, merge(b, x, x) == x,
 * and a clean merge(b, x, y) equals a clean merge(b, y, x).
 *
 * Memory: everything is malloc'd (BP_ENOMEM on failure, no abort) and freed
 * before returning, except *out, which the caller frees. */
#include <blindpad/merge.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct text {
    const char *s;
    size_t n;        /* lines */
    size_t *start;   /* n + 1 offsets: line i is s[start[i] .. start[i+1]) */
    uint32_t *id;    /* n line numbers */
};

struct hunk {
    size_t b0, b1, s0, s1;
};

struct hunks {
    struct hunk *h;
    size_t n, cap;
};

struct out {
    char *p;
    size_t n, cap;
    bool oom;
};

static void out_put(struct out *o, const char *s, size_t n)
{
    if (o->oom || n == 0)
        return;
    if (o->n + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->n + n + 1)
            cap *= 2;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->oom = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

/* ---- lines ---------------------------------------------------------------- */

static size_t count_lines(const char *s, size_t n)
{
    size_t k = 0;
    for (const char *p = s, *e = s + n; p < e; k++) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        p = nl ? nl + 1 : e;
    }
    return k;
}

static int split(struct text *t, const char *s, size_t n)
{
    t->s = s;
    t->n = count_lines(s, n);
    if (t->n > BP_MERGE_MAX_LINES)
        return BP_ETOOBIG;
    t->start = malloc((t->n + 1) * sizeof *t->start);
    t->id = malloc((t->n ? t->n : 1) * sizeof *t->id);
    if (!t->start || !t->id)
        return BP_ENOMEM;
    size_t k = 0;
    for (const char *p = s, *e = s + n; p < e; k++) {
        t->start[k] = (size_t)(p - s);
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        p = nl ? nl + 1 : e;
    }
    t->start[t->n] = n;
    return 0;
}

static const char *line_at(const struct text *t, size_t i, size_t *len)
{
    *len = t->start[i + 1] - t->start[i];
    return t->s + t->start[i];
}

/* Numbers equal lines equally across the three texts (open addressing; the
 * table is at least twice the number of lines, so probes stay short). */
struct slot {
    uint64_t h;
    const char *p;
    size_t len;
    uint32_t id;
    bool used;
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211u;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    return h;
}

static int number_lines(struct text *t, size_t nt)
{
    size_t total = 0;
    for (size_t i = 0; i < nt; i++)
        total += t[i].n;
    size_t cap = 16;
    while (cap < 2 * total)
        cap *= 2;
    struct slot *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return BP_ENOMEM;
    uint32_t next = 0;
    for (size_t i = 0; i < nt; i++) {
        for (size_t j = 0; j < t[i].n; j++) {
            size_t len;
            const char *p = line_at(&t[i], j, &len);
            uint64_t h = hash_bytes(p, len);
            size_t k = (size_t)h & (cap - 1);
            while (tab[k].used && !(tab[k].h == h && tab[k].len == len && memcmp(tab[k].p, p, len) == 0))
                k = (k + 1) & (cap - 1);
            if (!tab[k].used)
                tab[k] = (struct slot){h, p, len, next++, true};
            t[i].id[j] = tab[k].id;
        }
    }
    free(tab);
    return 0;
}

/* ---- diff ------------------------------------------------------------------ */

static int add_hunk(struct hunks *hs, size_t b0, size_t b1, size_t s0, size_t s1)
{
    if (b0 == b1 && s0 == s1)
        return 0;
    if (hs->n == hs->cap) {
        size_t cap = hs->cap ? 2 * hs->cap : 16;
        struct hunk *h = realloc(hs->h, cap * sizeof *h);
        if (!h)
            return BP_ENOMEM;
        hs->h = h;
        hs->cap = cap;
    }
    hs->h[hs->n++] = (struct hunk){b0, b1, s0, s1};
    return 0;
}

/* A run of equal lines found by the walk back: a[x..x+len) == b[y..y+len). */
struct snake {
    int32_t x, y, len;
};

/* Myers on a[0..N) vs b[0..M), N and M > 0 (positions are offsets from off_a
 * and off_b in the hunks). Returns 1 if the cost is over the cap (nothing
 * added), 0 or BP_ENOMEM. */
static int myers(const uint32_t *a, int32_t N, const uint32_t *b, int32_t M, size_t off_a, size_t off_b,
                 struct hunks *hs)
{
    int32_t dmax = N + M < BP_MERGE_MAX_COST ? N + M : BP_MERGE_MAX_COST;
    /* v[k + dmax + 1]: furthest x on diagonal k; trace[d*d + (k + d)] is v
     * after round d for k in [-d, d]. The trace grows as d does. */
    int32_t *v = malloc((size_t)(2 * dmax + 3) * sizeof *v);
    int32_t *trace = NULL;
    size_t tcap = 0;
    struct snake *sn = NULL;
    int rc = 0;
    if (!v)
        return BP_ENOMEM;
    int32_t *V = v + dmax + 1;
    V[1] = 0;
    int32_t D = -1;
    for (int32_t d = 0; d <= dmax && D < 0; d++) {
        size_t need = (size_t)((d + 1) * (d + 1));
        if (need > tcap) {
            size_t cap = tcap ? tcap : 1024;
            while (cap < need)
                cap *= 2;
            int32_t *t = realloc(trace, cap * sizeof *t);
            if (!t) {
                rc = BP_ENOMEM;
                goto out;
            }
            trace = t;
            tcap = cap;
        }
        for (int32_t k = -d; k <= d; k += 2) {
            int32_t x = (k == -d || (k != d && V[k - 1] < V[k + 1])) ? V[k + 1] : V[k - 1] + 1;
            int32_t y = x - k;
            while (x < N && y < M && a[x] == b[y]) {
                x++;
                y++;
            }
            V[k] = x;
            if (x >= N && y >= M && D < 0)
                D = d;
        }
        memcpy(trace + d * d, V - d, (size_t)(2 * d + 1) * sizeof *V);
    }
    if (D < 0) {
        rc = 1;
        goto out;
    }
    /* Walk back from (N, M): each round d came from round d-1 by one step
     * (a deletion or an insertion) followed by a snake. */
    sn = malloc((size_t)(D + 1) * sizeof *sn);
    if (!sn) {
        rc = BP_ENOMEM;
        goto out;
    }
    int32_t x = N, y = M, ns = 0;
    for (int32_t d = D; d > 0; d--) {
        const int32_t *P = trace + (d - 1) * (d - 1) + (d - 1); /* P[k]: round d-1 */
        int32_t k = x - y;
        int32_t pk = (k == -d || (k != d && P[k - 1] < P[k + 1])) ? k + 1 : k - 1;
        int32_t px = P[pk], py = px - pk;
        int32_t mx = pk == k + 1 ? px : px + 1; /* after the step: insertion or deletion */
        sn[ns++] = (struct snake){mx, mx - k, x - mx};
        x = px;
        y = py;
    }
    sn[ns++] = (struct snake){0, 0, x}; /* round 0: a snake from (0, 0) */
    int32_t ax = 0, by = 0;
    for (int32_t i = ns; i-- > 0;) {
        if (sn[i].len == 0)
            continue;
        if (sn[i].x > ax || sn[i].y > by)
            if ((rc = add_hunk(hs, off_a + (size_t)ax, off_a + (size_t)sn[i].x, off_b + (size_t)by,
                               off_b + (size_t)sn[i].y)))
                goto out;
        ax = sn[i].x + sn[i].len;
        by = sn[i].y + sn[i].len;
    }
    rc = add_hunk(hs, off_a + (size_t)ax, off_a + (size_t)N, off_b + (size_t)by, off_b + (size_t)M);
out:
    free(v);
    free(trace);
    free(sn);
    return rc;
}

static int diff(const struct text *a, const struct text *b, struct hunks *hs)
{
    size_t na = a->n, nb = b->n, p = 0, s = 0;
    while (p < na && p < nb && a->id[p] == b->id[p])
        p++;
    while (s < na - p && s < nb - p && a->id[na - 1 - s] == b->id[nb - 1 - s])
        s++;
    int32_t N = (int32_t)(na - p - s), M = (int32_t)(nb - p - s);
    if (N == 0 || M == 0)
        return add_hunk(hs, p, na - s, p, nb - s);
    int r = myers(a->id + p, N, b->id + p, M, p, p, hs);
    if (r == 1) /* over the cost cap: one block */
        return add_hunk(hs, p, na - s, p, nb - s);
    return r;
}

/* ---- merge ----------------------------------------------------------------- */

static void put_lines(struct out *o, const struct text *t, size_t from, size_t to)
{
    if (from < to)
        out_put(o, t->s + t->start[from], t->start[to] - t->start[from]);
}

/* Lines of a side inside a conflict block: ends with '\n' so the next marker
 * starts a line. */
static void put_block(struct out *o, const struct text *t, size_t from, size_t to)
{
    put_lines(o, t, from, to);
    if (from < to && t->s[t->start[to] - 1] != '\n')
        out_put(o, "\n", 1);
}

static bool same_lines(const struct text *x, size_t x0, size_t x1, const struct text *y, size_t y0,
                       size_t y1)
{
    if (x1 - x0 != y1 - y0)
        return false;
    for (size_t i = 0; i < x1 - x0; i++)
        if (x->id[x0 + i] != y->id[y0 + i])
            return false;
    return true;
}

static void combine(const struct text *base, const struct text *ours, const struct text *theirs,
                    const struct hunks *ho, const struct hunks *ht, struct out *o, size_t *conflicts)
{
    size_t i = 0, j = 0, pos = 0; /* next hunk of each side; base lines copied up to pos */
    /* running (side position - base position) outside that side's hunks */
    long long dO = 0, dT = 0;
    while (i < ho->n || j < ht->n) {
        size_t lo = (j >= ht->n || (i < ho->n && ho->h[i].b0 <= ht->h[j].b0)) ? ho->h[i].b0 : ht->h[j].b0;
        size_t hi = lo;
        long long dO0 = dO, dT0 = dT;
        bool by_o = false, by_t = false;
        for (;;) {
            if (i < ho->n && ho->h[i].b0 <= hi) {
                const struct hunk *h = &ho->h[i++];
                hi = h->b1 > hi ? h->b1 : hi;
                dO += (long long)(h->s1 - h->s0) - (long long)(h->b1 - h->b0);
                by_o = true;
            } else if (j < ht->n && ht->h[j].b0 <= hi) {
                const struct hunk *h = &ht->h[j++];
                hi = h->b1 > hi ? h->b1 : hi;
                dT += (long long)(h->s1 - h->s0) - (long long)(h->b1 - h->b0);
                by_t = true;
            } else {
                break;
            }
        }
        put_lines(o, base, pos, lo);
        pos = hi;
        size_t o0 = (size_t)((long long)lo + dO0), o1 = (size_t)((long long)hi + dO);
        size_t t0 = (size_t)((long long)lo + dT0), t1 = (size_t)((long long)hi + dT);
        if (!by_t || (by_o && same_lines(ours, o0, o1, theirs, t0, t1))) {
            put_lines(o, ours, o0, o1);
        } else if (!by_o) {
            put_lines(o, theirs, t0, t1);
        } else {
            static const char m1[] = "<<<<<<< yours\n", m2[] = "=======\n", m3[] = ">>>>>>> theirs\n";
            out_put(o, m1, sizeof m1 - 1);
            put_block(o, ours, o0, o1);
            out_put(o, m2, sizeof m2 - 1);
            put_block(o, theirs, t0, t1);
            out_put(o, m3, sizeof m3 - 1);
            (*conflicts)++;
        }
    }
    put_lines(o, base, pos, base->n);
}

int bp_merge_text(const char *base, size_t bn, const char *ours, size_t on, const char *theirs,
                  size_t tn, char **out, size_t *outlen, size_t *conflicts)
{
    if (!out || !outlen)
        return BP_EINVAL;
    *out = NULL;
    *outlen = 0;
    if (conflicts)
        *conflicts = 0;
    if ((!base && bn) || (!ours && on) || (!theirs && tn))
        return BP_EINVAL;
    struct text t[3] = {{0}, {0}, {0}};
    struct hunks ho = {0}, ht = {0};
    struct out o = {0};
    size_t nconf = 0;
    int r;
    if ((r = split(&t[0], base ? base : "", bn)) || (r = split(&t[1], ours ? ours : "", on)) ||
        (r = split(&t[2], theirs ? theirs : "", tn)) || (r = number_lines(t, 3)) ||
        (r = diff(&t[0], &t[1], &ho)) || (r = diff(&t[0], &t[2], &ht)))
        goto done;
    combine(&t[0], &t[1], &t[2], &ho, &ht, &o, &nconf);
    out_put(&o, "", 0);
    if (!o.oom && !o.p && !(o.p = malloc(1)))
        o.oom = true;
    if (o.oom) {
        r = BP_ENOMEM;
        goto done;
    }
    o.p[o.n] = '\0';
    *out = o.p;
    *outlen = o.n;
    o.p = NULL;
    if (conflicts)
        *conflicts = nconf;
done:
    for (int i = 0; i < 3; i++) {
        free(t[i].start);
        free(t[i].id);
    }
    free(ho.h);
    free(ht.h);
    free(o.p);
    return r;
}
