/* nf.c: Netflux routing (NETFLUX.md §1-2): users, channels, JOIN, LEAVE,
 * MSG to channels and users, PING, and the keepalive.
 *
 * Frame dispatch: every text or binary message is one JSON array
 * [seq, COMMAND, ...]. A frame that is not JSON or not an array drops the
 * connection (BAD_MESSAGE); an unknown command is ignored; every data frame
 * counts as activity for the keepalive.
 *
 * Channel kinds by name length (§6.2): 32 = stored, metadata-checked;
 * 33 = admin broadcast (no member list, writes refused); 34 = ephemeral
 * (never stored); 32-49 of [A-Za-z0-9+=-] = stored; others relay only.
 */
#include <sodium.h>
#include <string.h>
#include <utlist.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "protocol/meta.h"
#include "protocol/rawjson.h"
#include "server/server.h"
#include "storage/tasks.h"

/* ---- sending ---------------------------------------------------------- */

void nf_send(struct user *u, struct buf *frame)
{
    if (u->conn)
        conn_send(u->conn, frame->data, frame->len);
    buf_reset(frame);
}

void nf_send_sbuf(struct user *u, struct sbuf *s)
{
    if (u->conn)
        conn_send_sbuf(u->conn, s);
}

void nf_send_ack(struct user *u, const json_t *seq)
{
    struct buf b = BUF_INIT;
    buf_appendc(&b, '[');
    jsonw_value(&b, seq);
    buf_appends(&b, ",\"ACK\"]");
    nf_send(u, &b);
    buf_free(&b);
}

/* [seq,"ERROR",code,detail] or [seq,"ERROR"] when code is NULL. detail_json
 * is raw JSON text (NULL for "null"). */
void nf_send_error(struct user *u, const json_t *seq, const char *code, const char *detail_json)
{
    struct buf b = BUF_INIT;
    buf_appendc(&b, '[');
    jsonw_value(&b, seq);
    buf_appends(&b, ",\"ERROR\"");
    if (code) {
        buf_appendc(&b, ',');
        jsonw_cstr(&b, code);
        buf_appendc(&b, ',');
        buf_appends(&b, detail_json ? detail_json : "null");
    }
    buf_appendc(&b, ']');
    nf_send(u, &b);
    buf_free(&b);
}

/* [0,from,"JOIN"|"LEAVE",chan] */
static void event_frame(struct buf *b, const char *from, const char *type, const struct channel *ch)
{
    buf_appends(b, "[0,");
    jsonw_cstr(b, from);
    buf_appendf(b, ",\"%s\",", type);
    jsonw_str(b, ch->name, ch->name_len);
    buf_appendc(b, ']');
}

/* ---- users and channels ---------------------------------------------- */

void user_unref(struct user *u)
{
    if (--u->refs)
        return;
    struct authkey *k, *tmp;
    HASH_ITER(hh, u->keys, k, tmp) {
        HASH_DEL(u->keys, k);
        free(k);
    }
    free(u);
}

void channel_unref(struct channel *ch)
{
    if (--ch->refs)
        return;
    json_decref(ch->meta);
    free(ch->name);
    free(ch);
}

struct channel *nf_channel_find(struct server *srv, const char *name)
{
    struct channel *ch;
    HASH_FIND_STR(srv->channels, name, ch);
    return ch;
}

static struct channel *channel_new(struct server *srv, const char *name, size_t len)
{
    struct channel *ch = xcalloc(1, sizeof *ch);
    ch->name = xstrndup(name, len);
    ch->name_len = len;
    ch->srv = srv;
    ch->refs = 1;
    ch->live = true;
    HASH_ADD_KEYPTR(hh, srv->channels, ch->name, len, ch);
    return ch;
}

struct channel *nf_channel_get(struct server *srv, const char *name, size_t len)
{
    struct channel *ch = nf_channel_find(srv, name);
    return ch ? ch : channel_new(srv, name, len);
}

/* Takes the channel out of the table; it is freed when its queue drains. */
void nf_channel_drop(struct channel *ch)
{
    if (!ch->live)
        return;
    struct membership *m, *tmp;
    DL_FOREACH_SAFE2(ch->members, m, tmp, cnext) {
        DL_DELETE2(ch->members, m, cprev, cnext);
        DL_DELETE2(m->u->chans, m, uprev, unext);
        free(m);
    }
    ch->nmembers = 0;
    HASH_DEL(ch->srv->channels, ch);
    ch->live = false;
    /* A self-destructing channel of this server process goes to the archive
     * 30 s after its last member left, unless someone joins again. */
    const json_t *sd = ch->meta ? json_object_get(ch->meta, "selfdestruct") : NULL;
    if (json_is_string(sd) && strcmp(json_string_value(sd), ch->srv->hk_id) == 0 && ch->name_len == 32) {
        struct doomed *d = xcalloc(1, sizeof *d);
        memcpy(d->id, ch->name, 33);
        d->deadline = uv_now(ch->srv->loop) + SELFDESTRUCT_MS;
        LL_PREPEND(ch->srv->doomed, d);
    }
    channel_unref(ch);
}

