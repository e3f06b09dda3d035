/* chainpad.c: the ChainPad engine (blindpad/chainpad.h; CHAINPAD.md §4-§5).
 *
 * State: every message the engine holds is a struct msg hanging off a struct
 * node in a hash table keyed by the message hash. A node also exists for a
 * hash that is only named as a parent (its kids list is ChainPad's
 * messagesByParent index, in arrival order), and survives when its message is
 * forgotten (the "pruned" mark answers status queries). Nodes are freed with
 * the engine.
 *
 * For every message on the winning chain the engine keeps the hash of the
 * content after it ("after", §3.3) and the inverse of its patch, so it can
 * walk back to a common ancestor when another branch wins (as JS does with
 * its inverse patches). Depths are computed once (§4.1). Connectivity to the
 * root is cached per message with an epoch that changes whenever the root
 * moves (prune, checkpoint adoption), since only then can a message lose it.
 *
 * The writer keeps the user's desired content "user" next to "auth", and the
 * uncommitted work as operations "work" (auth -> user), as JS does. A new
 * desired content is diffed against the previous one and composed onto work,
 * so an insert keeps the place it was made at. When the head changes, work is
 * carried over as in §5.4: own messages applied or reverted are composed into
 * it (user unchanged); other authors' patches transform it (TextTransformer on
 * the operations themselves, never a re-diff of whole texts, which could
 * split an insert that starts like its neighbour). JSON engines then run a
 * structural three-way merge whose string values come from the transformed
 * text when it parses. */
#include "blindpad/chainpad.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/err.h"
#include "blindpad/sortify.h"
#include "client/chainpad_internal.h"
#include "common/xmalloc.h"

struct node;

struct msg {
    int type;
    struct cp_op *ops;
    size_t nops;
    struct u16 pch, parent; /* as sent (for re-serialization) */
    uint8_t pch_b[32], parent_b[32];
    bool pch_ok, parent_ok; /* exactly 64 lowercase hex */
    struct node *node;
    long long depth; /* -1: not computed yet */
    uint8_t after[32];
    bool after_ok;
    struct cp_op *inv; /* inverse patch, once applied */
    size_t ninv;
    bool inv_ok;
    bool from_me, initial;
    unsigned long conn_epoch;
};

struct node {
    uint8_t h[32];
    struct msg *m;
    struct node **kids;
    size_t nkids, capk;
    bool pruned;
};

struct bp_chainpad {
    unsigned flags;
    struct node **tab;
    size_t tabcap, tabn;
    struct msg *root, *best, *initmsg;
    unsigned long epoch;
    struct u16 auth, user;
    struct cp_op *work; /* uncommitted work: apply(auth, work) == user, simplest form */
    size_t nwork;
    char *pending; /* message in flight (UTF-8) */
    size_t pendinglen;
    bool need_init_send;
};

static bool is_json(const bp_chainpad *cp)
{
    return cp->flags & (BP_CHAINPAD_JSON | BP_CHAINPAD_LISTMAP);
}

/* ---- table ------------------------------------------------------------------ */

static size_t slot_of(const uint8_t h[32], size_t cap)
{
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)v & (cap - 1);
}

static struct node *find(const bp_chainpad *cp, const uint8_t h[32])
{
    size_t i = slot_of(h, cp->tabcap);
    while (cp->tab[i]) {
        if (memcmp(cp->tab[i]->h, h, 32) == 0)
            return cp->tab[i];
        i = (i + 1) & (cp->tabcap - 1);
    }
    return NULL;
}

static struct node *get_node(bp_chainpad *cp, const uint8_t h[32])
{
    struct node *n = find(cp, h);
    if (n)
        return n;
    if ((cp->tabn + 1) * 2 > cp->tabcap) {
        size_t ncap = cp->tabcap * 2;
        struct node **nt = xcalloc(ncap, sizeof *nt);
        for (size_t i = 0; i < cp->tabcap; i++) {
            if (!cp->tab[i])
                continue;
            size_t j = slot_of(cp->tab[i]->h, ncap);
            while (nt[j])
                j = (j + 1) & (ncap - 1);
            nt[j] = cp->tab[i];
        }
        free(cp->tab);
        cp->tab = nt;
        cp->tabcap = ncap;
    }
    n = xcalloc(1, sizeof *n);
    memcpy(n->h, h, 32);
    size_t i = slot_of(h, cp->tabcap);
    while (cp->tab[i])
        i = (i + 1) & (cp->tabcap - 1);
    cp->tab[i] = n;
    cp->tabn++;
    return n;
}

static void msg_free(struct msg *m)
{
    if (!m)
        return;
    cp_ops_free(m->ops, m->nops);
    cp_ops_free(m->inv, m->ninv);
    u16_free(&m->pch);
    u16_free(&m->parent);
    free(m);
}

