/* Unit tests: src/client/link.c against ../shared/vectors/hash.json (every
 * case: parsed fields, every derived key, rebuilt hashes, creation from the
 * scripted seed, form keys, blob paths), plus links that must be refused with
 * BP_ELINK, round trips, and random links. */
#include "test.h"

#include <sodium.h>
#include <string.h>

#include "blindpad/crypto.h"
#include "blindpad/link.h"
#include "vectors.h"

static json_t *hash_vectors;

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void assert_b64(const uint8_t *bin, size_t n, const char *want)
{
    char got[256];
    assert_non_null(want);
    assert_int_equal(bp_crypto_b64_encode(bin, n, BP_B64_STD, got, sizeof got, NULL), 0);
    assert_string_equal(got, want);
}

static void assert_hex(const uint8_t *bin, size_t n, const char *want)
{
    char got[256];
    assert_non_null(want);
    bp_crypto_hex_encode(bin, n, got);
    assert_string_equal(got, want);
}

static size_t hex_bytes(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    assert_int_equal(bp_crypto_hex_decode(hex, 2 * n, out, n), 0);
    return n;
}

static void check_hash(const struct bp_link *l, enum bp_link_mode mode, const char *want)
{
    char got[BP_LINK_HASH_MAX];
    if (!want) {
        assert_int_not_equal(bp_link_hash(l, mode, got, sizeof got), 0);
        return;
    }
    assert_int_equal(bp_link_hash(l, mode, got, sizeof got), 0);
    assert_string_equal(got, want);
}

/* Checks every key the vector lists against l. */
static void check_keys(const struct bp_link *l, json_t *secret, const char *name)
{
    json_t *keys = json_object_get(secret, "keys");
    const char *v;
    assert_string_equal(l->channel, str(secret, "channel_hex"));
    assert_int_equal(l->version, json_integer_value(json_object_get(secret, "version")));
    if ((v = str(secret, "key")))
        assert_string_equal(l->version == 2 && l->kind == BP_LINK_FILE ? l->file_key_str : l->edit_key_str, v);
    if (!keys)
        return;
    if ((v = str(keys, "editKeyStr")))
        assert_string_equal(l->edit_key_str, v);
    else
        assert_false(l->has_sign_key);
    if ((v = str(keys, "viewKeyStr")))
        assert_string_equal(l->view_key_str, v);
    if ((v = str(keys, "fileKeyStr")))
        assert_string_equal(l->file_key_str, v);
    if ((v = str(keys, "chanId")))
        assert_string_equal(l->chan_id, v);
    if ((v = str(keys, "signKey"))) {
        assert_true(l->has_sign_key);
        assert_b64(l->sign_key, 64, v);
        assert_b64(l->validate_key, 32, str(keys, "validateKey"));
    } else {
        assert_false(l->has_sign_key);
    }
    if ((v = str(keys, "secondaryKey"))) {
        assert_true(l->has_secondary_key);
        assert_b64(l->secondary_key, 32, v);
    } else {
        assert_false(l->has_secondary_key);
    }
    if ((v = str(keys, "secondarySignKey"))) {
        assert_true(l->has_secondary_sign);
        assert_b64(l->secondary_sign_key, 64, v);
        assert_b64(l->secondary_validate_key, 32, str(keys, "secondaryValidateKey"));
    } else {
        assert_false(l->has_secondary_sign);
    }
    assert_hex(l->crypt_key, 32, str(keys, "cryptKey_hex"));
    assert_b64(l->crypt_key, 32, str(keys, "cryptKey_b64"));
    (void)name;
}