/* Archives the self-destructing channels whose time has come. At shutdown
 * (all) the list is only freed: after a restart a JOIN of such a channel gets
 * ESELFDESTRUCT and archives it, as with the reference. */
void nf_selfdestruct_sweep(struct server *srv, bool all)
{
    uint64_t now = uv_now(srv->loop);
    struct doomed *d, *tmp;
    LL_FOREACH_SAFE(srv->doomed, d, tmp) {
        if (!all && d->deadline > now)
            continue;
        LL_DELETE(srv->doomed, d);
        if (!all && !nf_channel_find(srv, d->id)) {
            int rc = hk_archive_channel(srv, d->id, NULL);
            LOG_INFO("nf: self-destructed channel %s archived%s%s", d->id, rc ? ": " : "",
                     rc ? bp_strerror(rc) : "");
        }
        free(d);
    }
}

static void selfdestruct_cancel(struct server *srv, const char *name)
{
    struct doomed *d, *tmp;
    LL_FOREACH_SAFE(srv->doomed, d, tmp) if (strcmp(d->id, name) == 0) {
        LL_DELETE(srv->doomed, d);
        free(d);
    }
}

static struct membership *find_membership(const struct channel *ch, const struct user *u)
{
    struct membership *m;
    /* Scan the shorter list. */
    if (ch->nmembers < 8) {
        DL_FOREACH2(ch->members, m, cnext) if (m->u == u) return m;
        return NULL;
    }
    DL_FOREACH2(u->chans, m, unext) if (m->ch == ch) return m;
    return NULL;
}

bool nf_is_member(const struct channel *ch, const struct user *u)
{
    return find_membership(ch, u) != NULL;
}

static void remove_member(struct channel *ch, struct membership *m)
{
    DL_DELETE2(ch->members, m, cprev, cnext);
    DL_DELETE2(m->u->chans, m, uprev, unext);
    ch->nmembers--;
    free(m);
}

void nf_kick(struct channel *ch, struct user *u)
{
    struct membership *m = find_membership(ch, u);
    if (!m)
        return;
    remove_member(ch, m);
    struct buf b = BUF_INIT;
    event_frame(&b, u->id, "LEAVE", ch);
    struct sbuf *s = sbuf_from_buf(&b);
    DL_FOREACH2(ch->members, m, cnext) nf_send_sbuf(m->u, s);
    sbuf_unref(s);
    buf_free(&b);
    if (!ch->nmembers)
        nf_channel_drop(ch);
}

json_t *nf_meta_read(struct server *srv, const char *id)
{
    if (!store_id_valid(id, strlen(id)))
        return NULL;
    struct buf b = BUF_INIT;
    int rc = store_meta_read(srv->store, id, &b);
    struct store_chan *sc = NULL;
    store_chan_open(srv->store, id, &sc);
    json_t *meta = meta_reduce(rc == 0 ? b.data : NULL, rc == 0 ? b.len : 0,
                               sc ? store_chan_legacy_meta(sc) : NULL);
    store_chan_release(srv->store, sc);
    buf_free(&b);
    if (meta && !meta_valid(meta)) {
        json_decref(meta);
        meta = NULL;
    }
    return meta;
}

const json_t *nf_channel_meta(struct channel *ch)
{
    if (!ch->meta_loaded)
        nf_channel_set_meta(ch, ch->name_len == 32 ? nf_meta_read(ch->srv, ch->name) : NULL);
    return ch->meta;
}

/* Installs meta (takes the reference) and derives the validate key. */
void nf_channel_set_meta(struct channel *ch, json_t *meta)
{
    if (ch->meta != meta)
        json_decref(ch->meta);
    ch->meta = meta;
    ch->meta_loaded = true;
    const char *vk = meta ? meta_validate_key(meta) : NULL;
    ch->has_vkey = vk && msg_key32(vk, strlen(vk), ch->vkey) == 0;
}

bool nf_user_has_allowed_key(const struct user *u, const json_t *meta)
{
    struct authkey *k, *tmp;
    HASH_ITER(hh, u->keys, k, tmp) if (meta_allows(meta, k->key)) return true;
    return false;
}

