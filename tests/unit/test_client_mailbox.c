/* test_client_mailbox.c: the pure parts of blindpad/mailbox.h: contact
 * addresses, the text message's JSON, sealing and opening (with the
 * authenticated-sender rule of mailbox-handlers.js), against mailbox.json
 * (CryptPad's own letters, read at run time). */
#include "test.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <blindpad/crypto.h>
#include <blindpad/contacts.h>
#include <blindpad/mailbox.h>

#include "vectors.h"

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void key(const char *b64, unsigned char *out, size_t n)
{
    assert_non_null(b64);
    assert_int_equal(bp_crypto_b64_key(b64, out, n), 0);
}

static void test_addr(void **state)
{
    (void)state;
    struct bp_mailbox_addr a = {0}, b;
    snprintf(a.origin, sizeof a.origin, "http://127.0.0.1:3000");
    memcpy(a.channel, "0123456789abcdef0123456789abcdef", 33);
    for (int i = 0; i < 32; i++)
        a.curve_public[i] = (unsigned char)(0xfb + i); /* makes '+' / '/' characters */
    char s[BP_MAILBOX_ADDR_MAX];
    size_t len = 0;
    assert_int_equal(bp_mailbox_addr_format(&a, s, sizeof s, &len), 0);
    assert_int_equal(len, strlen(s));
    assert_non_null(strstr(s, "http://127.0.0.1:3000/#/mailbox/0123456789abcdef0123456789abcdef/"));
    assert_null(strchr(s + strlen("http://"), '=')); /* url-safe, unpadded */
    assert_int_equal(bp_mailbox_addr_parse(s, &b, NULL), 0);
    assert_string_equal(b.origin, a.origin);
    assert_string_equal(b.channel, a.channel);
    assert_memory_equal(b.curve_public, a.curve_public, 32);
    /* too small a buffer says how much it needs */
    char small[8];
    assert_int_equal(bp_mailbox_addr_format(&a, small, sizeof small, &len), BP_ETOOBIG);
    assert_int_equal(len, strlen(s));

    /* pasted with blanks and a trailing slash; standard base64 with padding */
    char key64[64], pasted[800];
    size_t kl;
    bp_crypto_b64_encode(a.curve_public, 32, BP_B64_STD, key64, sizeof key64, &kl);
    snprintf(pasted, sizeof pasted, "  https://pad.example.org/#/mailbox/%s/%s/\n", a.channel, key64);
    assert_int_equal(bp_mailbox_addr_parse(pasted, &b, NULL), 0);
    assert_string_equal(b.origin, "https://pad.example.org");
    assert_memory_equal(b.curve_public, a.curve_public, 32);

    /* CryptPad's user data (a friend entry) */
    char js[400];
    snprintf(js, sizeof js, "{\"displayName\":\"Bob\",\"notifications\":\"%s\",\"curvePublic\":\"%s\"}",
             a.channel, key64);
    assert_int_equal(bp_mailbox_addr_parse(js, &b, NULL), 0);
    assert_string_equal(b.origin, "");
    assert_string_equal(b.channel, a.channel);

    static const char *const bad[] = {
        "",
        "0123456789abcdef0123456789abcdef",
        "http://h/#/mailbox/0123456789abcdef0123456789abcde/AAAA",     /* 31 hex */
        "http://h/#/mailbox/0123456789ABCDEF0123456789ABCDEF/AAAA",     /* upper case */
        "http://h/#/mailbox/0123456789abcdef0123456789abcdef/",         /* no key */
        "http://h/#/mailbox/0123456789abcdef0123456789abcdef/AAAA",     /* 3 bytes */
        "http://h/x/#/mailbox/0123456789abcdef0123456789abcdef/AAAA",   /* a path */
        "http:///#/mailbox/0123456789abcdef0123456789abcdef/AAAA",      /* no host */
        "http://h/#/code/0123456789abcdef0123456789abcdef/AAAA",
        "{\"notifications\":\"0123456789abcdef0123456789abcdef\"}",    /* no key */
        "{\"curvePublic\":\"AAAA\",\"notifications\":\"x\"}",
        "{not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL;
        assert_int_equal(bp_mailbox_addr_parse(bad[i], &b, &why), BP_EINVAL);
        assert_non_null(why);
    }
}