static void test_hash_vectors(void **state)
{
    size_t i;
    json_t *c;
    assert_non_null(hash_vectors);
    json_t *cases = json_object_get(hash_vectors, "cases");
    assert_true(json_array_size(cases) >= 20);
    size_t checked = 0;
    json_array_foreach(cases, i, c) {
        const char *name = str(c, "name"), *href = str(c, "href"), *pw = str(c, "password");
        json_t *parsed = json_object_get(c, "parsed"), *secret = json_object_get(c, "secret");
        json_t *hashes = json_object_get(c, "hashes");
        print_message("hash.json: %s\n", name);
        struct bp_link *l = NULL;
        const char *why = NULL;
        int rc = bp_link_parse(href, pw, &l, &why);
        if (rc)
            print_message("  parse failed: %d %s\n", rc, why ? why : "");
        assert_int_equal(rc, 0);

        /* parsed fields */
        assert_string_equal(l->type, str(parsed, "url_type"));
        assert_int_equal(l->version, json_integer_value(json_object_get(parsed, "version")));
        assert_int_equal(l->kind, !strcmp(str(parsed, "kind"), "file") ? BP_LINK_FILE : BP_LINK_DOC);
        if (str(parsed, "app"))
            assert_string_equal(l->app, str(parsed, "app"));
        if (str(parsed, "mode"))
            assert_int_equal(l->mode, !strcmp(str(parsed, "mode"), "edit") ? BP_LINK_EDIT : BP_LINK_VIEW);
        else
            assert_int_equal(l->mode, BP_LINK_NONE);
        if (json_object_get(parsed, "password_flag")) {
            assert_int_equal(l->password_flag, json_is_true(json_object_get(parsed, "password_flag")));
            assert_int_equal(l->embed, json_is_true(json_object_get(parsed, "embed")));
            assert_int_equal(l->present, json_is_true(json_object_get(parsed, "present")));
        }

        /* the same through bp_link_parse_hash with the URL type */
        struct bp_link *l2 = NULL;
        assert_int_equal(bp_link_parse_hash(str(parsed, "url_type"), str(parsed, "hash"), pw, &l2, NULL), 0);
        assert_string_equal(l2->channel, l->channel);
        assert_memory_equal(l2->crypt_key, l->crypt_key, 32);
        bp_link_free(l2);

        if (json_object_size(secret) == 0) { /* v3 safe link */
            assert_false(l->has_keys);
            assert_string_equal(l->channel, str(parsed, "channel"));
            check_hash(l, BP_LINK_EDIT, NULL);
            check_hash(l, BP_LINK_NONE, NULL);
            bp_link_free(l);
            checked++;
            continue;
        }
        assert_true(l->has_keys);
        check_keys(l, secret, name);

        /* rebuilt hashes */
        if (l->kind == BP_LINK_FILE) {
            check_hash(l, BP_LINK_NONE, str(hashes, "fileHash"));
        } else if (l->version == 0) {
            check_hash(l, BP_LINK_NONE, str(hashes, "editHash"));
            json_t *pk = json_object_get(c, "v0_parseKey");
            assert_hex(l->crypt_key, 32, str(pk, "cryptKey_hex"));
            /* lookupKey/channel of parseKey: the other half of the same SHA-512 (unused by CryptPad) */
            uint8_t seed[18], h[64];
            assert_int_equal(bp_crypto_b64_key(str(secret, "key"), seed, 18), 0);
            crypto_hash_sha512(h, seed, 18);
            assert_memory_equal(h, l->crypt_key, 32);
            assert_hex(h + 32, 32, str(pk, "lookupKey_hex"));
            char lk[64];
            bp_crypto_b64_encode(h + 32, 32, BP_B64_STD, lk, sizeof lk, NULL);
            assert_memory_equal(lk, str(pk, "channel"), 10);
        } else {
            check_hash(l, BP_LINK_EDIT, str(hashes, "editHash"));
            check_hash(l, BP_LINK_VIEW, str(hashes, "viewHash"));
            /* the view link made from this one */
            struct bp_link *v = NULL;
            assert_int_equal(bp_link_make_view(l, &v), 0);
            assert_false(v->has_sign_key);
            assert_int_equal(v->mode, BP_LINK_VIEW);
            assert_string_equal(v->channel, l->channel);
            assert_memory_equal(v->crypt_key, l->crypt_key, 32);
            check_hash(v, BP_LINK_VIEW, str(hashes, "viewHash"));
            check_hash(v, BP_LINK_EDIT, NULL);
            /* ... which parses back to the same channel and key with the password */
            char url[512];
            assert_int_equal(bp_link_url(v, "https://cryptpad.example", BP_LINK_VIEW, url, sizeof url), 0);
            struct bp_link *v2 = NULL;
            assert_int_equal(bp_link_parse(url, pw, &v2, NULL), 0);
            assert_string_equal(v2->channel, l->channel);
            assert_memory_equal(v2->crypt_key, l->crypt_key, 32);
            if (l->has_secondary_sign)
                assert_memory_equal(v2->secondary_validate_key, l->secondary_validate_key, 32);
            bp_link_free(v2);
            bp_link_free(v);
        }

        /* creation from the scripted randomness */
        json_t *cr = json_object_get(c, "creation");
        if (cr && json_object_get(cr, "rng_hex")) {
            uint8_t seed[18];
            assert_int_equal(hex_bytes(json_string_value(json_array_get(json_object_get(cr, "rng_hex"), 0)), seed,
                                       sizeof seed),
                             18);
            struct bp_link *m = NULL;
            assert_int_equal(bp_link_make_from_seed(l->type, seed, pw, &m), 0);
            check_keys(m, secret, name);
            if (m->kind == BP_LINK_FILE) {
                check_hash(m, BP_LINK_NONE, str(hashes, "fileHash"));
            } else {
                check_hash(m, BP_LINK_EDIT, str(hashes, "editHash"));
                check_hash(m, BP_LINK_VIEW, str(hashes, "viewHash"));
            }
            bp_link_free(m);
        } else if (cr && str(cr, "seed_hex")) { /* v1 document */
            uint8_t chan[16], seed[18];
            hex_bytes(str(cr, "channel_hex"), chan, sizeof chan);
            hex_bytes(str(cr, "seed_hex"), seed, sizeof seed);
            struct bp_link *m = NULL;
            assert_int_equal(bp_link_make_v1("pad", chan, seed, &m), 0);
            check_keys(m, secret, name);
            check_hash(m, BP_LINK_EDIT, str(hashes, "editHash"));
            check_hash(m, BP_LINK_VIEW, str(hashes, "viewHash"));
            bp_link_free(m);
        } else if (cr && str(cr, "key_hex")) { /* v1 file */
            assert_hex(l->crypt_key, 32, str(cr, "key_hex"));
            assert_string_equal(l->channel, str(cr, "channel_hex"));
        }

        /* forms */
        json_t *fd = json_object_get(c, "form_data");
        if (fd) {
            uint8_t priv[32], pub[32];
            assert_int_equal(bp_link_form_keys(l, priv, pub), 0);
            assert_b64(priv, 32, str(fd, "form_private"));
            assert_b64(pub, 32, str(fd, "form_public"));
            char ah[BP_LINK_HASH_MAX];
            assert_int_equal(bp_link_form_auditor_hash(l, ah, sizeof ah), 0);
            assert_string_equal(ah, str(fd, "form_auditorHash"));
        }
        if (str(c, "blob_path")) {
            char bp[128];
            assert_int_equal(bp_link_blob_path(l->channel, bp, sizeof bp), 0);
            assert_string_equal(bp, str(c, "blob_path"));
        }

        /* round trip through a full URL */
        if (l->version != 0) {
            char url[512];
            enum bp_link_mode mode = l->kind == BP_LINK_FILE ? BP_LINK_NONE : l->mode;
            assert_int_equal(bp_link_url(l, "https://other.example", mode, url, sizeof url), 0);
            struct bp_link *r = NULL;
            assert_int_equal(bp_link_parse(url, pw, &r, NULL), 0);
            check_keys(r, secret, name);
            bp_link_free(r);
        }
        bp_link_free(l);
        checked++;
    }
    assert_int_equal(checked, json_array_size(cases));
}

