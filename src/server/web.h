/* web.h: the HTTP router (SERVER-API.md §3.2): security headers (§3.10), the
 * JavaScript config endpoints (§3.3), the static client tree (§3.9), and
 * dispatch to files_http() (/blob, /upload-blob) and auth_http() (/block,
 * /api/auth). Both listeners (main and sandbox origin) use it. */
#ifndef BP_WEB_H
#define BP_WEB_H

#include "server/net.h"

struct server;

int web_init(struct server *srv);
void web_free(struct server *srv);
/* net_callbacks.on_http for both listeners; ud is the struct server. */
void web_on_http(void *ud, const struct http_req *req, struct http_resp *resp);

#endif