/* ---- connection events ----------------------------------------------- */

void nf_on_open(void *ud, struct conn *c)
{
    struct server *srv = ud;
    struct user *u = xcalloc(1, sizeof *u);
    u->srv = srv;
    u->conn = c;
    u->refs = 1;
    u->last_seen = uv_now(srv->loop);
    struct user *dup;
    do {
        uint8_t raw[NF_ID_LEN / 2];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(u->id, sizeof u->id, raw, sizeof raw);
        HASH_FIND_STR(srv->users, u->id, dup);
    } while (dup);
    HASH_ADD_STR(srv->users, id, u);
    conn_set_data(c, u);
    struct buf b = BUF_INIT;
    buf_appendf(&b, "[0,\"\",\"IDENT\",\"%s\"]", u->id);
    nf_send(u, &b);
    buf_free(&b);
}

void nf_on_close(void *ud, struct conn *c, const char *reason)
{
    struct server *srv = ud;
    struct user *u = conn_data(c);
    if (!u)
        return;
    LOG_DEBUG("nf: %s left (%s)", u->id, reason);
    conn_set_data(c, NULL);
    u->conn = NULL;
    HASH_DEL(srv->users, u);
    hk_stream_free_all(u);
    struct membership *m, *tmp;
    DL_FOREACH_SAFE2(u->chans, m, tmp, unext) nf_kick(m->ch, u);
    user_unref(u);
}

void nf_on_drain(void *ud, struct conn *c)
{
    struct user *u = conn_data(c);
    if (u)
        hk_pump_streams(u);
}

/* ---- commands ---------------------------------------------------------- */

static void random_channel(char out[NF_ID_LEN + 1])
{
    uint8_t raw[NF_ID_LEN / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, NF_ID_LEN + 1, raw, sizeof raw);
}

/* The member list a joiner gets: HK, the other members oldest first, itself. */
static void send_member_list(struct server *srv, struct user *u, struct channel *ch, bool with_self)
{
    struct buf b = BUF_INIT;
    event_frame(&b, srv->hk_id, "JOIN", ch);
    nf_send(u, &b);
    struct membership *m;
    DL_FOREACH2(ch->members, m, cnext) {
        if (m->u == u)
            continue;
        event_frame(&b, m->u->id, "JOIN", ch);
        nf_send(u, &b);
    }
    if (with_self) {
        event_frame(&b, u->id, "JOIN", ch);
        nf_send(u, &b);
    }
    buf_free(&b);
}

/* ERESTRICTED detail: [HK, ...owners, ...allowed] */
static void restricted_detail(struct server *srv, const json_t *meta, struct buf *b)
{
    buf_appendc(b, '[');
    jsonw_cstr(b, srv->hk_id);
    const char *fields[] = {"owners", "allowed"};
    for (int f = 0; f < 2; f++) {
        const json_t *arr = json_object_get(meta, fields[f]);
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) {
            buf_appendc(b, ',');
            jsonw_value(b, v);
        }
    }
    buf_appendc(b, ']');
}

