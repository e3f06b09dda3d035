/* test_client_chainpad.c: the ChainPad engine against CryptPad's own outputs
 * (/work/shared/vectors/chainpad.json, read at run time) plus concurrent-edit
 * scenarios and the string-level pieces (UTF-16 offsets, escapes, simplify). */
#include "test.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/chainpad.h"
#include "blindpad/err.h"
#include "blindpad/sortify.h"
#include "client/chainpad_internal.h"
#include "vectors.h"

static json_t *V;

static json_t *vcase(const char *name)
{
    json_t *cases = json_object_get(V, "cases"), *c;
    size_t i;
    json_array_foreach(cases, i, c) if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0) return c;
    fail_msg("no case %s", name);
    return NULL;
}

static const char *S(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static size_t SL(const json_t *o, const char *k)
{
    return json_string_length(json_object_get(o, k));
}

static void recv_str(bp_chainpad *cp, const json_t *s, int *status)
{
    int rc = bp_chainpad_receive(cp, json_string_value(s), json_string_length(s));
    assert_true(rc >= 0);
    if (status)
        *status = rc;
}

static void assert_content(const bp_chainpad *cp, const char *want, size_t wantlen)
{
    char *c;
    size_t l;
    assert_int_equal(bp_chainpad_content(cp, &c, &l), 0);
    if (l != wantlen || memcmp(c, want, l) != 0)
        fail_msg("content\n got  %s\n want %.*s", c, (int)wantlen, want);
    free(c);
}

static void assert_user(const bp_chainpad *cp, const char *want)
{
    char *c;
    assert_int_equal(bp_chainpad_user_content(cp, &c, NULL), 0);
    assert_string_equal(c, want);
    free(c);
}

static void assert_head(const bp_chainpad *cp, const char *want)
{
    char h[65];
    bp_chainpad_head(cp, h);
    assert_string_equal(h, want);
}

/* Checks auth_doc, auth_doc_hash, best, chain of an expected record. */
static void check_state(const bp_chainpad *cp, const json_t *exp)
{
    if (json_object_get(exp, "auth_doc"))
        assert_content(cp, S(exp, "auth_doc"), SL(exp, "auth_doc"));
    if (json_object_get(exp, "auth_doc_hash")) {
        char h[65];
        bp_chainpad_content_hash(cp, h);
        assert_string_equal(h, S(exp, "auth_doc_hash"));
    }
    assert_head(cp, S(exp, "best"));
    json_t *chain = json_object_get(exp, "chain");
    if (chain) {
        char *c;
        size_t n;
        assert_int_equal(bp_chainpad_chain(cp, &c, &n), 0);
        assert_int_equal(n, json_array_size(chain));
        for (size_t i = 0; i < n; i++)
            assert_string_equal(c + 65 * i, json_string_value(json_array_get(chain, i)));
        free(c);
    }
}

/* Replays history into a fresh engine; checks every step and the end. */
static bp_chainpad *replay(const json_t *history, const json_t *exp, unsigned flags)
{
    bp_chainpad *cp;
    assert_int_equal(bp_chainpad_new(&cp, flags), 0);
    json_t *steps = json_object_get(exp, "steps"), *h;
    size_t i;
    json_array_foreach(history, i, h) {
        int st;
        recv_str(cp, h, &st);
        if (!steps)
            continue;
        json_t *step = json_array_get(steps, i);
        assert_string_equal(bp_chainpad_status_name(st), S(step, "status"));
        assert_head(cp, S(step, "best"));
        if (json_object_get(step, "auth_doc"))
            assert_content(cp, S(step, "auth_doc"), SL(step, "auth_doc"));
    }
    check_state(cp, exp);
    json_t *fin = json_object_get(exp, "final_status");
    if (fin) {
        json_array_foreach(history, i, h) {
            char hex[65];
            int want_unparsable = strcmp(json_string_value(json_array_get(fin, i)), "unparsable") == 0;
            if (bp_chainpad_message_hash(json_string_value(h), json_string_length(h), hex) != 0) {
                assert_true(want_unparsable);
                continue;
            }
            int st = bp_chainpad_status_of(cp, hex);
            const char *got = st == BP_ENOENT ? "rejected" : bp_chainpad_status_name(st);
            const char *want = json_string_value(json_array_get(fin, i));
            if (strcmp(want, "duplicate") == 0)
                continue; /* a duplicate's status is that of its first copy */
            if (strcmp(got, want) != 0)
                fail_msg("final status of %zu: got %s want %s", i, got, want);
        }
    }
    return cp;
}

/* ---- hashes and constants ---------------------------------------------- */

static void test_hash_examples(void **state)
{
    (void)state;
    json_t *ex = json_object_get(V, "hash_examples"), *e;
    size_t i;
    assert_true(json_array_size(ex) > 0);
    json_array_foreach(ex, i, e) {
        char h[65];
        assert_int_equal(bp_chainpad_hash(S(e, "text"), SL(e, "text"), h), 0);
        assert_string_equal(h, S(e, "chainpad_hash"));
        /* the code units as the vectors list them */
        struct u16 u = U16_INIT;
        assert_int_equal(u16_from_utf8(&u, S(e, "text"), SL(e, "text"), true), 0);
        json_t *units = json_object_get(e, "utf16_code_units");
        assert_int_equal(u.n, json_array_size(units));
        for (size_t k = 0; k < u.n; k++)
            assert_int_equal(u.p[k], strtoul(json_string_value(json_array_get(units, k)), NULL, 16));
        u16_free(&u);
    }
    json_t *c = json_object_get(V, "constants");
    char h[65];
    assert_int_equal(bp_chainpad_hash("", 0, h), 0);
    assert_string_equal(h, S(c, "empty_content_hash"));
    assert_int_equal(bp_chainpad_message_hash(S(c, "root_message"), SL(c, "root_message"), h), 0);
    assert_string_equal(h, S(c, "root_message_hash"));
    assert_int_equal(json_integer_value(json_object_get(c, "checkpoint_interval")),
                     BP_CHAINPAD_CHECKPOINT_INTERVAL);
    /* a fresh engine's head is the root message; a listmap one's the {} message */
    bp_chainpad *cp;
    assert_int_equal(bp_chainpad_new(&cp, 0), 0);
    assert_head(cp, S(c, "root_message_hash"));
    assert_int_equal(bp_chainpad_depth(cp), 0);
    bp_chainpad_free(cp);
    assert_int_equal(bp_chainpad_new(&cp, BP_CHAINPAD_LISTMAP), 0);
    assert_head(cp, "b6129c7bfd4c713ea8c06b36405e2ea861e2f0116d1178d1ec5440e56001b5d8");
    assert_int_equal(bp_chainpad_depth(cp), 1);
    bp_chainpad_free(cp);
    assert_int_equal(bp_chainpad_new(&cp, 99), BP_EINVAL);
}

/* ---- text-edit-sequence ------------------------------------------------- */

static void check_msg_record(const char *msg, size_t len, const json_t *rec)
{
    char h[65];
    assert_int_equal(bp_chainpad_message_hash(msg, len, h), 0);
    assert_string_equal(h, S(rec, "hash"));
    struct cp_parsed p;
    assert_int_equal(cp_parse(msg, len, &p), 0);
    assert_int_equal(p.type, json_integer_value(json_object_get(rec, "type")));
    json_t *ops = json_object_get(rec, "ops");
    if (!json_is_array(ops)) { /* a checkpoint's op is only described, for size */
        cp_parsed_free(&p);
        return;
    }
    assert_int_equal(p.nops, json_array_size(ops));
    for (size_t i = 0; i < p.nops; i++) {
        json_t *o = json_array_get(ops, i);
        assert_int_equal(p.ops[i].off, json_integer_value(json_array_get(o, 0)));
        assert_int_equal(p.ops[i].rem, json_integer_value(json_array_get(o, 1)));
        size_t l;
        char *ins = u16_to_utf8(p.ops[i].ins.p, p.ops[i].ins.n, &l);
        assert_string_equal(ins, json_string_value(json_array_get(o, 2)));
        free(ins);
    }
    char *pch = u16_to_utf8(p.pch.p, p.pch.n, NULL), *par = u16_to_utf8(p.parent.p, p.parent.n, NULL);
    assert_string_equal(pch, S(rec, "parent_content_hash"));
    assert_string_equal(par, S(rec, "parent"));
    free(pch);
    free(par);
    cp_parsed_free(&p);
}

/* A writer that must produce JS's messages: byte-identical when JS sent one
 * operation (our diff equals fast-diff then); otherwise our message must be
 * valid and give the same content, and the writer then takes JS's message. */
static int drive_writer(bp_chainpad *w, const json_t *msgs, size_t *mi, const char *target,
                        size_t tlen, int *exact, int *differ)
{
    assert_int_equal(bp_chainpad_set_content(w, target, tlen), 0);
    for (;;) {
        char *m;
        size_t ml;
        int isck;
        assert_int_equal(bp_chainpad_make_message(w, &m, &ml, &isck), 0);
        if (!m)
            return 0;
        json_t *js = json_array_get(msgs, *mi);
        assert_non_null(js);
        const char *jm = json_is_string(js) ? json_string_value(js) : S(js, "msg");
        size_t jl = json_is_string(js) ? json_string_length(js) : SL(js, "msg");
        if (ml == jl && memcmp(m, jm, ml) == 0) {
            (*exact)++;
            assert_int_equal(isck, jm[1] == '4');
            assert_int_equal(bp_chainpad_ack(w), BP_CHAINPAD_CHAIN);
        } else {
            /* ours must at least be a valid patch on the same parent */
            (*differ)++;
            struct cp_parsed a, b;
            assert_int_equal(cp_parse(m, ml, &a), 0);
            assert_int_equal(cp_parse(jm, jl, &b), 0);
            assert_true(u16_eq(a.parent.p, a.parent.n, b.parent.p, b.parent.n));
            assert_true(u16_eq(a.pch.p, a.pch.n, b.pch.p, b.pch.n));
            assert_int_equal(a.type, b.type);
            cp_parsed_free(&a);
            cp_parsed_free(&b);
            bp_chainpad_nack(w);
            char *auth;
            size_t al;
            assert_int_equal(bp_chainpad_content(w, &auth, &al), 0);
            assert_int_equal(bp_chainpad_set_content(w, auth, al), 0);
            free(auth);
            int st = bp_chainpad_receive(w, jm, jl);
            assert_int_equal(st, BP_CHAINPAD_CHAIN);
            assert_int_equal(bp_chainpad_set_content(w, target, tlen), 0);
        }
        free(m);
        (*mi)++;
    }
}

static void test_text_edit_sequence(void **state)
{
    (void)state;
    json_t *c = vcase("text-edit-sequence");
    json_t *steps = json_object_get(c, "steps"), *st;
    size_t i;
    /* reader: every step's message applied in turn */
    bp_chainpad *r;
    assert_int_equal(bp_chainpad_new(&r, 0), 0);
    json_array_foreach(steps, i, st) {
        check_msg_record(S(st, "msg"), SL(st, "msg"), st);
        int s;
        recv_str(r, json_object_get(st, "msg"), &s);
        assert_int_equal(s, BP_CHAINPAD_CHAIN);
        assert_content(r, S(st, "auth_doc_after"), SL(st, "auth_doc_after"));
        char h[65];
        bp_chainpad_content_hash(r, h);
        assert_string_equal(h, S(st, "content_hash_after"));
        assert_head(r, S(st, "hash"));
    }
    bp_chainpad_free(r);
    json_t *rp = json_object_get(c, "replay");
    bp_chainpad_free(replay(json_object_get(rp, "history"), json_object_get(rp, "expected"), 0));

    /* writer: same edits; single-operation steps must be byte-identical */
    bp_chainpad *w;
    assert_int_equal(bp_chainpad_new(&w, 0), 0);
    size_t mi = 0;
    int exact = 0, differ = 0;
    json_array_foreach(steps, i, st) {
        drive_writer(w, steps, &mi, S(st, "new_user_doc"), SL(st, "new_user_doc"), &exact, &differ);
        assert_content(w, S(st, "auth_doc_after"), SL(st, "auth_doc_after"));
        json_t *ops = json_object_get(st, "ops");
        if (json_array_size(ops) == 1)
            assert_int_equal(mi, i + 1); /* consumed */
    }
    assert_int_equal(mi, json_array_size(steps));
    assert_true(exact >= 8);
    print_message("text-edit-sequence writer: %d identical, %d different (multi-op fast-diff)\n",
                  exact, differ);
    bp_chainpad_free(w);
}

/* ---- checkpoints -------------------------------------------------------- */

static void test_checkpoints(void **state)
{
    (void)state;
    json_t *c = vcase("checkpoints");
    json_t *msgs = json_object_get(c, "messages"), *m;
    size_t i;
    json_t *hist = json_array();
    int ncp = 0;
    json_array_foreach(msgs, i, m) {
        check_msg_record(S(m, "msg"), SL(m, "msg"), m);
        json_array_append(hist, json_object_get(m, "msg"));
        if (json_object_get(m, "cp_id")) {
            char id[13];
            bp_chainpad_checkpoint_id(S(m, "msg"), SL(m, "msg"), id);
            assert_string_equal(id, S(m, "cp_id"));
            ncp++;
        }
    }
    assert_int_equal(ncp, 2);
    json_t *rps = json_object_get(c, "replays"), *rp;
    json_array_foreach(rps, i, rp) {
        json_int_t first = json_integer_value(json_object_get(rp, "first_position"));
        json_t *h = json_array();
        for (size_t k = (size_t)first - 1; k < json_array_size(hist); k++)
            json_array_append(h, json_array_get(hist, k));
        bp_chainpad *r = replay(h, json_object_get(rp, "expected"), 0);
        assert_content(r, S(c, "final_doc"), SL(c, "final_doc"));
        bp_chainpad_free(r);
        json_decref(h);
    }
    /* writer: the same 103 appends give the same 105 messages, checkpoints included */
    bp_chainpad *w;
    assert_int_equal(bp_chainpad_new(&w, 0), 0);
    char doc[4096] = "";
    size_t mi = 0;
    int exact = 0, differ = 0;
    for (int k = 1; k <= 103; k++) {
        snprintf(doc + strlen(doc), sizeof doc - strlen(doc), "line %d\n", k);
        drive_writer(w, msgs, &mi, doc, strlen(doc), &exact, &differ);
    }
    assert_int_equal(mi, json_array_size(msgs));
    assert_int_equal(differ, 0);
    assert_content(w, S(c, "final_doc"), SL(c, "final_doc"));
    bp_chainpad_free(w);
    json_decref(hist);
}

/* ---- forks -------------------------------------------------------------- */

static void check_event(const bp_chainpad *cp, const json_t *ev)
{
    assert_content(cp, S(ev, "auth_doc"), SL(ev, "auth_doc"));
    assert_user(cp, S(ev, "user_doc"));
    assert_head(cp, S(ev, "best"));
}

static void make_expect(bp_chainpad *cp, const char *want)
{
    char *m;
    size_t l;
    assert_int_equal(bp_chainpad_make_message(cp, &m, &l, NULL), 0);
    assert_non_null(m);
    assert_string_equal(m, want);
    free(m);
}

static void run_fork_events(const char *name)
{
    json_t *c = vcase(name);
    json_t *log = json_object_get(c, "server_log");
    json_t *conc = json_object_get(c, "concurrent");
    bp_chainpad *alice, *bob;
    assert_int_equal(bp_chainpad_new(&alice, 0), 0);
    assert_int_equal(bp_chainpad_new(&bob, 0), 0);
    json_t *evs = json_object_get(c, "client_events"), *ev;
    size_t i;
    json_array_foreach(evs, i, ev) {
        int is_alice = strcmp(S(ev, "client"), "alice") == 0;
        bp_chainpad *me = is_alice ? alice : bob;
        const char *other = is_alice ? "bob" : "alice";
        const char *e = S(ev, "event");
        if (strcmp(e, "ACK base") == 0) {
            assert_int_equal(bp_chainpad_set_content(me, S(c, "base"), SL(c, "base")), 0);
            make_expect(me, S(json_array_get(log, 0), "msg"));
            assert_int_equal(bp_chainpad_ack(me), BP_CHAINPAD_CHAIN);
        } else if (strcmp(e, "receive base") == 0) {
            recv_str(me, json_object_get(json_array_get(log, 0), "msg"), NULL);
        } else if (strcmp(e, "local edit") == 0) {
            const char *k = is_alice ? "edit_alice" : "edit_bob";
            assert_int_equal(bp_chainpad_set_content(me, S(c, k), SL(c, k)), 0);
            /* the concurrent patch goes out now, on the same parent as the other's */
            make_expect(me, S(json_object_get(conc, is_alice ? "alice" : "bob"), "msg"));
        } else if (strncmp(e, "receive ", 8) == 0 && strstr(e, other)) {
            int st;
            recv_str(me, json_object_get(json_object_get(conc, other), "msg"), &st);
        } else if (strcmp(e, "ACK own patch") == 0) {
            /* chain, unless the other's patch (lower hash) arrived first */
            int st = bp_chainpad_ack(me);
            const char *mine = S(json_object_get(conc, is_alice ? "alice" : "bob"), "hash");
            int won = strcmp(S(ev, "best"), mine) == 0;
            assert_int_equal(st, won ? BP_CHAINPAD_CHAIN : BP_CHAINPAD_FORK);
        } else if (strcmp(e, "ACK rebased patch") == 0) {
            /* the loser re-sends its work on top of the winner (§5.4) */
            make_expect(me, S(json_array_get(log, 3), "msg"));
            assert_int_equal(bp_chainpad_ack(me), BP_CHAINPAD_CHAIN);
        } else if (strcmp(e, "receive rebased patch") == 0) {
            int st;
            recv_str(me, json_object_get(json_array_get(log, 3), "msg"), &st);
            assert_int_equal(st, BP_CHAINPAD_CHAIN);
        } else {
            fail_msg("unknown event %s", e);
        }
        check_event(me, ev);
    }
    assert_content(alice, S(c, "final_doc"), SL(c, "final_doc"));
    assert_content(bob, S(c, "final_doc"), SL(c, "final_doc"));
    /* nothing left to send */
    char *m;
    assert_int_equal(bp_chainpad_make_message(alice, &m, NULL, NULL), 0);
    assert_null(m);
    assert_int_equal(bp_chainpad_make_message(bob, &m, NULL, NULL), 0);
    assert_null(m);
    bp_chainpad_free(alice);
    bp_chainpad_free(bob);
    json_t *rp = json_object_get(c, "replay");
    bp_chainpad *r = replay(json_object_get(rp, "history"), json_object_get(rp, "expected"), 0);
    assert_content(r, S(c, "final_doc"), SL(c, "final_doc"));
    bp_chainpad_free(r);
}

static void test_fork_first_wins(void **state)
{
    (void)state;
    run_fork_events("fork-concurrent-first-stored-wins");
}

static void test_fork_second_wins(void **state)
{
    (void)state;
    run_fork_events("fork-concurrent-second-stored-wins");
}

static void test_fork_longer_chain(void **state)
{
    (void)state;
    json_t *c = vcase("fork-longer-chain-wins");
    json_t *rp = json_object_get(c, "replay");
    bp_chainpad *r = replay(json_object_get(rp, "history"), json_object_get(rp, "expected"), 0);
    assert_content(r, S(c, "final_doc"), SL(c, "final_doc"));
    bp_chainpad_free(r);
    /* writers: alice's patch, bob's two (he never saw alice's), then alice's
     * engine rebases her work onto bob's longer branch: exactly log[4] */
    json_t *log = json_object_get(c, "server_log");
    bp_chainpad *alice, *bob;
    assert_int_equal(bp_chainpad_new(&alice, 0), 0);
    assert_int_equal(bp_chainpad_new(&bob, 0), 0);
    assert_int_equal(bp_chainpad_set_content(alice, S(c, "base"), SL(c, "base")), 0);
    make_expect(alice, S(json_array_get(log, 0), "msg"));
    assert_int_equal(bp_chainpad_ack(alice), BP_CHAINPAD_CHAIN);
    recv_str(bob, json_object_get(json_array_get(log, 0), "msg"), NULL);
    assert_int_equal(bp_chainpad_set_content(alice, S(c, "edit_alice"), SL(c, "edit_alice")), 0);
    make_expect(alice, S(json_array_get(log, 1), "msg"));
    assert_int_equal(bp_chainpad_ack(alice), BP_CHAINPAD_CHAIN);
    json_t *eb = json_object_get(c, "edits_bob");
    for (size_t k = 0; k < 2; k++) {
        json_t *e = json_array_get(eb, k);
        assert_int_equal(bp_chainpad_set_content(bob, json_string_value(e), json_string_length(e)), 0);
        make_expect(bob, S(json_array_get(log, 2 + k), "msg"));
        assert_int_equal(bp_chainpad_ack(bob), BP_CHAINPAD_CHAIN);
    }
    int st;
    recv_str(alice, json_object_get(json_array_get(log, 2), "msg"), &st);
    assert_int_equal(st, BP_CHAINPAD_FORK);
    recv_str(alice, json_object_get(json_array_get(log, 3), "msg"), &st);
    assert_int_equal(st, BP_CHAINPAD_CHAIN);
    make_expect(alice, S(json_array_get(log, 4), "msg"));
    assert_int_equal(bp_chainpad_ack(alice), BP_CHAINPAD_CHAIN);
    assert_content(alice, S(c, "final_doc"), SL(c, "final_doc"));
    recv_str(bob, json_object_get(json_array_get(log, 1), "msg"), &st);
    assert_int_equal(st, BP_CHAINPAD_FORK);
    recv_str(bob, json_object_get(json_array_get(log, 4), "msg"), &st);
    assert_int_equal(st, BP_CHAINPAD_CHAIN);
    assert_content(bob, S(c, "final_doc"), SL(c, "final_doc"));
    bp_chainpad_free(alice);
    bp_chainpad_free(bob);
}

static void test_out_of_order(void **state)
{
    (void)state;
    json_t *c = vcase("out-of-order-and-unknown-parent");
    bp_chainpad *r = replay(json_object_get(c, "history"), json_object_get(c, "expected"), 0);
    char h[65];
    json_t *o = json_object_get(c, "orphan");
    assert_int_equal(bp_chainpad_message_hash(S(o, "msg"), SL(o, "msg"), h), 0);
    assert_string_equal(h, S(o, "hash"));
    assert_int_equal(bp_chainpad_status_of(r, h), BP_CHAINPAD_ORPHAN);
    bp_chainpad_free(r);
}

/* ---- invalid and lenient ----------------------------------------------- */

static unsigned case_flags(const json_t *sub)
{
    return json_array_size(json_object_get(sub, "engine_config")) ? BP_CHAINPAD_LISTMAP : 0;
}

static bp_chainpad *with_history(const json_t *sub)
{
    bp_chainpad *cp;
    assert_int_equal(bp_chainpad_new(&cp, case_flags(sub)), 0);
    json_t *h;
    size_t i;
    json_array_foreach(json_object_get(sub, "history"), i, h) {
        int st;
        recv_str(cp, h, &st);
        assert_int_equal(st, BP_CHAINPAD_CHAIN);
    }
    return cp;
}

static void test_invalid_and_lenient(void **state)
{
    (void)state;
    json_t *c = vcase("invalid-and-lenient");
    json_t *neg = json_object_get(c, "negative"), *sub;
    size_t i;
    int n = 0;
    json_array_foreach(neg, i, sub) {
        bp_chainpad *cp = with_history(sub);
        if (json_is_object(json_object_get(sub, "message_info")))
            check_msg_record(S(sub, "message"), SL(sub, "message"), json_object_get(sub, "message_info"));
        int st;
        recv_str(cp, json_object_get(sub, "message"), &st);
        json_t *exp = json_object_get(sub, "expected");
        if (strcmp(bp_chainpad_status_name(st), S(exp, "status")) != 0)
            fail_msg("%s: got %s want %s", S(sub, "name"), bp_chainpad_status_name(st), S(exp, "status"));
        check_state(cp, exp);
        bp_chainpad_free(cp);
        n++;
    }
    assert_int_equal(n, 13);
    json_t *len = json_object_get(c, "lenient");
    n = 0;
    json_array_foreach(len, i, sub) {
        bp_chainpad *cp = with_history(sub);
        json_t *exp = json_object_get(sub, "expected"), *m;
        json_t *statuses = json_object_get(exp, "statuses"), *docs = json_object_get(exp, "auth_docs");
        json_t *infos = json_object_get(sub, "messages_info");
        size_t k;
        json_array_foreach(json_object_get(sub, "messages"), k, m) {
            check_msg_record(json_string_value(m), json_string_length(m), json_array_get(infos, k));
            int st;
            recv_str(cp, m, &st);
            const char *want = json_string_value(json_array_get(statuses, k));
            if (strcmp(bp_chainpad_status_name(st), want) != 0)
                fail_msg("%s[%zu]: got %s want %s", S(sub, "name"), k, bp_chainpad_status_name(st), want);
            json_t *d = json_array_get(docs, k);
            assert_content(cp, json_string_value(d), json_string_length(d));
        }
        check_state(cp, exp);
        if (json_object_get(sub, "canonical_form")) {
            char h1[65], h2[65];
            assert_int_equal(bp_chainpad_message_hash(S(sub, "canonical_form"), SL(sub, "canonical_form"), h1), 0);
            json_t *m0 = json_array_get(json_object_get(sub, "messages"), 0);
            assert_int_equal(bp_chainpad_message_hash(json_string_value(m0), json_string_length(m0), h2), 0);
            assert_string_equal(h1, h2);
            unsigned char raw[32];
            char hex[65];
            crypto_hash_sha256(raw, (const unsigned char *)json_string_value(m0), json_string_length(m0));
            sodium_bin2hex(hex, sizeof hex, raw, 32);
            assert_string_equal(hex, S(sub, "sha256_of_received_text"));
            assert_string_not_equal(hex, h2);
        }
        bp_chainpad_free(cp);
        n++;
    }
    assert_int_equal(n, 8);
}

/* ---- JSON documents -------------------------------------------------------- */

static void test_json_serialization(void **state)
{
    (void)state;
    json_t *c = vcase("json-serialization"), *s;
    size_t i;
    json_array_foreach(json_object_get(c, "samples"), i, s) {
        char *out;
        size_t l;
        assert_int_equal(bp_sortify_text(S(s, "value_as_json"), SL(s, "value_as_json"), &out, &l), 0);
        assert_string_equal(out, S(s, "sortify"));
        free(out);
    }
    assert_true(bp_sortify_keycmp("A", "_") < 0);
    assert_true(bp_sortify_keycmp("_", "a") < 0);
    assert_true(bp_sortify_keycmp("z", "\xc3\xa9") < 0);
    /* U+FF5E sorts after U+1F600 in UTF-16 (D83D < FF5E is false: FF5E > D83D) */
    assert_true(bp_sortify_keycmp("\xf0\x9f\x98\x80", "\xef\xbd\x9e") < 0);
    char *out;
    const char *in = "{\"b\":[1,{\"d\":1,\"c\":2}],\"a\":-0.0,\"10\":1,\"9\":2}";
    assert_int_equal(bp_sortify_text(in, strlen(in), &out, NULL), 0);
    assert_string_equal(out, "{\"9\":2,\"10\":1,\"a\":0,\"b\":[1,{\"c\":2,\"d\":1}]}");
    free(out);
    assert_int_equal(bp_sortify_text("{", 1, &out, NULL), BP_EINVAL);
}

static void test_json_concurrent_merge(void **state)
{
    (void)state;
    json_t *c = vcase("json-concurrent-merge");
    json_t *rp = json_object_get(c, "replay");
    bp_chainpad *r = replay(json_object_get(rp, "history"), json_object_get(rp, "expected"), BP_CHAINPAD_LISTMAP);
    assert_content(r, S(c, "final_doc"), SL(c, "final_doc"));
    json_t *v;
    assert_int_equal(bp_chainpad_get_json(r, &v), 0);
    assert_string_equal(json_string_value(json_object_get(v, "title")), "Shopping list");
    json_decref(v);
    bp_chainpad_free(r);
    /* an empty (non-listmap) engine gives the same result (§5.1) */
    json_t *exp2 = json_pack("{s:O,s:O}", "best", json_object_get(json_object_get(rp, "expected"), "best"),
                             "auth_doc", json_object_get(json_object_get(rp, "expected"), "auth_doc"));
    r = replay(json_object_get(rp, "history"), exp2, BP_CHAINPAD_JSON);
    json_decref(exp2);
    bp_chainpad_free(r);

    /* writers, like chainpad-listmap: {} initial message, the base object,
     * then concurrent edits merged at JSON level */
    json_t *log = json_object_get(c, "server_log");
    bp_chainpad *alice, *bob;
    assert_int_equal(bp_chainpad_new(&alice, BP_CHAINPAD_LISTMAP), 0);
    assert_int_equal(bp_chainpad_new(&bob, BP_CHAINPAD_LISTMAP), 0);
    assert_int_equal(bp_chainpad_set_json(alice, json_object_get(c, "base_object")), 0);
    make_expect(alice, S(json_array_get(log, 0), "msg")); /* the {} initial message */
    assert_int_equal(bp_chainpad_ack(alice), BP_CHAINPAD_CHAIN);
    make_expect(alice, S(json_array_get(log, 1), "msg"));
    assert_int_equal(bp_chainpad_ack(alice), BP_CHAINPAD_CHAIN);
    int st;
    recv_str(bob, json_object_get(json_array_get(log, 0), "msg"), &st);
    assert_int_equal(st, BP_CHAINPAD_CHAIN);
    recv_str(bob, json_object_get(json_array_get(log, 1), "msg"), &st);
    assert_int_equal(st, BP_CHAINPAD_CHAIN);
    assert_int_equal(bp_chainpad_set_json(alice, json_object_get(c, "alice_object")), 0);
    assert_int_equal(bp_chainpad_set_json(bob, json_object_get(c, "bob_object")), 0);
    make_expect(alice, S(json_array_get(log, 2), "msg"));
    char *bm;
    size_t bl;
    assert_int_equal(bp_chainpad_make_message(bob, &bm, &bl, NULL), 0);
    const char *jb = S(json_array_get(log, 3), "msg");
    int bob_exact = strcmp(bm, jb) == 0;
    print_message("json-concurrent-merge: bob's two-operation patch %s\n",
                  bob_exact ? "identical" : "differs (diff choice)");
    free(bm);
    if (!bob_exact) { /* use JS's message so the hashes below hold */
        bp_chainpad_nack(bob);
        char *a;
        size_t al;
        assert_int_equal(bp_chainpad_content(bob, &a, &al), 0);
        assert_int_equal(bp_chainpad_set_content(bob, a, al), 0);
        free(a);
    }
    /* server order: alice's, then bob's; bob's has the lower hash and wins */
    assert_int_equal(bp_chainpad_ack(alice), BP_CHAINPAD_CHAIN);
    recv_str(bob, json_object_get(json_array_get(log, 2), "msg"), &st);
    assert_int_equal(st, BP_CHAINPAD_CHAIN);
    if (bob_exact) {
        st = bp_chainpad_ack(bob);
    } else {
        assert_int_equal(bp_chainpad_set_json(bob, json_object_get(c, "bob_object")), 0);
        recv_str(bob, json_object_get(json_array_get(log, 3), "msg"), &st);
    }
    assert_int_equal(st, BP_CHAINPAD_CHAIN);
    recv_str(alice, json_object_get(json_array_get(log, 3), "msg"), &st);
    assert_int_equal(st, BP_CHAINPAD_CHAIN);
    /* alice's title change survives the merge and is re-sent on bob's patch */
    make_expect(alice, S(json_array_get(log, 4), "msg"));
    assert_int_equal(bp_chainpad_ack(alice), BP_CHAINPAD_CHAIN);
    recv_str(bob, json_object_get(json_array_get(log, 4), "msg"), &st);
    assert_int_equal(st, BP_CHAINPAD_CHAIN);
    assert_content(alice, S(c, "final_doc"), SL(c, "final_doc"));
    if (bob_exact)
        assert_content(bob, S(c, "final_doc"), SL(c, "final_doc"));
    bp_chainpad_free(alice);
    bp_chainpad_free(bob);
}

static void test_listmap_wire(void **state)
{
    (void)state;
    json_t *c = vcase("listmap-wire");
    bp_chainpad *r, *w;
    assert_int_equal(bp_chainpad_new(&r, BP_CHAINPAD_LISTMAP), 0);
    assert_int_equal(bp_chainpad_new(&w, BP_CHAINPAD_LISTMAP), 0);
    json_t *steps = json_object_get(c, "steps"), *st, *all = json_array();
    size_t i, k;
    json_array_foreach(steps, i, st) {
        json_t *m;
        json_array_foreach(json_object_get(st, "messages"), k, m) {
            check_msg_record(S(m, "plaintext"), SL(m, "plaintext"), json_object_get(m, "chainpad"));
            json_t *rec = json_object();
            json_object_set(rec, "msg", json_object_get(m, "plaintext"));
            json_array_append_new(all, rec);
            int s;
            recv_str(r, json_object_get(m, "plaintext"), &s);
            assert_int_equal(s, BP_CHAINPAD_CHAIN);
            if (json_is_true(json_object_get(m, "is_checkpoint"))) {
                char id[13];
                bp_chainpad_checkpoint_id(S(m, "plaintext"), SL(m, "plaintext"), id);
                assert_true(strncmp(S(m, "wire"), "cp|", 3) == 0 && strncmp(S(m, "wire") + 3, id, 12) == 0);
            }
        }
        assert_content(r, S(st, "doc_after"), SL(st, "doc_after"));
    }
    assert_content(r, S(json_object_get(c, "second_client"), "final_doc"),
                   SL(json_object_get(c, "second_client"), "final_doc"));
    /* the writer makes the same plaintexts (the first one is the {} message) */
    size_t mi = 0;
    int exact = 0, differ = 0;
    json_array_foreach(steps, i, st)
        drive_writer(w, all, &mi, S(st, "doc_after"), SL(st, "doc_after"), &exact, &differ);
    assert_int_equal(mi, json_array_size(all));
    print_message("listmap-wire writer: %d identical, %d different\n", exact, differ);
    assert_content(w, S(json_object_get(c, "second_client"), "final_doc"),
                   SL(json_object_get(c, "second_client"), "final_doc"));
    json_decref(all);
    bp_chainpad_free(r);
    bp_chainpad_free(w);
}

static void test_pad_wire_checkpoint(void **state)
{
    (void)state;
    json_t *c = vcase("pad-wire-checkpoint");
    json_t *msgs = json_object_get(c, "messages"), *m;
    size_t i;
    bp_chainpad *r, *late, *w;
    assert_int_equal(bp_chainpad_new(&r, BP_CHAINPAD_JSON), 0);
    assert_int_equal(bp_chainpad_new(&late, BP_CHAINPAD_JSON), 0);
    assert_int_equal(bp_chainpad_new(&w, BP_CHAINPAD_JSON), 0);
    json_t *late_j = json_object_get(c, "late_joiner");
    json_int_t first = json_integer_value(json_object_get(late_j, "first_history_position"));
    json_t *all = json_array();
    char **docs = calloc(json_array_size(msgs), sizeof *docs);
    int ncp = 0;
    json_array_foreach(msgs, i, m) {
        check_msg_record(S(m, "plaintext"), SL(m, "plaintext"), json_object_get(m, "chainpad"));
        json_t *rec = json_object();
        json_object_set(rec, "msg", json_object_get(m, "plaintext"));
        json_array_append_new(all, rec);
        int s;
        recv_str(r, json_object_get(m, "plaintext"), &s);
        assert_int_equal(s, BP_CHAINPAD_CHAIN);
        assert_int_equal(bp_chainpad_content(r, &docs[i], NULL), 0);
        if ((json_int_t)i + 1 >= first) {
            recv_str(late, json_object_get(m, "plaintext"), &s);
            assert_int_equal(s, BP_CHAINPAD_CHAIN);
        }
        if (json_is_true(json_object_get(m, "is_checkpoint"))) {
            char id[13];
            bp_chainpad_checkpoint_id(S(m, "plaintext"), SL(m, "plaintext"), id);
            assert_string_equal(id, S(m, "cp_id"));
            ncp++;
        }
    }
    assert_int_equal(ncp, 2);
    assert_content(r, S(c, "final_doc"), SL(c, "final_doc"));
    assert_content(late, S(late_j, "final_doc"), SL(late_j, "final_doc"));
    /* the writer reproduces every plaintext, checkpoints at 50 and 100 included */
    size_t mi = 0;
    int exact = 0, differ = 0;
    json_array_foreach(msgs, i, m) {
        if (json_is_true(json_object_get(m, "is_checkpoint")))
            continue; /* the writer emits it by itself before the next patch */
        drive_writer(w, all, &mi, docs[i], strlen(docs[i]), &exact, &differ);
    }
    assert_int_equal(mi, json_array_size(all));
    assert_int_equal(differ, 0);
    for (i = 0; i < json_array_size(msgs); i++)
        free(docs[i]);
    free(docs);
    json_decref(all);
    bp_chainpad_free(r);
    bp_chainpad_free(late);
    bp_chainpad_free(w);
}

/* ---- own scenarios ----------------------------------------------------------- */

/* Regression (docs/client/pad.md "Left"): two writers append lines that start
 * with the same character as the text next to them ("w0-00\n", "w1-00\n") on
 * the same parent; the server stores the higher hash first, so the winner
 * first receives the loser's message, then its own ACK makes it revert that
 * message. A rebase that re-diffed whole texts aligned "w1-00\n" one unit off
 * ("1-00\nw") and the revert cut it. Every line must stay whole, once. */
static void lines_append(bp_chainpad *w, unsigned flags, const char *line)
{
    char *u;
    size_t n;
    assert_int_equal(bp_chainpad_user_content(w, &u, &n), 0);
    if (!flags) {
        char *t = malloc(n + strlen(line) + 1);
        assert_non_null(t);
        memcpy(t, u, n);
        strcpy(t + n, line);
        assert_int_equal(bp_chainpad_set_content(w, t, strlen(t)), 0);
        free(t);
    } else {
        json_t *v = n ? json_loadb(u, n, JSON_DECODE_ANY, NULL) : json_object(); /* "" at first */
        assert_non_null(v);
        if (!json_is_object(v)) {
            json_decref(v);
            v = json_object();
        }
        const char *old = json_string_value(json_object_get(v, "content"));
        char buf[4096];
        snprintf(buf, sizeof buf, "%s%s", old ? old : "", line);
        json_object_set_new(v, "content", json_string(buf));
        json_object_set_new(v, "title", json_string("w"));
        assert_int_equal(bp_chainpad_set_json(w, v), 0);
        json_decref(v);
    }
    free(u);
}

/* Delivers the round's messages (NULL = none) in server order: higher hash
 * first, so the lower hash wins the tie only after the other was applied. */
static void lines_deliver(bp_chainpad *w[2], char *m[2])
{
    int first = 0;
    if (m[0] && m[1]) {
        char h0[65], h1[65];
        assert_int_equal(bp_chainpad_message_hash(m[0], strlen(m[0]), h0), 0);
        assert_int_equal(bp_chainpad_message_hash(m[1], strlen(m[1]), h1), 0);
        first = strcmp(h0, h1) > 0 ? 0 : 1;
    } else if (m[1]) {
        first = 1;
    }
    for (int k = 0; k < 2; k++) {
        int who = k == 0 ? first : 1 - first;
        if (!m[who])
            continue;
        for (int i = 0; i < 2; i++) {
            int st = i == who ? bp_chainpad_ack(w[i]) : bp_chainpad_receive(w[i], m[who], strlen(m[who]));
            assert_true(st == BP_CHAINPAD_CHAIN || st == BP_CHAINPAD_FORK);
        }
    }
}

static void lines_case(unsigned flags)
{
    bp_chainpad *w[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(bp_chainpad_new(&w[i], flags), 0);
    if (flags) { /* a shared document first, as a pad is created before it is edited */
        char *m0 = NULL;
        lines_append(w[0], flags, "");
        assert_int_equal(bp_chainpad_make_message(w[0], &m0, NULL, NULL), 0);
        char *m[2] = {m0, NULL};
        lines_deliver(w, m);
        free(m0);
    }
    char line[32];
    for (int round = 0; round < 12; round++) {
        char *m[2] = {NULL, NULL};
        for (int i = 0; i < 2; i++) {
            /* both append every round; a writer with a message in flight keeps it */
            snprintf(line, sizeof line, "w%d-%02d\n", i, round);
            lines_append(w[i], flags, line);
            int rc = bp_chainpad_make_message(w[i], &m[i], NULL, NULL);
            assert_true(rc == 0 || rc == BP_EAGAIN);
        }
        lines_deliver(w, m);
        free(m[0]);
        free(m[1]);
    }
    for (int quiet = 0; quiet < 2;) { /* drain the rebased work */
        char *m[2] = {NULL, NULL};
        for (int i = 0; i < 2; i++)
            assert_int_equal(bp_chainpad_make_message(w[i], &m[i], NULL, NULL), 0);
        quiet = m[0] || m[1] ? 0 : quiet + 1;
        lines_deliver(w, m);
        free(m[0]);
        free(m[1]);
    }
    char *c[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(bp_chainpad_content(w[i], &c[i], NULL), 0);
    assert_string_equal(c[0], c[1]);
    char *text = c[0];
    json_t *v = NULL;
    if (flags) {
        v = json_loads(c[0], 0, NULL);
        assert_non_null(v);
        text = (char *)json_string_value(json_object_get(v, "content"));
        assert_non_null(text);
    }
    size_t total = 0;
    for (int i = 0; i < 2; i++)
        for (int round = 0; round < 12; round++) {
            snprintf(line, sizeof line, "w%d-%02d\n", i, round);
            char *f = strstr(text, line);
            if (!f)
                fprintf(stderr, "missing %s in:\n%s\n", line, text);
            assert_non_null(f);
            assert_null(strstr(f + 1, line));
            total += strlen(line);
        }
    assert_int_equal(strlen(text), total);
    json_decref(v);
    for (int i = 0; i < 2; i++) {
        free(c[i]);
        bp_chainpad_free(w[i]);
    }
}

static void test_concurrent_lines_intact(void **state)
{
    (void)state;
    lines_case(0);
    lines_case(BP_CHAINPAD_JSON);
}

/* Two writers on the same parent, over a third reader: the fork rule picks
 * the lower hash, the loser rebases, and everybody converges. */
static void test_concurrent_writers(void **state)
{
    (void)state;
    const char *base = "line one\nline two\nline three\n";
    bp_chainpad *a, *b, *r;
    assert_int_equal(bp_chainpad_new(&a, 0), 0);
    assert_int_equal(bp_chainpad_new(&b, 0), 0);
    assert_int_equal(bp_chainpad_new(&r, 0), 0);
    char *m0, *ma, *mb, *mr;
    assert_int_equal(bp_chainpad_set_content(a, base, strlen(base)), 0);
    assert_int_equal(bp_chainpad_make_message(a, &m0, NULL, NULL), 0);
    assert_int_equal(bp_chainpad_ack(a), BP_CHAINPAD_CHAIN);
    assert_int_equal(bp_chainpad_receive(b, m0, strlen(m0)), BP_CHAINPAD_CHAIN);
    assert_int_equal(bp_chainpad_receive(r, m0, strlen(m0)), BP_CHAINPAD_CHAIN);
    const char *ea = "line ONE\nline two\nline three\nfour\n";
    const char *eb = "line one\nline 2\nline three\n";
    assert_int_equal(bp_chainpad_set_content(a, ea, strlen(ea)), 0);
    assert_int_equal(bp_chainpad_set_content(b, eb, strlen(eb)), 0);
    assert_int_equal(bp_chainpad_make_message(a, &ma, NULL, NULL), 0);
    assert_int_equal(bp_chainpad_make_message(b, &mb, NULL, NULL), 0);
    assert_int_equal(bp_chainpad_make_message(a, &mr, NULL, NULL), BP_EAGAIN);
    char ha[65], hb[65];
    assert_int_equal(bp_chainpad_message_hash(ma, strlen(ma), ha), 0);
    assert_int_equal(bp_chainpad_message_hash(mb, strlen(mb), hb), 0);
    int a_wins = strcmp(ha, hb) < 0;
    /* server order: a's, then b's */
    assert_int_equal(bp_chainpad_ack(a), BP_CHAINPAD_CHAIN);
    assert_int_equal(bp_chainpad_receive(b, ma, strlen(ma)), BP_CHAINPAD_CHAIN);
    assert_int_equal(bp_chainpad_ack(b), a_wins ? BP_CHAINPAD_FORK : BP_CHAINPAD_CHAIN);
    assert_int_equal(bp_chainpad_receive(a, mb, strlen(mb)), a_wins ? BP_CHAINPAD_FORK : BP_CHAINPAD_CHAIN);
    assert_int_equal(bp_chainpad_receive(r, ma, strlen(ma)), BP_CHAINPAD_CHAIN);
    assert_int_equal(bp_chainpad_receive(r, mb, strlen(mb)), a_wins ? BP_CHAINPAD_FORK : BP_CHAINPAD_CHAIN);
    char h1[65], h2[65], h3[65];
    bp_chainpad_head(a, h1);
    bp_chainpad_head(b, h2);
    bp_chainpad_head(r, h3);
    assert_string_equal(h1, h2);
    assert_string_equal(h1, h3);
    assert_string_equal(h1, a_wins ? ha : hb);
    /* the loser re-sends; both edits survive everywhere */
    bp_chainpad *loser = a_wins ? b : a, *winner = a_wins ? a : b;
    assert_int_equal(bp_chainpad_make_message(winner, &mr, NULL, NULL), 0);
    assert_null(mr);
    assert_int_equal(bp_chainpad_make_message(loser, &mr, NULL, NULL), 0);
    assert_non_null(mr);
    assert_int_equal(bp_chainpad_ack(loser), BP_CHAINPAD_CHAIN);
    assert_int_equal(bp_chainpad_receive(winner, mr, strlen(mr)), BP_CHAINPAD_CHAIN);
    assert_int_equal(bp_chainpad_receive(r, mr, strlen(mr)), BP_CHAINPAD_CHAIN);
    const char *want = "line ONE\nline 2\nline three\nfour\n";
    assert_content(a, want, strlen(want));
    assert_content(b, want, strlen(want));
    assert_content(r, want, strlen(want));
    free(m0);
    free(ma);
    free(mb);
    free(mr);
    bp_chainpad_free(a);
    bp_chainpad_free(b);
    bp_chainpad_free(r);
}

/* UTF-16 offsets, surrogates split by a patch, lone surrogates on the wire,
 * and content round trips. */
static void test_utf16(void **state)
{
    (void)state;
    bp_chainpad *w, *r;
    assert_int_equal(bp_chainpad_new(&w, 0), 0);
    assert_int_equal(bp_chainpad_new(&r, 0), 0);
    const char *seq[] = {"a\xf0\x9f\x98\x80z", "a\xf0\x9f\x98\x81z", "\xc3\xa9\xf0\x9f\x98\x81", "",
                         "x\xe2\x80\xa8\x01\"\\/<\x7f"};
    for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
        assert_int_equal(bp_chainpad_set_content(w, seq[i], strlen(seq[i])), 0);
        char *m;
        size_t l;
        assert_int_equal(bp_chainpad_make_message(w, &m, &l, NULL), 0);
        assert_non_null(m);
        if (i == 1) /* only the low surrogate changes: the op splits the pair */
            assert_non_null(strstr(m, "[2,1,\"\\ude01\"]"));
        if (i == 4) {
            assert_non_null(strstr(m, "\xe2\x80\xa8\\u0001\\\"\\\\/<\x7f"));
        }
        assert_int_equal(bp_chainpad_ack(w), BP_CHAINPAD_CHAIN);
        assert_int_equal(bp_chainpad_receive(r, m, l), BP_CHAINPAD_CHAIN);
        assert_content(r, seq[i], strlen(seq[i]));
        char h1[65], h2[65];
        bp_chainpad_content_hash(r, h1);
        assert_int_equal(bp_chainpad_hash(seq[i], strlen(seq[i]), h2), 0);
        assert_string_equal(h1, h2);
        free(m);
    }
    /* not UTF-8 */
    assert_int_equal(bp_chainpad_set_content(w, "\xff", 1), BP_EINVAL);
    assert_int_equal(bp_chainpad_receive(r, "[2,[\"\xff\"]]", 9), BP_CHAINPAD_UNPARSABLE);
    bp_chainpad_free(w);
    bp_chainpad_free(r);
    /* escapes: lone surrogates as \udxxx, pairs raw */
    struct u16 s = U16_INIT, out = U16_INIT;
    uint16_t units[] = {0xD83D, 'a', 0xDE00, 0xD83D, 0xDE00, 0x1F, 0x2028};
    u16_append(&s, units, 7);
    cp_json_str(&out, s.p, s.n);
    char *t = u16_to_utf8(out.p, out.n, NULL);
    assert_string_equal(t, "\"\\ud83da\\ude00\xf0\x9f\x98\x80\\u001f\xe2\x80\xa8\"");
    free(t);
    u16_free(&s);
    u16_free(&out);
}

static void test_simplify_rules(void **state)
{
    (void)state;
    struct u16 doc = U16_INIT;
    u16_append_ascii(&doc, "abc", 3);
    struct cp_op op = {0, 3, U16_INIT};
    u16_append_ascii(&op.ins, "xc", 2);
    struct cp_op *o;
    size_t n;
    cp_simplify(&doc, &op, 1, &o, &n); /* [0,3,"xc"] over "abc" is valid (lengths differ) */
    assert_true(cp_ops_equal(o, n, &op, 1));
    cp_ops_free(o, n);
    op.ins.n = 0;
    u16_append_ascii(&op.ins, "xbc", 3); /* same length, common suffix: [0,1,"x"] */
    cp_simplify(&doc, &op, 1, &o, &n);
    assert_int_equal(n, 1);
    assert_int_equal(o[0].off, 0);
    assert_int_equal(o[0].rem, 1);
    assert_int_equal(o[0].ins.n, 1);
    cp_ops_free(o, n);
    op.ins.n = 0;
    u16_append_ascii(&op.ins, "abc", 3); /* no-op */
    cp_simplify(&doc, &op, 1, &o, &n);
    assert_int_equal(n, 0);
    cp_ops_free(o, n);
    u16_free(&op.ins);
    /* diff + simplify is idempotent and applies */
    const char *pairs[][2] = {{"hello world", "help world!"}, {"", "abc"}, {"abc", ""},
                              {"aaaa", "aaaaa"}, {"the cat sat", "the bat sat on"}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        struct u16 a = U16_INIT, b = U16_INIT;
        u16_from_utf8(&a, pairs[i][0], strlen(pairs[i][0]), true);
        u16_from_utf8(&b, pairs[i][1], strlen(pairs[i][1]), true);
        struct cp_op *d, *s2;
        size_t nd, ns;
        cp_diff(a.p, a.n, b.p, b.n, &d, &nd);
        cp_simplify(&a, d, nd, &s2, &ns);
        assert_true(cp_ops_equal(d, nd, s2, ns));
        cp_apply_ops(&a, d, nd);
        assert_true(u16_eq(a.p, a.n, b.p, b.n));
        cp_ops_free(d, nd);
        cp_ops_free(s2, ns);
        u16_free(&a);
        u16_free(&b);
    }
    u16_free(&doc);
    /* JSON.parse validity */
    const char *good[] = {"{}", " [1,-0.5e+3,\"\\u00e9\",true,null,{\"a\":[]}] ", "\"x\"", "0"};
    const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "01", "NaN", "[1] x", "\"\t\"", "{'a':1}", "1."};
    for (size_t i = 0; i < 4; i++) {
        struct u16 u = U16_INIT;
        u16_from_utf8(&u, good[i], strlen(good[i]), true);
        assert_true(cp_json_valid(u.p, u.n));
        u16_free(&u);
    }
    for (size_t i = 0; i < 10; i++) {
        struct u16 u = U16_INIT;
        u16_from_utf8(&u, bad[i], strlen(bad[i]), true);
        if (cp_json_valid(u.p, u.n))
            fail_msg("accepted %s", bad[i]);
        u16_free(&u);
    }
}

static void test_json_engine(void **state)
{
    (void)state;
    bp_chainpad *cp;
    assert_int_equal(bp_chainpad_new(&cp, BP_CHAINPAD_JSON), 0);
    assert_int_equal(bp_chainpad_set_content(cp, "{", 1), BP_EINVAL);
    json_t *v = json_pack("{s:s,s:{s:s},s:i}", "content", "hi\n", "metadata", "type", "code", "n", 10);
    assert_int_equal(bp_chainpad_set_json(cp, v), 0);
    char *m;
    assert_int_equal(bp_chainpad_make_message(cp, &m, NULL, NULL), 0);
    assert_non_null(strstr(m, "{\\\"content\\\":\\\"hi\\\\n\\\",\\\"metadata\\\":{\\\"type\\\":\\\"code\\\"},\\\"n\\\":10}"));
    free(m);
    assert_int_equal(bp_chainpad_ack(cp), BP_CHAINPAD_CHAIN);
    json_t *got;
    assert_int_equal(bp_chainpad_get_json(cp, &got), 0);
    assert_true(json_equal(got, v));
    json_decref(got);
    json_decref(v);
    assert_int_equal(bp_chainpad_ack(cp), BP_ENOENT);
    bp_chainpad_free(cp);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    V = load_vectors("chainpad.json");
    if (!V)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_examples),
        cmocka_unit_test(test_text_edit_sequence),
        cmocka_unit_test(test_checkpoints),
        cmocka_unit_test(test_fork_first_wins),
        cmocka_unit_test(test_fork_second_wins),
        cmocka_unit_test(test_fork_longer_chain),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_invalid_and_lenient),
        cmocka_unit_test(test_json_serialization),
        cmocka_unit_test(test_json_concurrent_merge),
        cmocka_unit_test(test_listmap_wire),
        cmocka_unit_test(test_pad_wire_checkpoint),
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_concurrent_lines_intact),
        cmocka_unit_test(test_utf16),
        cmocka_unit_test(test_simplify_rules),
        cmocka_unit_test(test_json_engine),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(V);
    return rc;
}