static struct msg *parent_of(const bp_chainpad *cp, const struct msg *m)
{
    if (!m->parent_ok)
        return NULL;
    struct node *n = find(cp, m->parent_b);
    return n ? n->m : NULL;
}

/* Stores a parsed message under hash h (CHAINPAD.md §4.2 step 4). Takes over p. */
static struct msg *store(bp_chainpad *cp, struct cp_parsed *p, const uint8_t h[32])
{
    struct msg *m = xcalloc(1, sizeof *m);
    m->type = p->type;
    m->ops = p->ops;
    m->nops = p->nops;
    m->pch = p->pch;
    m->parent = p->parent;
    memset(p, 0, sizeof *p);
    m->pch_ok = cp_unhex(m->pch.p, m->pch.n, m->pch_b);
    m->parent_ok = cp_unhex(m->parent.p, m->parent.n, m->parent_b);
    m->depth = -1;
    struct node *n = get_node(cp, h);
    n->m = m;
    m->node = n;
    if (m->parent_ok) {
        struct node *pn = get_node(cp, m->parent_b);
        if (pn->nkids == pn->capk) {
            pn->capk = pn->capk ? pn->capk * 2 : 2;
            pn->kids = xrealloc(pn->kids, pn->capk * sizeof *pn->kids);
        }
        pn->kids[pn->nkids++] = n;
    }
    return m;
}

static void forget(bp_chainpad *cp, struct msg *m, bool pruned)
{
    if (m->parent_ok) {
        struct node *pn = find(cp, m->parent_b);
        for (size_t i = 0; pn && i < pn->nkids; i++) {
            if (pn->kids[i] == m->node) {
                memmove(pn->kids + i, pn->kids + i + 1, (pn->nkids - i - 1) * sizeof *pn->kids);
                pn->nkids--;
                break;
            }
        }
    }
    m->node->m = NULL;
    m->node->pruned = pruned;
    if (cp->initmsg == m)
        cp->initmsg = NULL;
    msg_free(m);
}

/* ---- tree queries ------------------------------------------------------------- */

static long long depth_of(const bp_chainpad *cp, struct msg *m)
{
    if (m->depth >= 0)
        return m->depth;
    /* walk up to a message with a known depth, then number downwards */
    size_t n = 0, cap = 16;
    struct msg **path = xmalloc(cap * sizeof *path);
    struct msg *cur = m;
    while (cur && cur->depth < 0) {
        if (n == cap)
            path = xrealloc(path, (cap *= 2) * sizeof *path);
        path[n++] = cur;
        cur = parent_of(cp, cur);
    }
    long long d = cur ? cur->depth : -1;
    if (d >= 0)
        for (size_t i = n; i-- > 0;)
            path[i]->depth = ++d;
    free(path);
    return m->depth;
}

static bool connected(const bp_chainpad *cp, struct msg *m)
{
    struct msg *cur = m;
    while (cur != cp->root && cur->conn_epoch != cp->epoch) {
        cur = parent_of(cp, cur);
        if (!cur)
            return false;
    }
    for (cur = m; cur && cur != cp->root && cur->conn_epoch != cp->epoch; cur = parent_of(cp, cur))
        cur->conn_epoch = cp->epoch;
    return true;
}

/* Both connected. */
static bool is_ancestor(const bp_chainpad *cp, struct msg *a, struct msg *d)
{
    long long da = depth_of(cp, a);
    while (d && depth_of(cp, d) > da)
        d = parent_of(cp, d);
    return d == a;
}

static struct msg *common_ancestor(const bp_chainpad *cp, struct msg *a, struct msg *b)
{
    while (a && b && a != b) {
        long long da = depth_of(cp, a), db = depth_of(cp, b);
        if (da >= db)
            a = parent_of(cp, a);
        if (db >= da)
            b = parent_of(cp, b);
    }
    return a == b ? a : NULL;
}

/* The first message in preorder (children in arrival order) with the greatest
 * depth under m, m included (§4.2 step 6). */
static struct msg *deepest(const bp_chainpad *cp, struct msg *m)
{
    struct frame {
        struct node *n;
        size_t i;
        long long d;
    };
    size_t cap = 32, top = 0;
    struct frame *st = xmalloc(cap * sizeof *st);
    struct msg *best = m;
    long long bestd = depth_of(cp, m);
    st[top++] = (struct frame){m->node, 0, bestd};
    while (top) {
        struct frame *f = &st[top - 1];
        if (f->i >= f->n->nkids) {
            top--;
            continue;
        }
        struct node *k = f->n->kids[f->i++];
        struct msg *km = k->m;
        if (!km)
            continue;
        if (km->depth < 0)
            km->depth = f->d + 1;
        long long kd = km->depth;
        if (kd > bestd) {
            best = km;
            bestd = kd;
        }
        if (top == cap)
            st = xrealloc(st, (cap *= 2) * sizeof *st);
        st[top++] = (struct frame){k, 0, kd};
    }
    free(st);
    return best;
}