static void test_make_text(void **state)
{
    (void)state;
    json_t *user = json_pack("{s:s, s:s}", "displayName", "Al \"x\"", "curvePublic", "K");
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(bp_mailbox_make_text("hé\n/", strlen("hé\n/"), user, &out, &len), 0);
    /* JSON.stringify's bytes: insertion order, '/' and non-ASCII verbatim */
    assert_string_equal(out, "{\"type\":\"BLINDPAD_MESSAGE\",\"content\":{\"text\":\"hé\\n/\",\"user\":"
                             "{\"displayName\":\"Al \\\"x\\\"\",\"curvePublic\":\"K\"}}}");
    assert_int_equal(len, strlen(out));
    free(out);
    assert_int_equal(bp_mailbox_make_text("hi", 2, NULL, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"BLINDPAD_MESSAGE\",\"content\":{\"text\":\"hi\"}}");
    free(out);
    assert_int_equal(bp_mailbox_make_text("\xff\xfe", 2, NULL, &out, &len), BP_EINVAL);
    assert_null(out);
    assert_int_equal(bp_mailbox_make_text("a\0b", 3, NULL, &out, &len), BP_EINVAL);
    char *big = malloc(BP_MAILBOX_MAX_TEXT + 1);
    memset(big, 'a', BP_MAILBOX_MAX_TEXT + 1);
    assert_int_equal(bp_mailbox_make_text(big, BP_MAILBOX_MAX_TEXT + 1, NULL, &out, &len), BP_ETOOBIG);
    assert_int_equal(bp_mailbox_make_text(big, BP_MAILBOX_MAX_TEXT, NULL, &out, &len), 0);
    free(out);
    free(big);
    json_decref(user);
}

/* CryptPad's letters from mailbox.json open, name their sealer, and are
 * refused with the wrong key or when changed. */
static void test_vectors(void **state)
{
    (void)state;
    json_t *v = load_vectors("mailbox.json");
    assert_non_null(v);
    size_t i, opened = 0;
    json_t *c;
    json_array_foreach(json_object_get(v, "cases"), i, c) {
        unsigned char r_sk[32], s_sk[32];
        key(str(c, "recipient_curvePrivate"), r_sk, 32);
        key(str(c, "sender_curvePrivate"), s_sk, 32);
        const char *ct = str(c, "ciphertext");
        json_t *plain = json_loads(str(c, "plaintext"), 0, NULL);
        assert_non_null(plain);
        struct bp_mailbox_msg m;
        assert_int_equal(bp_mailbox_open(r_sk, ct, strlen(ct), 42, &m), 0);
        assert_int_equal(m.time, 42);
        assert_string_equal(m.hash, str(c, "message_hash"));
        if (str(c, "signingKey")) {
            /* A signed letter (team rosters) is not a notification: the
             * web client's notifications reader does not open it either. */
            assert_int_not_equal(m.status, 0);
            bp_mailbox_msg_clear(&m);
            json_decref(plain);
            continue;
        }
        assert_int_equal(m.status, 0);
        assert_string_equal(m.author, str(c, "sender_curvePublic"));
        assert_string_equal(m.type, str(plain, "type"));
        assert_true(json_equal(m.json, plain));
        assert_null(m.text); /* not a BLINDPAD_MESSAGE */
        bp_mailbox_msg_clear(&m);
        opened++;

        /* the sender cannot open what it sealed for someone else */
        assert_int_equal(bp_mailbox_open(s_sk, ct, strlen(ct), 0, &m), 0);
        assert_int_equal(m.status, BP_EDECRYPT);
        assert_null(m.json);
        assert_string_equal(m.author, "");
        bp_mailbox_msg_clear(&m);

        /* every changed character is refused, never opened */
        char *t = strdup(ct);
        size_t n = strlen(t);
        for (size_t k = 0; k + 2 < n; k += 7) {
            char old = t[k];
            t[k] = old == 'A' ? 'B' : 'A';
            assert_int_equal(bp_mailbox_open(r_sk, t, n, 0, &m), 0);
            assert_true(m.status == BP_EDECRYPT || m.status == BP_EPROTO);
            bp_mailbox_msg_clear(&m);
            t[k] = old;
        }
        /* truncated */
        assert_int_equal(bp_mailbox_open(r_sk, t, n / 2, 0, &m), 0);
        assert_int_not_equal(m.status, 0);
        bp_mailbox_msg_clear(&m);
        free(t);
        json_decref(plain);
    }
    assert_true(opened >= 2);
    json_decref(v);
}

/* Sealing and the sender rule: a letter naming another curvePublic than
 * its sealer's is refused (BP_ESIG), except one we sealed ourselves. */
static void test_seal_open(void **state)
{
    (void)state;
    unsigned char a_sk[32], a_pk[32], b_sk[32], b_pk[32], c_sk[32], c_pk[32];
    crypto_box_keypair(a_pk, a_sk);
    crypto_box_keypair(b_pk, b_sk);
    crypto_box_keypair(c_pk, c_sk);
    char a64[48], c64[48];
    size_t l;
    bp_crypto_b64_encode(a_pk, 32, BP_B64_STD, a64, sizeof a64, &l);
    bp_crypto_b64_encode(c_pk, 32, BP_B64_STD, c64, sizeof c64, &l);

    json_t *user = json_pack("{s:s, s:s}", "displayName", "alice", "curvePublic", a64);
    char *plain, *ct;
    size_t plen, clen;
    assert_int_equal(bp_mailbox_make_text("hello", 5, user, &plain, &plen), 0);
    assert_int_equal(bp_mailbox_seal(a_sk, b_pk, plain, plen, &ct, &clen), 0);
    assert_int_equal(clen, strlen(ct));
    struct bp_mailbox_msg m;
    assert_int_equal(bp_mailbox_open(b_sk, ct, clen, 0, &m), 0);
    assert_int_equal(m.status, 0);
    assert_string_equal(m.author, a64);
    assert_string_equal(m.type, BP_MAILBOX_TYPE_TEXT);
    assert_string_equal(m.text, "hello");
    assert_string_equal(m.display_name, "alice");
    bp_mailbox_msg_clear(&m);
    /* a third party cannot */
    assert_int_equal(bp_mailbox_open(c_sk, ct, clen, 0, &m), 0);
    assert_int_equal(m.status, BP_EDECRYPT);
    bp_mailbox_msg_clear(&m);
    free(ct);

    /* carol seals a letter claiming to be alice */
    assert_int_equal(bp_mailbox_seal(c_sk, b_pk, plain, plen, &ct, &clen), 0);
    assert_int_equal(bp_mailbox_open(b_sk, ct, clen, 0, &m), 0);
    assert_int_equal(m.status, BP_ESIG);
    assert_string_equal(m.author, c64); /* who really sealed it */
    bp_mailbox_msg_clear(&m);
    free(ct);
    /* the old format (content.curvePublic) is checked too */
    const char *old = "{\"type\":\"FRIEND_REQUEST\",\"content\":{\"curvePublic\":\"%s\"}}";
    char buf[200];
    snprintf(buf, sizeof buf, old, a64);
    assert_int_equal(bp_mailbox_seal(c_sk, b_pk, buf, strlen(buf), &ct, &clen), 0);
    assert_int_equal(bp_mailbox_open(b_sk, ct, clen, 0, &m), 0);
    assert_int_equal(m.status, BP_ESIG);
    bp_mailbox_msg_clear(&m);
    free(ct);
    /* a letter bob sealed to himself naming alice: his own notice, allowed */
    assert_int_equal(bp_mailbox_seal(b_sk, b_pk, plain, plen, &ct, &clen), 0);
    assert_int_equal(bp_mailbox_open(b_sk, ct, clen, 0, &m), 0);
    assert_int_equal(m.status, 0);
    bp_mailbox_msg_clear(&m);
    free(ct);
    /* not JSON, or no type: not a CryptPad letter */
    static const char *const junk[] = {"hello", "[1,2]", "{\"content\":{}}", "{\"type\":3}"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        assert_int_equal(bp_mailbox_seal(a_sk, b_pk, junk[i], strlen(junk[i]), &ct, &clen), 0);
        assert_int_equal(bp_mailbox_open(b_sk, ct, clen, 0, &m), 0);
        assert_int_equal(m.status, BP_EPROTO);
        assert_string_equal(m.author, a64); /* opened, but not a message */
        bp_mailbox_msg_clear(&m);
        free(ct);
    }
    /* garbage */
    assert_int_equal(bp_mailbox_open(b_sk, "not base64!", 11, 0, &m), 0);
    assert_int_equal(m.status, BP_EPROTO);
    bp_mailbox_msg_clear(&m);
    free(plain);
    json_decref(user);
}

/* contacts.h: what of a letter's user data goes into the drive's friends */
static void test_contact_copy(void **state)
{
    const char *curve = "CuG5/Uc2sU4Llr6qrwR3i5mMetMpQcW+yifMTyf6oHg=";
    const char *ed = "PfHCt20Hhbqf0ueguQzEq7A3Z2J4qIpOEdqOEjjQkYo=";
    const char *hex = "0123456789abcdef0123456789abcdef";
    json_t *u = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:{s:s}}", "curvePublic", curve, "notifications", hex,
                          "channel", hex, "edPublic", ed, "displayName", "alice", "uid", "42", "avatar", 7,
                          "extra", "x", "y");
    int e = -1;
    const char *why = NULL;
    json_t *c = bp_contacts_user_copy(u, true, &e, &why);
    assert_non_null(c);
    assert_int_equal(e, 0);
    /* known string members only: the number avatar and the unknown member are dropped */
    assert_int_equal(json_object_size(c), 6);
    assert_string_equal(json_string_value(json_object_get(c, "displayName")), "alice");
    assert_null(json_object_get(c, "avatar"));
    assert_null(json_object_get(c, "extra"));
    json_decref(c);

    /* an over-long name is dropped, the contact kept */
    char *longname = malloc(BP_CONTACTS_NAME_MAX + 2);
    memset(longname, 'n', BP_CONTACTS_NAME_MAX + 1);
    longname[BP_CONTACTS_NAME_MAX + 1] = '\0';
    json_object_set_new(u, "displayName", json_string(longname));
    c = bp_contacts_user_copy(u, true, &e, NULL);
    assert_non_null(c);
    assert_null(json_object_get(c, "displayName"));
    json_decref(c);
    longname[BP_CONTACTS_NAME_MAX] = '\0';
    json_object_set_new(u, "displayName", json_string(longname));
    c = bp_contacts_user_copy(u, true, &e, NULL);
    assert_int_equal(json_string_length(json_object_get(c, "displayName")), BP_CONTACTS_NAME_MAX);
    json_decref(c);
    free(longname);

    /* required members: each missing or malformed one refuses the whole */
    static const struct {
        const char *key;
        const char *bad; /* NULL: removed */
    } cases[] = {{"curvePublic", NULL}, {"curvePublic", "short"}, {"notifications", NULL},
                 {"notifications", "0123456789ABCDEF0123456789ABCDEF"}, {"channel", NULL},
                 {"channel", "0123"}, {"edPublic", "not a key"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = json_deep_copy(u);
        if (cases[i].bad)
            json_object_set_new(v, cases[i].key, json_string(cases[i].bad));
        else
            json_object_del(v, cases[i].key);
        why = NULL;
        assert_null(bp_contacts_user_copy(v, true, &e, &why));
        assert_int_equal(e, BP_EPROTO);
        assert_non_null(why);
        json_decref(v);
    }
    /* the chat channel is only required when asked for (an UNFRIEND's user data has none) */
    json_object_del(u, "channel");
    c = bp_contacts_user_copy(u, false, &e, NULL);
    assert_non_null(c);
    assert_null(json_object_get(c, "channel"));
    json_decref(c);
    json_t *notobj = json_string("x");
    assert_null(bp_contacts_user_copy(notobj, false, &e, NULL));
    assert_int_equal(e, BP_EPROTO);
    json_decref(notobj);
    json_decref(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr),
        cmocka_unit_test(test_make_text),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_contact_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