static void cmd_join(struct server *srv, struct user *u, const json_t *seq, const json_t *target)
{
    char rnd[NF_ID_LEN + 1];
    const char *name;
    size_t len;
    if (!target || json_is_null(target) || (json_is_string(target) && json_string_length(target) == 0)) {
        random_channel(rnd);
        name = rnd;
        len = NF_ID_LEN;
    } else if (json_is_string(target)) {
        name = json_string_value(target);
        len = json_string_length(target);
        if (len > NF_CHAN_MAX || memchr(name, '\0', len)) {
            nf_send_error(u, seq, "EINVAL", "\"channel name too long\"");
            return;
        }
    } else {
        nf_send_error(u, seq, "EINVAL", "\"channel must be a string\"");
        return;
    }
    struct channel *ch = nf_channel_find(srv, name);
    if (len == 33) {
        /* Admin broadcast channel: no member list (NETFLUX.md §2.2). */
        struct buf b = BUF_INIT;
        buf_appendc(&b, '[');
        jsonw_value(&b, seq);
        buf_appends(&b, ",\"JACK\",");
        jsonw_str(&b, name, len);
        buf_appendc(&b, ']');
        nf_send(u, &b);
        struct channel tmp = {.name = (char *)name, .name_len = len};
        event_frame(&b, srv->hk_id, "JOIN", &tmp);
        nf_send(u, &b);
        event_frame(&b, u->id, "JOIN", &tmp);
        nf_send(u, &b);
        buf_free(&b);
        return;
    }
    bool fresh = !ch;
    if (fresh) {
        if (srv->doomed)
            selfdestruct_cancel(srv, name);
        ch = channel_new(srv, name, len);
    }
    if (nf_is_member(ch, u)) {
        struct buf b = BUF_INIT;
        jsonw_str(&b, ch->name, ch->name_len);
        nf_send_error(u, seq, "EJOINED", b.data);
        buf_free(&b);
        send_member_list(srv, u, ch, true);
        return;
    }
    if (len == 32) {
        const json_t *meta = nf_channel_meta(ch);
        const json_t *sd = json_object_get(meta, "selfdestruct");
        if (meta && json_is_string(sd) && strcmp(json_string_value(sd), srv->hk_id) != 0) {
            nf_send_error(u, seq, "ESELFDESTRUCT", NULL);
            if (!ch->nmembers && !ch->q_head) {
                char id[33];
                memcpy(id, ch->name, 33);
                nf_channel_drop(ch);
                store_archive(srv->store, id, NULL);
            }
            return;
        }
        if (meta && meta_restricted(meta) && !nf_user_has_allowed_key(u, meta)) {
            struct buf b = BUF_INIT;
            restricted_detail(srv, meta, &b);
            nf_send_error(u, seq, "ERESTRICTED", b.data);
            buf_free(&b);
            if (fresh)
                nf_channel_drop(ch);
            return;
        }
    }
    struct buf b = BUF_INIT;
    buf_appendc(&b, '[');
    jsonw_value(&b, seq);
    buf_appends(&b, ",\"JACK\",");
    jsonw_str(&b, ch->name, ch->name_len);
    buf_appendc(&b, ']');
    nf_send(u, &b);
    send_member_list(srv, u, ch, false);
    struct membership *m = xcalloc(1, sizeof *m);
    m->u = u;
    m->ch = ch;
    DL_APPEND2(ch->members, m, cprev, cnext);
    DL_APPEND2(u->chans, m, uprev, unext);
    ch->nmembers++;
    event_frame(&b, u->id, "JOIN", ch);
    struct sbuf *s = sbuf_from_buf(&b);
    DL_FOREACH2(ch->members, m, cnext) nf_send_sbuf(m->u, s);
    sbuf_unref(s);
    buf_free(&b);
}

static void cmd_leave(struct server *srv, struct user *u, const json_t *seq, const json_t *target)
{
    if (!json_is_string(target) || json_string_length(target) == 0) {
        nf_send_error(u, seq, "EINVAL", "\"undefined\"");
        return;
    }
    if (memchr(json_string_value(target), '\0', json_string_length(target))) {
        nf_send_error(u, seq, "EINVAL", "\"channel must not contain NUL\"");
        return;
    }
    struct buf b = BUF_INIT;
    jsonw_value(&b, target);
    struct channel *ch = json_string_length(target) <= NF_CHAN_MAX
                             ? nf_channel_find(srv, json_string_value(target))
                             : NULL;
    struct membership *m = ch ? find_membership(ch, u) : NULL;
    if (!ch)
        nf_send_error(u, seq, "ENOENT", b.data);
    else if (!m)
        nf_send_error(u, seq, "NOT_IN_CHAN", b.data);
    buf_free(&b);
    if (!m)
        return;
    nf_send_ack(u, seq);
    /* The leaver gets its own LEAVE too (observed). */
    event_frame(&b, u->id, "LEAVE", ch);
    struct sbuf *s = sbuf_from_buf(&b);
    struct membership *it;
    DL_FOREACH2(ch->members, it, cnext) nf_send_sbuf(it->u, s);
    sbuf_unref(s);
    buf_free(&b);
    remove_member(ch, m);
    if (!ch->nmembers)
        nf_channel_drop(ch);
}

/* [0,sender,"MSG",target,...rest of the request from element 3] */
static void relay_frame(struct buf *b, const char *sender, const json_t *frame)
{
    buf_appends(b, "[0,");
    jsonw_cstr(b, sender);
    for (size_t i = 1; i < json_array_size(frame); i++) {
        buf_appendc(b, ',');
        jsonw_value(b, json_array_get(frame, i));
    }
    buf_appendc(b, ']');
}

