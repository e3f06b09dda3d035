/* web.c: the HTTP router (see web.h).
 * STUB: /health, then files and auth; the web work replaces this. */
#include "server/web.h"

#include "server/auth.h"
#include "server/files.h"
#include "server/server.h"

int web_init(struct server *srv) { return 0; }
void web_free(struct server *srv) {}

void web_on_http(void *ud, const struct http_req *req, struct http_resp *resp)
{
    struct server *srv = ud;
    if (files_http(srv, req, resp) || auth_http(srv, req, resp))
        return;
    health_on_http(ud, req, resp);
}