/* Wrong, truncated or unsupported links: BP_ELINK with a reason, never a crash. */
static void test_bad_links(void **state)
{
    static const char *bad[] = {
        "",
        "hello",
        "https://cryptpad.example/",
        "https://cryptpad.example/pad/",
        "https://cryptpad.example/pad/#",
        "https://cryptpad.example/pad/#/",
        "https://cryptpad.example#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6/",
        "https://cryptpad.example/pad/#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY/",   /* truncated */
        "https://cryptpad.example/pad/#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6x/", /* too long */
        "https://cryptpad.example/pad/#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FH!6/",  /* not base64 */
        "https://cryptpad.example/pad/#/2/pad/edit/",
        "https://cryptpad.example/pad/#/2/pad/",
        "https://cryptpad.example/pad/#/2/pad/open/5e9L8Yf4yCruyTIa0uI-FHY6/",
        "https://cryptpad.example/pad/#/2/pad/view/PA2WiJG+Sq3UwRfX-1NN4unJ-3foe7xKBbgZbxBf4D/",
        "https://cryptpad.example/pad/#/2/pad/view/PA2WiJG+Sq3UwRfX-1NN4unJ-3foe7xKBbgZbxBf4DF/", /* trailing bits */
        "https://cryptpad.example/pad/#/9/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6/",
        "https://cryptpad.example/pad/#/4/pad/newpad=abc/",
        "https://cryptpad.example/user/#/1/alice/O-nAVYA5CZrJc7oW6DKyOtOj6RuenmWDbo8iNPHlLRQ=",
        "https://cryptpad.example/file/#/2/file/zdmVlTYevLRyFHkcHSy6mBw/",
        "https://cryptpad.example/file/#/1/tSENHuMr-zsFBMlL4LgQESuGCFj6Ivvk/z7EkzzMAaWX0ZRJ/",
        "https://cryptpad.example/file/#/3/file/a46c376ffc5c808652ecdab415b2b4fe/",
        "https://cryptpad.example/pad/#/3/pad/edit/2b0c44b898e01946046c6f1a7fe22aeX/",
        "https://cryptpad.example/pad/#/1/edit/Yo3p9oN7Gy77xDVEWxHumQ/S3tUsykjow7Y+820LycDqY/",
        "https://cryptpad.example/pad/#/1/edit/Yo3p9oN7Gy77xDVEWx/S3tUsykjow7Y+820LycDqYS-/",
        "https://cryptpad.example/pad/#/1/view/Yo3p9oN7Gy77xDVEWxHumQ/3IttcAwUl6wSXa94/",
        "https://cryptpad.example/pad/#b211dbae9ec64efd99daf9232dabad72DITpXWOQ/hjwhMPIcSm7RA", /* v0 short */
        "https://cryptpad.example/pad/#B211DBAE9EC64EFD99DAF9232DABAD72DITpXWOQ/hjwhMPIcSm7RAIc",
        "https://cryptpad.example/file/#b211dbae9ec64efd99daf9232dabad72DITpXWOQ/hjwhMPIcSm7RAIc",
        "/pad/#",
        "//pad/#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6/",
        "ftp://cryptpad.example/pad/#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6/",
        "#",
        "/",
        "////",
        "/2",
        "#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6=/",
        /* found by fuzz_link: bytes >= 0x80 that libsodium's decoder takes for base64 */
        "#/2/pad/view/WQCXjDL6AOI\x8c\xbc\xcf\xcb\xcc\xb6\x88\xd3HYfYQ7K-8Pxpkrry1wfpvYwc/",
        "#/2/p#d/edit/5e9L8Yf4yCruyTIa0uI-FHY6/", /* an app name that cannot go back into a URL */
        "https://cryptpad.example/p%20d/#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct bp_link *l = (struct bp_link *)1;
        const char *why = NULL;
        int rc = bp_link_parse(bad[i], NULL, &l, &why);
        if (rc != BP_ELINK)
            print_message("accepted or wrong error (%d): %s\n", rc, bad[i]);
        assert_int_equal(rc, BP_ELINK);
        assert_null(l);
        assert_non_null(why);
        assert_true(strlen(why) > 10);
    }
    /* a very long input */
    char big[8192];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct bp_link *l = NULL;
    assert_int_equal(bp_link_parse(big, NULL, &l, NULL), BP_ELINK);
    /* arguments */
    assert_int_equal(bp_link_parse(NULL, NULL, &l, NULL), BP_EINVAL);
    assert_int_equal(bp_link_parse("/pad/#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6/", "\xff\xfe", &l, NULL), BP_EINVAL);
    assert_null(l);
}