static void cmd_msg(struct server *srv, struct user *u, const json_t *seq, json_t *frame)
{
    const json_t *target = json_array_get(frame, 2);
    if (!target || json_is_null(target) || (json_is_string(target) && !json_string_length(target))) {
        nf_send_ack(u, seq); /* reference quirk: no target, ACK, nothing delivered */
        return;
    }
    if (!json_is_string(target)) {
        nf_send_error(u, seq, "EINVAL", "\"target must be a string\"");
        return;
    }
    const char *name = json_string_value(target);
    size_t len = json_string_length(target);
    if (memchr(name, '\0', len)) {
        nf_send_error(u, seq, "EINVAL", "\"target must not contain NUL\"");
        return;
    }
    if (len == HK_ID_LEN && strcmp(name, srv->hk_id) == 0) {
        const json_t *payload = json_array_get(frame, 3);
        if (json_is_string(payload))
            hk_on_direct(srv, u, seq, json_string_value(payload), json_string_length(payload));
        return; /* a non-string payload gets nothing at all (observed) */
    }
    if (len == 33) {
        /* Admin broadcast channel: only the admin RPC writes it (NETFLUX.md
         * §4.6); refused whether or not the channel is in memory. */
        nf_send_error(u, seq, NULL, NULL);
        return;
    }
    struct user *to = NULL;
    if (len == NF_ID_LEN)
        HASH_FIND_STR(srv->users, name, to);
    if (to) {
        nf_send_ack(u, seq);
        struct buf b = BUF_INIT;
        relay_frame(&b, u->id, frame);
        nf_send(to, &b);
        buf_free(&b);
        return;
    }
    struct channel *ch = len <= NF_CHAN_MAX ? nf_channel_find(srv, name) : NULL;
    if (!ch) {
        struct buf b = BUF_INIT;
        jsonw_value(&b, target);
        nf_send_error(u, seq, "enoent", b.data);
        buf_free(&b);
        return;
    }
    const json_t *content = json_array_get(frame, 3);
    bool member = nf_is_member(ch, u);
    if (json_is_string(content) && len != 34) {
        hk_channel_write(srv, u, ch, seq, frame);
        return;
    }
    /* Ephemeral channels and non-string content: relayed, never stored. */
    if (len == 32 && !member) {
        const json_t *meta = nf_channel_meta(ch);
        if (meta && meta_restricted(meta)) {
            nf_send_error(u, seq, NULL, NULL);
            return;
        }
    }
    struct buf b = BUF_INIT;
    relay_frame(&b, u->id, frame);
    struct sbuf *s = sbuf_from_buf(&b);
    struct membership *m;
    DL_FOREACH2(ch->members, m, cnext) if (m->u != u) nf_send_sbuf(m->u, s);
    sbuf_unref(s);
    buf_free(&b);
    srv->msgs_relayed++;
    nf_send_ack(u, seq);
}

void nf_on_message(void *ud, struct conn *c, const char *data, size_t len, int binary)
{
    struct server *srv = ud;
    struct user *u = conn_data(c);
    if (!u)
        return;
    u->last_seen = uv_now(srv->loop);
    u->ping_out = false;
    json_t *frame = rawjson_load_frame(data, len);
    if (!frame || !json_is_array(frame)) {
        LOG_DEBUG("nf: %s sent a %s; dropping it (BAD_MESSAGE)", u->id, frame ? "non-array" : "non-JSON frame");
        json_decref(frame);
        conn_close(c, 1003, "BAD_MESSAGE");
        return;
    }
    const json_t *seq = json_array_get(frame, 0);
    const json_t *cmd = json_array_get(frame, 1);
    const char *name = json_is_string(cmd) ? json_string_value(cmd) : "";
    if (!seq)
        seq = json_null();
    if (strcmp(name, "PING") == 0)
        nf_send_ack(u, seq);
    else if (strcmp(name, "JOIN") == 0)
        cmd_join(srv, u, seq, json_array_get(frame, 2));
    else if (strcmp(name, "LEAVE") == 0)
        cmd_leave(srv, u, seq, json_array_get(frame, 2));
    else if (strcmp(name, "MSG") == 0)
        cmd_msg(srv, u, seq, frame);
    /* Anything else (PONG included) is ignored: it only counted as activity. */
    json_decref(frame);
}

void nf_keepalive_tick(uv_timer_t *t)
{
    struct server *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    long long wall = server_now_ms();
    struct user *u, *tmp;
    HASH_ITER(hh, srv->users, u, tmp) {
        uint64_t idle = now - u->last_seen;
        if (idle > srv->cfg.idle_timeout) {
            LOG_DEBUG("nf: dropping %s (INACTIVITY)", u->id);
            conn_close(u->conn, 1000, "INACTIVITY");
        } else if (idle > srv->cfg.ping_interval && !u->ping_out) {
            struct buf b = BUF_INIT;
            buf_appendf(&b, "[0,\"\",\"PING\",%lld]", wall);
            nf_send(u, &b);
            buf_free(&b);
            u->ping_out = true;
        }
    }
}