static int status_of_msg(const bp_chainpad *cp, struct msg *m)
{
    if (!connected(cp, m))
        return BP_CHAINPAD_ORPHAN;
    return is_ancestor(cp, m, cp->best) ? BP_CHAINPAD_CHAIN : BP_CHAINPAD_FORK;
}

static int status_of_node(const bp_chainpad *cp, const struct node *n)
{
    if (n->m)
        return status_of_msg(cp, n->m);
    return n->pruned ? BP_CHAINPAD_PRUNED : BP_CHAINPAD_REJECTED;
}

/* ---- content carry-over (§5.4) ------------------------------------------------- */

/* JSON three-way merge: remote wins conflicts; objects merge key by key;
 * strings merge as text; arrays merge element-wise when the lengths agree or
 * when both sides only appended. Returns a new reference. */
static json_t *jmerge(const json_t *b, const json_t *t, const json_t *m, const json_t *h,
                      int depth);

/* h: the same place in the operation-transformed text (the hint), or NULL */
static json_t *jstr_merge(const json_t *b, const json_t *t, const json_t *m, const json_t *h)
{
    if (json_is_string(h))
        return json_deep_copy(h); /* the transformed ops kept every insert whole */
    struct u16 ub = U16_INIT, ut = U16_INIT, um = U16_INIT, out = U16_INIT;
    json_t *res = NULL;
    if (u16_from_utf8(&ub, json_string_value(b), json_string_length(b), false) == 0 &&
        u16_from_utf8(&ut, json_string_value(t), json_string_length(t), false) == 0 &&
        u16_from_utf8(&um, json_string_value(m), json_string_length(m), false) == 0) {
        cp_merge_text(&ub, &ut, &um, &out);
        size_t len;
        char *s = u16_to_utf8(out.p, out.n, &len);
        if (s)
            res = json_stringn_nocheck(s, len);
        free(s);
    }
    u16_free(&ub);
    u16_free(&ut);
    u16_free(&um);
    u16_free(&out);
    return res ? res : json_deep_copy(t);
}

static json_t *jmerge(const json_t *b, const json_t *t, const json_t *m, const json_t *h,
                      int depth)
{
    if (!b || depth > 200 || json_equal(b, m) || json_equal(t, m))
        return json_deep_copy(t); /* added on both sides, or nothing of mine: theirs */
    if (json_equal(b, t))
        return json_deep_copy(m);
    if (json_is_object(b) && json_is_object(t) && json_is_object(m)) {
        json_t *res = json_deep_copy(t);
        const char *k;
        json_t *vm;
        json_object_foreach((json_t *)m, k, vm) {
            json_t *vb = json_object_get(b, k), *vt = json_object_get(t, k);
            if (vt)
                json_object_set_new(res, k, jmerge(vb, vt, vm, json_object_get(h, k), depth + 1));
            else if (!vb)
                json_object_set(res, k, vm); /* added by me */
            /* else: removed by them: stays removed */
        }
        json_t *vb;
        json_object_foreach((json_t *)b, k, vb) {
            json_t *vt = json_object_get(t, k);
            if (vt && !json_object_get(m, k) && json_equal(vb, vt))
                json_object_del(res, k); /* removed by me, untouched by them */
        }
        return res;
    }
    if (json_is_string(b) && json_is_string(t) && json_is_string(m))
        return jstr_merge(b, t, m, h);
    if (json_is_array(b) && json_is_array(t) && json_is_array(m)) {
        size_t nb = json_array_size(b), nt = json_array_size(t), nm = json_array_size(m);
        if (nb == nt && nb == nm) {
            json_t *res = json_array();
            const json_t *ha = json_array_size(h) == nb ? h : NULL;
            for (size_t i = 0; i < nb; i++)
                json_array_append_new(res, jmerge(json_array_get(b, i), json_array_get(t, i),
                                                  json_array_get(m, i), json_array_get(ha, i),
                                                  depth + 1));
            return res;
        }
        bool tp = nt >= nb, mp = nm >= nb;
        for (size_t i = 0; i < nb && (tp || mp); i++) {
            if (tp && !json_equal(json_array_get(b, i), json_array_get(t, i)))
                tp = false;
            if (mp && !json_equal(json_array_get(b, i), json_array_get(m, i)))
                mp = false;
        }
        if (tp && mp) { /* both appended: theirs, then mine */
            json_t *res = json_deep_copy(t);
            for (size_t i = nb; i < nm; i++)
                json_array_append(res, json_array_get(m, i));
            return res;
        }
    }
    return json_deep_copy(t);
}

