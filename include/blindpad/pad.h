/* blindpad/pad.h: reading and writing CryptPad documents ("pads") over a
 * connection: chainpad-netflux's role in C (CHAINPAD.md §6-§7).
 *
 * A bp_pad joins the document's channel, loads its history (each message:
 * server hash remembered as lastKnownHash, "cp|id|" prefix removed, the
 * signature checked with the channel's validateKey, the secretbox opened,
 * a legacy "^\d+:" prefix stripped, the plaintext fed to the ChainPad engine
 * of blindpad/chainpad.h), then follows live messages. Writes go through the
 * engine (patch on the head, or the checkpoint that is due), are encrypted
 * and signed with the link's keys (checkpoints get the "cp|id|" prefix),
 * sent, and applied after the server's ACK; when a concurrent message wins
 * the remaining work is rebased and sent again, until the document holds
 * what was asked for.
 *
 * Content. Every CryptPad app stores JSON (CHAINPAD §6.1). A "text pad" is a
 * JSON object with a string member "content": code and markdown (the /code/
 * app; markdown is highlightMode "gfm") and slide. For those bp_pad_text()
 * gives that text and bp_pad_write() replaces it, keeping every other member
 * (metadata, highlightMode, authormarks) as it is; the document is
 * re-serialised with json.sortify. bp_pad_json() gives the whole document of
 * any app (rich text, kanban, ...), bp_pad_write_json() replaces it.
 *
 * Connections. A pad works on a blocking client (blindpad/client.h). The
 * client's live messages must reach the pad: either let the pad own its
 * client (bp_pad_open_url, bp_pad_create_url: nothing else to do), or, to
 * share one client between several pads, pass a client whose
 * bp_client_opts.on_message calls bp_pad_on_message() for each pad (a pad
 * ignores messages for other channels). Without that a pad still loads and
 * writes, but does not see other writers between its writes.
 *
 * Ownership: a bp_pad is freed with bp_pad_free() (which leaves the channel
 * and, for bp_pad_*_url pads, closes the client). The pad keeps its own copy
 * of the link in sodium_malloc'd memory (wiped on free); the caller's link
 * may be freed right after bp_pad_open. Text outputs (char **out) are
 * malloc'd, NUL-terminated, freed by the caller with free(). Not
 * thread-safe; no global state.
 *
 * Errors (blindpad/err.h): BP_EINVAL (not a document link, a v3 link with no
 * keys, text not UTF-8), BP_ENOENT (must_exist and the pad has no messages:
 * never created, or wrong password), BP_EDELETED / BP_EEXPIRED (the server
 * says so, at load or later), BP_EFORBIDDEN (a view link cannot write; a
 * restricted channel), BP_EPROTO (the document is not a text pad, or not
 * JSON), BP_ENET / BP_ETIMEOUT / BP_ESERVER (from the connection; the
 * server's text via bp_pad_error()), BP_ENOMEM. */
#ifndef BLINDPAD_PAD_H
#define BLINDPAD_PAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <blindpad/client.h>
#include <blindpad/err.h>
#include <blindpad/link.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bp_pad;

struct bp_pad_open_opts {
    /* Ask the server first (IS_NEW_CHANNEL) and fail with BP_ENOENT (or
     * BP_EDELETED) instead of creating an empty channel. For readers. */
    bool must_exist;
    /* Engine flags (BP_CHAINPAD_JSON is always set; add BP_CHAINPAD_LISTMAP
     * to write drive/team/shared-folder documents like chainpad-listmap). */
    unsigned engine_flags;
    unsigned timeout_ms; /* for bp_pad_*_url: per request; 0 = default */
    /* If not NULL: authenticate the connection with this key first (a signed
     * COOKIE, SERVER-API §1.7) so that a restricted document whose owners or
     * access list hold the key can be opened (blindpad/meta.h). Not kept. */
    const struct bp_sign_key *auth_key;
};

/* Opens a document on a connected client (see "Connections" above) and
 * loads it. opts may be NULL. On success *out is the pad. An edit link sends
 * {"validateKey": …} as the creation metadata, as chainpad-netflux does, so
 * that the channel is never created unsigned. */
int bp_pad_open(struct bp_client *cl, const struct bp_link *link, const struct bp_pad_open_opts *opts,
                struct bp_pad **out);
/* The same on a new client for url (ws://… or http://…) that the pad owns.
 * errmsg (may be NULL) receives the connection error text. */
int bp_pad_open_url(const char *url, const struct bp_link *link, const struct bp_pad_open_opts *opts,
                    struct bp_pad **out, char *errmsg, size_t errmsg_len);