/* Bare hashes, white space, the "/pad#" form and duplicate slashes. */
static void test_link_forms(void **state)
{
    static const char *same[] = {
        "/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6/",
        "#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6/",
        "  https://cryptpad.example/pad/#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6\n",
        "http://localhost:3000/pad#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6",
        "https://cryptpad.example/pad/#//2//pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6//",
        "/pad/#/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6/present/hash=abc/",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        struct bp_link *l = NULL;
        const char *why = NULL;
        int rc = bp_link_parse(same[i], NULL, &l, &why);
        if (rc)
            print_message("%s: %s\n", same[i], why ? why : "?");
        assert_int_equal(rc, 0);
        assert_string_equal(l->channel, "2b0c44b898e01946046c6f1a7fe22aec");
        assert_true(l->has_sign_key);
        bp_link_free(l);
    }
    /* a bare v2 file hash is recognised as a file */
    struct bp_link *f = NULL;
    assert_int_equal(bp_link_parse("/2/file/zdmVlTYevLRyFHkcHSy6mBw3/", NULL, &f, NULL), 0);
    assert_int_equal(f->kind, BP_LINK_FILE);
    assert_string_equal(f->channel, "0357a7f97394097dc978fc5eba40efe8fdce896544a4153c");
    bp_link_free(f);
    /* media URLs are files too */
    assert_int_equal(bp_link_parse("https://x.example/media/#/2/file/zdmVlTYevLRyFHkcHSy6mBw3/", NULL, &f, NULL), 0);
    assert_int_equal(f->kind, BP_LINK_FILE);
    bp_link_free(f);
    /* small output buffers */
    assert_int_equal(bp_link_parse("/2/pad/edit/5e9L8Yf4yCruyTIa0uI-FHY6/", NULL, &f, NULL), 0);
    char small[10];
    assert_int_equal(bp_link_hash(f, BP_LINK_EDIT, small, sizeof small), BP_ETOOBIG);
    assert_int_equal(bp_link_url(f, "https://x", BP_LINK_EDIT, small, sizeof small), BP_ETOOBIG);
    bp_link_free(f);
}

