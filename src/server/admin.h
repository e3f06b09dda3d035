/* admin.h: ADMIN commands, decrees (decree.ndjson, §4.9), the first-admin
 * install token, and the schedule of the eviction of inactive data (§2.10,
 * §4.12; the eviction itself is evict.c, decrees decree.c).
 * RPC: admin_rpc_cmds (rpc_internal.h). */
#ifndef BP_ADMIN_H
#define BP_ADMIN_H

#include <stddef.h>

struct server;

/* Replays decree.ndjson over srv->settings; creates the install token when
 * there is no admin. Returns 0 or a bp_err. */
int admin_init(struct server *srv);
void admin_free(struct server *srv);
/* Housekeeping (every 5 s): starts the daily eviction when it is on and due. */
void admin_tick(struct server *srv);

/* The logo uploaded by an admin (UPLOAD_LOGO), served by GET /api/logo:
 * <data>/data/logo (under the data root, never the web root). Returns 0 or
 * BP_ETOOBIG. */
int admin_logo_path(const struct server *srv, char *out, size_t cap);
/* The logo MIME types accepted by UPLOAD_LOGO: the static spelling of mime
 * (an image type a browser shows in <img>), or NULL for anything else.
 * /api/logo maps the stored SET_LOGO_MIME value through it too, so a decree
 * can never put an arbitrary string into a header. */
const char *admin_logo_mime(const char *mime);

#endif
