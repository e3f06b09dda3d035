/* health.c: plain HTTP on the WebSocket port: GET /health, a JSON report
 * for monitoring. Status 200 while the store is writable, 503 otherwise, so
 * that a probe that only looks at the status sees a full or read-only disk
 * (what took CryptPad's flagship instance down, seeds/002). */
#include <string.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "server/server.h"

void health_on_http(void *ud, const struct http_req *req, struct http_resp *resp)
{
    struct server *srv = ud;
    if (strcmp(req->path, "/health") != 0 || (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)) {
        resp->status = 404;
        resp->content_type = "text/plain";
        buf_appends(&resp->body, "Not Found\n");
        return;
    }
    struct store_health h;
    store_health(srv->store, &h);
    resp->status = h.writable ? 200 : 503;
    resp->content_type = "application/json";
    buf_appends(&resp->headers, "Cache-Control: no-store\r\n");
    struct buf *b = &resp->body;
    buf_appendf(b, "{\"status\":\"%s\",\"store\":{\"writable\":%s,\"error\":", h.writable ? "ok" : "degraded",
                h.writable ? "true" : "false");
    if (h.last_error)
        jsonw_cstr(b, bp_strerror(h.last_error));
    else
        buf_appends(b, "null");
    buf_appendf(b, ",\"since\":%lld,\"writeErrors\":%llu,\"fsyncErrors\":%llu,\"openFiles\":%u,\"cachedChannels\":%u}",
                h.since_ms, (unsigned long long)h.write_errors, (unsigned long long)h.fsync_errors, h.open_files,
                h.cached);
    buf_appendf(b, ",\"connections\":%zu,\"channels\":%u,\"messagesStored\":%llu,\"messagesRelayed\":%llu}\n",
                net_conn_count(srv->net), HASH_COUNT(srv->channels), (unsigned long long)srv->msgs_stored,
                (unsigned long long)srv->msgs_relayed);
}