/* New random links: parse back to the same keys; a password changes everything. */
static void test_make_random(void **state)
{
    const char *apps[] = {"pad", "code", "sheet", "drive", "file"};
    for (size_t i = 0; i < 5; i++) {
        for (int p = 0; p < 2; p++) {
            const char *pw = p ? "s3cret pässword" : NULL;
            struct bp_link *l = NULL, *r = NULL, *nopw = NULL;
            assert_int_equal(bp_link_make(apps[i], pw, &l), 0);
            assert_int_equal(l->password_flag, p);
            char url[512];
            enum bp_link_mode mode = l->kind == BP_LINK_FILE ? BP_LINK_NONE : BP_LINK_EDIT;
            assert_int_equal(bp_link_url(l, "https://c.example", mode, url, sizeof url), 0);
            assert_int_equal(p, strstr(url, "/p/") != NULL);
            assert_int_equal(bp_link_parse(url, pw, &r, NULL), 0);
            assert_string_equal(r->channel, l->channel);
            assert_memory_equal(r->crypt_key, l->crypt_key, 32);
            assert_int_equal(r->password_flag, p);
            if (l->kind == BP_LINK_DOC)
                assert_memory_equal(r->sign_key, l->sign_key, 64);
            assert_int_equal(strlen(l->channel), l->kind == BP_LINK_FILE ? 48 : 32);
            /* opening without the password gives another channel (no error) */
            assert_int_equal(bp_link_parse(url, NULL, &nopw, NULL), 0);
            assert_int_equal(strcmp(nopw->channel, l->channel) != 0, p);
            bp_link_free(nopw);
            bp_link_free(r);
            bp_link_free(l);
        }
    }
    struct bp_link *a = NULL, *b = NULL;
    assert_int_equal(bp_link_make("pad", NULL, &a), 0);
    assert_int_equal(bp_link_make("pad", NULL, &b), 0);
    assert_string_not_equal(a->channel, b->channel);
    bp_link_free(b);
    assert_int_equal(bp_link_make_view(a, &b), 0);
    struct bp_link *c = NULL;
    assert_int_equal(bp_link_make_view(b, &c), 0); /* view of a view: still the same */
    assert_memory_equal(c->crypt_key, a->crypt_key, 32);
    bp_link_free(c);
    bp_link_free(a);
    bp_link_free(b);
    assert_int_equal(bp_link_make("", NULL, &a), BP_EINVAL);
    assert_int_equal(bp_link_make("a/b", NULL, &a), BP_EINVAL);
}