struct bp_pad_create_opts {
    const char *password;        /* NULL or "": none; else the link gets "p/" */
    uint64_t expire_seconds;     /* 0: never; else metadata.expire (the server adds now) */
    const char *const *owners;   /* edPublic keys (standard base64) or NULL */
    size_t n_owners;
    const char *highlight_mode;  /* text pads: "gfm" (markdown, CryptPad's default), "javascript", …;
                                  * NULL = "gfm" */
    const char *title;           /* metadata.title and defaultTitle; NULL = "<App> - <date>" */
    const char *text;            /* initial text ("" or NULL: empty) */
    unsigned engine_flags, timeout_ms;
};

/* Creates a new pad of app ("code", "slide"; any other app gets an empty
 * document and text calls fail) with fresh keys (bp_link_make): joins the
 * channel, creates it with the metadata CryptPad sends (validateKey, owners,
 * expire), and writes the initial document
 *   {"authormarks":{},"content":text,"highlightMode":mode,
 *    "metadata":{"defaultTitle":t,"title":t,"type":app}}   (code)
 *   {"content":text,"metadata":{…}}                         (slide)
 * On success *out is the open pad; bp_pad_link() gives its link. */
int bp_pad_create(struct bp_client *cl, const char *app, const struct bp_pad_create_opts *opts,
                  struct bp_pad **out);
int bp_pad_create_url(const char *url, const char *app, const struct bp_pad_create_opts *opts,
                      struct bp_pad **out, char *errmsg, size_t errmsg_len);

/* Leaves the channel (best effort), frees the engine, wipes the keys. NULL ok. */
void bp_pad_free(struct bp_pad *pad);

/* The pad's link (owned by the pad; valid until bp_pad_free). */
const struct bp_link *bp_pad_link(const struct bp_pad *pad);
/* The client the pad uses. */
struct bp_client *bp_pad_client(struct bp_pad *pad);
/* Text of the last error (the server's error string after BP_ESERVER), "" if none. */
const char *bp_pad_error(const struct bp_pad *pad);

/* ---- reading ---- */

/* The text of a text pad (authoritative content). An empty document gives "".
 * BP_EPROTO if the document is not a JSON object with a string "content". */
int bp_pad_text(const struct bp_pad *pad, char **out, size_t *outlen);
/* The whole document (authoritative content), as stored (json.sortify text;
 * "" for an empty document). */
int bp_pad_content(const struct bp_pad *pad, char **out, size_t *outlen);
/* The document as a jansson value (new reference). BP_ENOENT if empty. */
int bp_pad_json(const struct bp_pad *pad, json_t **out);
/* The ChainPad head and content hash (64 hex + NUL), and the server hash of
 * the last message received or sent ("" if none; lastKnownHash). */
void bp_pad_head(const struct bp_pad *pad, char out[65]);
void bp_pad_content_hash(const struct bp_pad *pad, char out[65]);
const char *bp_pad_last_hash(const struct bp_pad *pad);
/* The channel's metadata object as the server sent it (JSON text, "" if none). */
const char *bp_pad_metadata(const struct bp_pad *pad);

struct bp_pad_stats {
    unsigned long messages;   /* channel messages seen (history + live) */
    unsigned long skipped;    /* could not be verified/decrypted, or not ChainPad: ignored */
    unsigned long sent;       /* messages this pad sent (ACKed) */
    unsigned long resent;     /* sends that lost a race and were rebased */
    unsigned long checkpoints;/* checkpoints this pad sent */
    unsigned long changes;    /* how many times the authoritative content changed */
};
void bp_pad_stats(const struct bp_pad *pad, struct bp_pad_stats *out);

/* ---- live updates ---- */

/* Feeds one live message from the client (call it from the client's
 * on_message for every pad on that client). Returns 1 if the pad's content
 * changed, 0 if not (or the message is for another channel), or a negative
 * bp_err (BP_EDELETED / BP_EEXPIRED when the server announces it). */
int bp_pad_on_message(struct bp_pad *pad, const struct bp_nf_msg *m);
/* Runs the client's loop for up to timeout_ms (0: just what is queued).
 * Returns 1 if the content changed meanwhile, 0 if not, or a negative bp_err
 * (BP_ENET once the connection dropped, BP_EDELETED, BP_EEXPIRED). */
int bp_pad_poll(struct bp_pad *pad, unsigned timeout_ms);

/* ---- writing ---- */

/* Replaces the text of a text pad (for an empty document of app code/slide:
 * creates it) and waits until the change is acknowledged and on the winning
 * chain (rebasing and re-sending over concurrent writers). Code pads store
 * "\r\n" as "\n", like CryptPad. BP_EFORBIDDEN for a view link. */
int bp_pad_write(struct bp_pad *pad, const char *text, size_t len);
/* Appends to the text (a write of text + suffix, computed on the latest
 * content, so concurrent appends by others are kept). */
int bp_pad_append(struct bp_pad *pad, const char *suffix, size_t len);
/* Replaces the whole document with sortify(value). */
int bp_pad_write_json(struct bp_pad *pad, const json_t *value);

#ifdef __cplusplus
}
#endif

#endif