static json_t *u16_json(const struct u16 *s)
{
    size_t len;
    char *t = u16_to_utf8(s->p, s->n, &len);
    if (!t)
        return NULL;
    json_error_t e;
    json_t *v = json_loadb(t, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v)
        v = json_loadb(t, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
    free(t);
    return v;
}

static void ops_set(struct cp_op **dst, size_t *ndst, struct cp_op *src, size_t nsrc)
{
    cp_ops_free(*dst, *ndst);
    *dst = src;
    *ndst = nsrc;
}

/* One step of a path (§5.4): the document went from prev to doc by ops (on
 * prev); back (on doc) undoes it. wk is the work on prev and becomes the work
 * on doc; user follows. */
static void carry_over(const bp_chainpad *cp, bool mine, const struct u16 *prev,
                       const struct u16 *doc, const struct cp_op *ops, size_t nops,
                       const struct cp_op *back, size_t nback, struct u16 *user,
                       struct cp_op **wk, size_t *nwk)
{
    struct cp_op *t;
    size_t nt;
    if (mine) { /* own message: its ops leave (apply) or rejoin (revert) the work */
        struct cp_op *bk;
        size_t nbk;
        cp_simplify(doc, back, nback, &bk, &nbk); /* a checkpoint changes nothing */
        cp_compose(doc, bk, nbk, *wk, *nwk, &t, &nt);
        cp_ops_free(bk, nbk);
        ops_set(wk, nwk, t, nt);
    } else {
        struct cp_op *by;
        size_t nby;
        cp_simplify(prev, ops, nops, &by, &nby); /* a checkpoint changes nothing */
        cp_transform_ops(*wk, nwk, by, nby);
        cp_ops_free(by, nby);
        cp_simplify(doc, *wk, *nwk, &t, &nt);
        ops_set(wk, nwk, t, nt);
        struct u16 cand = U16_INIT;
        u16_set(&cand, doc->p, doc->n);
        cp_apply_ops(&cand, *wk, *nwk);
        bool done = false;
        if (is_json(cp) && !u16_eq(user->p, user->n, prev->p, prev->n)) {
            json_t *jb = u16_json(prev), *jt = u16_json(doc), *jm = u16_json(user);
            json_t *jh = u16_json(&cand);
            if (jb && jt && jm) {
                json_t *r = jmerge(jb, jt, jm, jh, 0);
                char *js = NULL;
                size_t len;
                struct u16 out = U16_INIT;
                if (r && bp_sortify(r, &js, &len) == 0 && u16_from_utf8(&out, js, len, false) == 0) {
                    u16_set(user, out.p, out.n);
                    done = true;
                }
                u16_free(&out);
                free(js);
                json_decref(r);
            }
            json_decref(jb);
            json_decref(jt);
            json_decref(jm);
            json_decref(jh);
        }
        if (!done)
            u16_set(user, cand.p, cand.n);
        u16_free(&cand);
    }
    /* keep apply(doc, wk) == user (a JSON merge can differ from the ops) */
    struct u16 chk = U16_INIT;
    u16_set(&chk, doc->p, doc->n);
    cp_apply_ops(&chk, *wk, *nwk);
    if (!u16_eq(chk.p, chk.n, user->p, user->n)) {
        struct cp_op *d;
        size_t nd;
        cp_diff(doc->p, doc->n, user->p, user->n, &d, &nd);
        cp_simplify(doc, d, nd, &t, &nt);
        cp_ops_free(d, nd);
        ops_set(wk, nwk, t, nt);
    }
    u16_free(&chk);
}

/* ---- receiving ------------------------------------------------------------------- */

static void set_after(struct msg *m, const struct u16 *doc)
{
    if (m->type == CP_CHECKPOINT) {
        m->after_ok = m->pch_ok; /* a checkpoint is its own inverse: after = its declared hash */
        memcpy(m->after, m->pch_b, 32);
    } else {
        cp_hash(doc->p, doc->n, m->after);
        m->after_ok = true;
    }
}

static bool pch_matches(const struct msg *x, const struct msg *parent)
{
    return x->pch_ok && parent->after_ok && memcmp(x->pch_b, parent->after, 32) == 0;
}

/* Applies m to doc, computing its inverse on the way. */
static void apply_msg(struct msg *m, struct u16 *doc)
{
    if (!m->inv_ok) {
        cp_invert_ops(doc, m->ops, m->nops, &m->inv, &m->ninv);
        m->inv_ok = true;
    }
    cp_apply_ops(doc, m->ops, m->nops);
    set_after(m, doc);
}

static void prune(bp_chainpad *cp, struct msg *cand)
{
    struct msg *k1 = NULL, *k2 = NULL;
    for (struct msg *m = parent_of(cp, cand); m; m = parent_of(cp, m)) {
        if (m->type != CP_CHECKPOINT)
            continue;
        if (k1) {
            k2 = m;
            break;
        }
        k1 = m;
    }
    struct msg *nr = k2 ? k2 : k1;
    if (!nr || nr == cp->root)
        return;
    struct msg *m = parent_of(cp, nr);
    while (m) {
        struct msg *p = parent_of(cp, m);
        forget(cp, m, true);
        m = p;
    }
    cp->root = nr;
    cp->epoch++;
}

static int hash_parsed(const struct cp_parsed *p, uint8_t h[32])
{
    struct u16 ser = U16_INIT;
    cp_serialize(p->type, p->ops, p->nops, p->pch.p, p->pch.n, p->parent.p, p->parent.n, &ser);
    cp_hash(ser.p, ser.n, h);
    u16_free(&ser);
    return 0;
}

static int handle(bp_chainpad *cp, const char *s, size_t n, bool from_me)
{
    if (n > BP_CHAINPAD_MAX_MESSAGE)
        return BP_ETOOBIG;
    struct cp_parsed p;
    if (cp_parse(s, n, &p) < 0)
        return BP_CHAINPAD_UNPARSABLE;
    uint8_t h[32];
    hash_parsed(&p, h);
    struct node *nd = find(cp, h);
    if (nd && nd->m) {
        cp_parsed_free(&p);
        if (nd->m->initial) {
            if (nd->m == cp->initmsg)
                cp->need_init_send = false; /* the channel already has it */
            return status_of_msg(cp, nd->m);
        }
        return BP_CHAINPAD_DUPLICATE;
    }
    if (p.type == CP_CHECKPOINT &&
        (p.nops == 0 || (is_json(cp) && !cp_json_valid(p.ops[0].ins.p, p.ops[0].ins.n)))) {
        cp_parsed_free(&p);
        return BP_CHAINPAD_REJECTED;
    }
    struct msg *m = store(cp, &p, h);
    struct node *mn = m->node;
    m->from_me = from_me;
    if (!connected(cp, m)) {
        if (m->type == CP_CHECKPOINT && cp->best->initial) {
            /* history starts at a checkpoint: adopt it as the root (§4.5) */
            m->depth = 0;
            cp->root = cp->best = m;
            cp->epoch++;
            u16_set(&cp->auth, m->ops[0].ins.p, m->ops[0].ins.n);
            u16_set(&cp->user, cp->auth.p, cp->auth.n);
            ops_set(&cp->work, &cp->nwork, NULL, 0);
            set_after(m, &cp->auth);
            m->inv_ok = true; /* never reverted: it is the root */
            cp->need_init_send = false;
            return BP_CHAINPAD_CHAIN;
        }
        return BP_CHAINPAD_ORPHAN;
    }
    struct msg *cand = deepest(cp, m);
    struct msg *best = cp->best, *anc = best;
    if (!is_ancestor(cp, best, cand)) {
        long long dc = depth_of(cp, cand), db = depth_of(cp, best);
        if (!(dc > db || (dc == db && memcmp(best->node->h, cand->node->h, 32) > 0)))
            return status_of_node(cp, mn); /* a losing branch */
        anc = common_ancestor(cp, best, cand);
        if (!anc)
            return status_of_node(cp, mn);
    }
    /* the path: toRevert = best .. anc (exclusive), toApply = anc .. cand */
    size_t nrev = 0, napp = 0;
    for (struct msg *x = best; x != anc; x = parent_of(cp, x))
        nrev++;
    for (struct msg *x = cand; x != anc; x = parent_of(cp, x))
        napp++;
    struct msg **rev = xmalloc((nrev + 1) * sizeof *rev), **app = xmalloc((napp + 1) * sizeof *app);
    size_t i = 0;
    for (struct msg *x = best; x != anc; x = parent_of(cp, x))
        rev[i++] = x;
    i = napp;
    for (struct msg *x = cand; x != anc; x = parent_of(cp, x))
        app[--i] = x;

    int rc;
    struct u16 doc = U16_INIT, prev = U16_INIT, user = U16_INIT;
    u16_set(&doc, cp->auth.p, cp->auth.n);
    u16_set(&user, cp->user.p, cp->user.n);
    struct cp_op *wk;
    size_t nwk;
    cp_ops_copy(cp->work, cp->nwork, &wk, &nwk);
    for (i = 0; i < nrev; i++) {
        if (!rev[i]->inv_ok) { /* cannot happen: every chain message was applied */
            rc = status_of_node(cp, mn);
            goto out;
        }
        u16_set(&prev, doc.p, doc.n);
        cp_apply_ops(&doc, rev[i]->inv, rev[i]->ninv);
        carry_over(cp, rev[i]->from_me, &prev, &doc, rev[i]->inv, rev[i]->ninv, rev[i]->ops,
                   rev[i]->nops, &user, &wk, &nwk);
    }
    struct msg *par = anc;
    for (i = 0; i + 1 < napp; i++) {
        struct msg *x = app[i];
        if (!pch_matches(x, par)) {
            /* §4.2 step 8: JS throws here; refuse the whole path */
            rc = status_of_node(cp, mn);
            goto out;
        }
        u16_set(&prev, doc.p, doc.n);
        apply_msg(x, &doc);
        carry_over(cp, x->from_me, &prev, &doc, x->ops, x->nops, x->inv, x->ninv, &user, &wk,
                   &nwk);
        par = x;
    }
    if (!pch_matches(cand, par)) {
        forget(cp, cand, false);
        rc = status_of_node(cp, mn);
        goto out;
    }
    if (cand->type == CP_PATCH) {
        struct cp_op *simp;
        size_t nsimp;
        cp_simplify(&doc, cand->ops, cand->nops, &simp, &nsimp);
        bool same = cp_ops_equal(simp, nsimp, cand->ops, cand->nops);
        cp_ops_free(simp, nsimp);
        if (!same) {
            forget(cp, cand, false);
            rc = status_of_node(cp, mn);
            goto out;
        }
        struct u16 res = U16_INIT;
        u16_set(&res, doc.p, doc.n);
        cp_apply_ops(&res, cand->ops, cand->nops);
        bool valid = !is_json(cp) || cp_json_valid(res.p, res.n);
        u16_free(&res);
        if (!valid) { /* kept, not applied (§4.6) */
            rc = status_of_node(cp, mn);
            goto out;
        }
    }
    u16_set(&prev, doc.p, doc.n);
    apply_msg(cand, &doc);
    carry_over(cp, cand->from_me, &prev, &doc, cand->ops, cand->nops, cand->inv, cand->ninv,
               &user, &wk, &nwk);
    cp->best = cand; /* before pruning: the old head may be pruned */
    if (cand->type == CP_CHECKPOINT)
        prune(cp, cand);
    u16_set(&cp->auth, doc.p, doc.n);
    if (is_json(cp) && !cp_json_valid(user.p, user.n)) {
        u16_set(&user, doc.p, doc.n); /* JS drops invalid transformed work */
        cp_ops_free(wk, nwk);
        wk = NULL;
        nwk = 0;
    }
    u16_set(&cp->user, user.p, user.n);
    ops_set(&cp->work, &cp->nwork, wk, nwk);
    wk = NULL;
    nwk = 0;
    rc = status_of_node(cp, mn);
out:
    cp_ops_free(wk, nwk);
    free(rev);
    free(app);
    u16_free(&doc);
    u16_free(&prev);
    u16_free(&user);
    return rc;
}

int bp_chainpad_receive(bp_chainpad *cp, const char *msg, size_t len)
{
    if (!cp || (!msg && len))
        return BP_EINVAL;
    return handle(cp, msg ? msg : "", len, false);
}

/* ---- lifecycle --------------------------------------------------------------------- */

static struct msg *make_initial(bp_chainpad *cp, const struct msg *parent, const char *content)
{
    struct cp_parsed p;
    memset(&p, 0, sizeof p);
    p.type = CP_PATCH;
    uint8_t eh[32];
    char hex[65];
    cp_hash(NULL, 0, eh);
    cp_hex(eh, hex);
    u16_append_ascii(&p.pch, hex, 64);
    if (parent) {
        cp_hex(parent->node->h, hex);
        u16_append_ascii(&p.parent, hex, 64);
    } else {
        u16_append_ascii(&p.parent, "0000000000000000000000000000000000000000000000000000000000000000", 64);
    }
    if (content) {
        p.nops = 1;
        p.ops = xcalloc(1, sizeof *p.ops);
        u16_append_ascii(&p.ops[0].ins, content, strlen(content));
    }
    uint8_t h[32];
    hash_parsed(&p, h);
    struct msg *m = store(cp, &p, h);
    m->initial = true;
    m->depth = parent ? parent->depth + 1 : 0;
    struct u16 doc = U16_INIT;
    apply_msg(m, &doc);
    u16_free(&doc);
    return m;
}

int bp_chainpad_new(bp_chainpad **out, unsigned flags)
{
    if (!out || (flags & ~(BP_CHAINPAD_JSON | BP_CHAINPAD_LISTMAP)))
        return BP_EINVAL;
    bp_chainpad *cp = calloc(1, sizeof *cp);
    if (!cp)
        return BP_ENOMEM;
    cp->flags = flags;
    cp->tabcap = 64;
    cp->tab = calloc(cp->tabcap, sizeof *cp->tab);
    if (!cp->tab) {
        free(cp);
        return BP_ENOMEM;
    }
    cp->epoch = 1;
    cp->root = cp->best = make_initial(cp, NULL, NULL);
    if (flags & BP_CHAINPAD_LISTMAP) {
        cp->initmsg = cp->best = make_initial(cp, cp->root, "{}");
        u16_append_ascii(&cp->auth, "{}", 2);
        u16_append_ascii(&cp->user, "{}", 2);
        cp->need_init_send = true;
    }
    *out = cp;
    return 0;
}

void bp_chainpad_free(bp_chainpad *cp)
{
    if (!cp)
        return;
    for (size_t i = 0; i < cp->tabcap; i++) {
        struct node *n = cp->tab[i];
        if (!n)
            continue;
        msg_free(n->m);
        free(n->kids);
        free(n);
    }
    free(cp->tab);
    u16_free(&cp->auth);
    u16_free(&cp->user);
    cp_ops_free(cp->work, cp->nwork);
    free(cp->pending);
    free(cp);
}

/* ---- queries -------------------------------------------------------------------------- */

const char *bp_chainpad_status_name(int status)
{
    static const char *const names[] = {"chain", "fork", "orphan", "rejected",
                                        "pruned", "duplicate", "unparsable"};
    if (status >= 0 && status < (int)(sizeof names / sizeof *names))
        return names[status];
    return "error";
}

static int out_text(const struct u16 *s, char **out, size_t *outlen)
{
    if (!out)
        return BP_EINVAL;
    size_t len;
    char *t = u16_to_utf8(s->p, s->n, &len);
    if (!t)
        return BP_ENOMEM;
    *out = t;
    if (outlen)
        *outlen = len;
    return 0;
}

int bp_chainpad_content(const bp_chainpad *cp, char **out, size_t *outlen)
{
    return cp ? out_text(&cp->auth, out, outlen) : BP_EINVAL;
}

int bp_chainpad_user_content(const bp_chainpad *cp, char **out, size_t *outlen)
{
    return cp ? out_text(&cp->user, out, outlen) : BP_EINVAL;
}

void bp_chainpad_content_hash(const bp_chainpad *cp, char out[65])
{
    uint8_t h[32];
    cp_hash(cp->auth.p, cp->auth.n, h);
    cp_hex(h, out);
}

void bp_chainpad_head(const bp_chainpad *cp, char out[65])
{
    cp_hex(cp->best->node->h, out);
}

unsigned long long bp_chainpad_depth(const bp_chainpad *cp)
{
    long long d = depth_of(cp, cp->best);
    return d < 0 ? 0 : (unsigned long long)d;
}

int bp_chainpad_chain(const bp_chainpad *cp, char **out, size_t *count)
{
    if (!cp || !out || !count)
        return BP_EINVAL;
    size_t n = 0;
    for (struct msg *m = cp->best; m; m = m == cp->root ? NULL : parent_of(cp, m))
        n++;
    char *res = malloc(n * 65);
    if (!res)
        return BP_ENOMEM;
    size_t i = n;
    for (struct msg *m = cp->best; m; m = m == cp->root ? NULL : parent_of(cp, m))
        cp_hex(m->node->h, res + 65 * --i);
    *out = res;
    *count = n;
    return 0;
}

static bool unhex_c(const char *s, uint8_t out[32])
{
    if (!s || strlen(s) != 64)
        return false;
    uint16_t u[64];
    for (int i = 0; i < 64; i++)
        u[i] = (unsigned char)s[i];
    return cp_unhex(u, 64, out);
}

int bp_chainpad_status_of(const bp_chainpad *cp, const char *hash_hex)
{
    uint8_t h[32];
    if (!cp || !unhex_c(hash_hex, h))
        return BP_EINVAL;
    struct node *n = find(cp, h);
    if (!n || (!n->m && !n->pruned))
        return BP_ENOENT;
    return status_of_node(cp, n);
}

int bp_chainpad_message_hash(const char *msg, size_t len, char out[65])
{
    if (!msg || len > BP_CHAINPAD_MAX_MESSAGE)
        return BP_EINVAL;
    struct cp_parsed p;
    if (cp_parse(msg, len, &p) < 0)
        return BP_EPROTO;
    uint8_t h[32];
    hash_parsed(&p, h);
    cp_parsed_free(&p);
    cp_hex(h, out);
    return 0;
}

int bp_chainpad_hash(const char *s, size_t len, char out[65])
{
    struct u16 u = U16_INIT;
    if (!s && len)
        return BP_EINVAL;
    if (u16_from_utf8(&u, s ? s : "", len, false) < 0) {
        u16_free(&u);
        return BP_EINVAL;
    }
    uint8_t h[32];
    cp_hash(u.p, u.n, h);
    cp_hex(h, out);
    u16_free(&u);
    return 0;
}

void bp_chainpad_checkpoint_id(const char *msg, size_t len, char out[13])
{
    unsigned char h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512(h, (const unsigned char *)msg, len);
    sodium_bin2base64(out, 13, h, 8, sodium_base64_VARIANT_ORIGINAL);
}

/* ---- writing ------------------------------------------------------------------------------ */

int bp_chainpad_set_content(bp_chainpad *cp, const char *text, size_t len)
{
    if (!cp || (!text && len))
        return BP_EINVAL;
    if (len > BP_CHAINPAD_MAX_MESSAGE)
        return BP_ETOOBIG;
    struct u16 u = U16_INIT;
    if (u16_from_utf8(&u, text ? text : "", len, false) < 0 ||
        (is_json(cp) && !cp_json_valid(u.p, u.n))) {
        u16_free(&u);
        return BP_EINVAL;
    }
    /* the change since the last desired content, composed onto the work: the
     * earlier edits keep their places (a diff against auth could move them) */
    struct cp_op *d, *w;
    size_t nd, nw;
    cp_diff(cp->user.p, cp->user.n, u.p, u.n, &d, &nd);
    cp_compose(&cp->auth, cp->work, cp->nwork, d, nd, &w, &nw);
    cp_ops_free(d, nd);
    struct u16 chk = U16_INIT;
    u16_set(&chk, cp->auth.p, cp->auth.n);
    cp_apply_ops(&chk, w, nw);
    if (!u16_eq(chk.p, chk.n, u.p, u.n)) { /* cannot happen; stay correct anyway */
        cp_ops_free(w, nw);
        cp_diff(cp->auth.p, cp->auth.n, u.p, u.n, &d, &nd);
        cp_simplify(&cp->auth, d, nd, &w, &nw);
        cp_ops_free(d, nd);
    }
    u16_free(&chk);
    ops_set(&cp->work, &cp->nwork, w, nw);
    u16_free(&cp->user);
    cp->user = u;
    return 0;
}

int bp_chainpad_make_message(bp_chainpad *cp, char **msg, size_t *len, int *is_checkpoint)
{
    if (!cp || !msg)
        return BP_EINVAL;
    *msg = NULL;
    if (len)
        *len = 0;
    if (is_checkpoint)
        *is_checkpoint = 0;
    if (cp->pending)
        return BP_EAGAIN;
    if (u16_eq(cp->user.p, cp->user.n, cp->auth.p, cp->auth.n))
        return 0;
    struct u16 ser = U16_INIT;
    char hex_after[65], hex_best[65];
    struct msg *best = cp->best;
    if (best->after_ok) {
        cp_hex(best->after, hex_after);
    } else {
        uint8_t h[32];
        cp_hash(cp->auth.p, cp->auth.n, h);
        cp_hex(h, hex_after);
    }
    cp_hex(best->node->h, hex_best);
    uint16_t ua[64], ub[64];
    for (int i = 0; i < 64; i++)
        ua[i] = (unsigned char)hex_after[i], ub[i] = (unsigned char)hex_best[i];
    int cpflag = 0;
    if (cp->need_init_send && cp->initmsg) {
        struct msg *im = cp->initmsg;
        cp_serialize(im->type, im->ops, im->nops, im->pch.p, im->pch.n, im->parent.p, im->parent.n, &ser);
    } else if ((depth_of(cp, best) + 1) % BP_CHAINPAD_CHECKPOINT_INTERVAL == 0) {
        struct cp_op op = {0, cp->auth.n, U16_INIT};
        op.ins = cp->auth; /* borrowed */
        cp_serialize(CP_CHECKPOINT, &op, 1, ua, 64, ub, 64, &ser);
        cpflag = 1;
    } else {
        /* the uncommitted work as it is (JS sends realtime.uncommitted) */
        struct cp_op *simp;
        size_t nsimp;
        cp_simplify(&cp->auth, cp->work, cp->nwork, &simp, &nsimp);
        if (nsimp == 0) {
            cp_ops_free(simp, nsimp);
            return 0;
        }
        cp_serialize(CP_PATCH, simp, nsimp, ua, 64, ub, 64, &ser);
        cp_ops_free(simp, nsimp);
    }
    size_t l;
    char *s = u16_to_utf8(ser.p, ser.n, &l);
    u16_free(&ser);
    if (!s)
        return BP_ENOMEM;
    char *copy = malloc(l + 1);
    if (!copy) {
        free(s);
        return BP_ENOMEM;
    }
    memcpy(copy, s, l + 1);
    cp->pending = copy;
    cp->pendinglen = l;
    *msg = s;
    if (len)
        *len = l;
    if (is_checkpoint)
        *is_checkpoint = cpflag;
    return 0;
}

int bp_chainpad_ack(bp_chainpad *cp)
{
    if (!cp)
        return BP_EINVAL;
    if (!cp->pending)
        return BP_ENOENT;
    char *s = cp->pending;
    size_t l = cp->pendinglen;
    cp->pending = NULL;
    int rc = handle(cp, s, l, true);
    free(s);
    return rc;
}

void bp_chainpad_nack(bp_chainpad *cp)
{
    if (!cp)
        return;
    free(cp->pending);
    cp->pending = NULL;
}

/* ---- JSON ------------------------------------------------------------------------------------- */

int bp_chainpad_get_json(const bp_chainpad *cp, json_t **out)
{
    if (!cp || !out)
        return BP_EINVAL;
    json_t *v = u16_json(&cp->auth);
    if (!v)
        return BP_EINVAL;
    *out = v;
    return 0;
}

int bp_chainpad_set_json(bp_chainpad *cp, const json_t *value)
{
    if (!cp || !value)
        return BP_EINVAL;
    char *s;
    size_t len;
    int rc = bp_sortify(value, &s, &len);
    if (rc)
        return rc;
    rc = bp_chainpad_set_content(cp, s, len);
    free(s);
    return rc;
}
