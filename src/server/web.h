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
/* net's body_limit hook (net.h): routes that take larger bodies. */
size_t web_body_limit(void *ud, const struct http_req *req);

/* The origins of §3.1, from the configuration (the strings live as long as
 * srv; they may be called before web_init()):
 *   httpUnsafeOrigin: --origin, or http://localhost:<port>;
 *   httpSafeOrigin:   --sandbox-origin, or the unsafe origin with the
 *                     sandbox port (--sandbox-port, else port + 1), as the
 *                     reference derives it (url.port = httpPort + 1);
 *   web_acao():       Access-Control-Allow-Origin = permittedEmbedders: the
 *                     safe origin, or "*" while enableEmbedding is on. */
const char *web_unsafe_origin(struct server *srv);
const char *web_safe_origin(struct server *srv);
const char *web_acao(struct server *srv);

#endif