static int setup(void **state)
{
    hash_vectors = load_vectors("hash.json");
    return hash_vectors ? 0 : -1;
}

static int teardown(void **state)
{
    json_decref(hash_vectors);
    return 0;
}

/* Burn after reading: bp_link_burn_url puts the owner key where
 * Hash.getHash does (after the key, before "p/"), the parser takes it back
 * (any 86-char element), and rebuilt links do not carry it. */
static void test_burn_links(void **state)
{
    for (int with_pw = 0; with_pw < 2; with_pw++) {
        const char *pw = with_pw ? "s3cret" : NULL;
        struct bp_link *l = NULL, *b = NULL;
        assert_int_equal(bp_link_make("code", pw, &l), 0);
        uint8_t pk[32], sk[64];
        crypto_sign_keypair(pk, sk);
        char url[600], view[600];
        assert_int_equal(bp_link_burn_url(l, "https://x.example", sk, url, sizeof url), 0);
        assert_int_equal(bp_link_url(l, "https://x.example", BP_LINK_VIEW, view, sizeof view), 0);
        size_t vl = strlen(view) - (with_pw ? 2 : 0); /* the view link without "p/" */
        assert_memory_equal(url, view, vl);
        char sk64[90];
        bp_crypto_b64_encode(sk, 64, BP_B64_URL, sk64, sizeof sk64, NULL);
        assert_int_equal(strlen(sk64), 86);
        assert_memory_equal(url + vl, sk64, 86);
        assert_string_equal(url + vl + 86, with_pw ? "/p/" : "/");
        const char *why = NULL;
        assert_int_equal(bp_link_parse(url, pw, &b, &why), 0);
        assert_true(b->has_owner_key);
        assert_memory_equal(b->owner_key, sk, 64);
        assert_int_equal(b->mode, BP_LINK_VIEW);
        assert_string_equal(b->channel, l->channel);
        assert_memory_equal(b->crypt_key, l->crypt_key, 32);
        assert_false(b->has_sign_key);
        /* a rebuilt link is the plain view link */
        char again[600];
        assert_int_equal(bp_link_url(b, "https://x.example", BP_LINK_VIEW, again, sizeof again), 0);
        assert_string_equal(again, view);
        bp_link_free(b);
        /* files have no burn links; an 86-char element that is not base64 is ignored */
        bp_link_free(l);
    }
    struct bp_link *f = NULL;
    assert_int_equal(bp_link_make("file", NULL, &f), 0);
    uint8_t sk[64] = {0};
    char out[600];
    assert_int_equal(bp_link_burn_url(f, "https://x.example", sk, out, sizeof out), BP_EINVAL);
    bp_link_free(f);
    char bad[800];
    struct bp_link *l = NULL;
    const char *why = NULL;
    assert_int_equal(bp_link_make("code", NULL, &l), 0);
    assert_int_equal(bp_link_url(l, "https://x.example", BP_LINK_VIEW, out, sizeof out), 0);
    snprintf(bad, sizeof bad, "%s%s/", out, "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    struct bp_link *b = NULL;
    assert_int_equal(bp_link_parse(bad, NULL, &b, &why), 0);
    assert_false(b->has_owner_key);
    bp_link_free(b);
    bp_link_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_bad_links),
        cmocka_unit_test(test_link_forms),
        cmocka_unit_test(test_make_random),
        cmocka_unit_test(test_burn_links),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
