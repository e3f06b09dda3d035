/* files.c: encrypted uploads (see files.h).
 * STUB: only files_id_size() for channels; the files work replaces this. */
#include "server/files.h"

#include <string.h>

#include "common/err.h"
#include "server/rpc_internal.h"
#include "server/server.h"

const struct rpc_cmd files_rpc_cmds[] = {{NULL, NULL, RPC_ANON}};

int files_init(struct server *srv) { return 0; }
void files_free(struct server *srv) {}

bool files_http(struct server *srv, const struct http_req *req, struct http_resp *resp) { return false; }

bool files_blob_id_valid(const char *id, size_t len)
{
    if (len != 48)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

int files_id_size(struct server *srv, const char *id, size_t len, uint64_t *size, struct buf *reason)
{
    *size = 0;
    if ((len != 32 && len != 33) || !store_id_valid(id, len))
        return BP_EBADID;
    struct store_chan *sc = NULL;
    if (store_chan_open(srv->store, id, &sc) == 0 && store_chan_exists(sc))
        *size += store_chan_size(sc);
    store_chan_release(srv->store, sc);
    struct buf b = BUF_INIT;
    if (store_meta_read(srv->store, id, &b) == 0)
        *size += b.len;
    buf_free(&b);
    return 0;
}

json_t *files_blob_meta(struct server *srv, const char *id) { return json_object(); }
int files_blob_meta_append(struct server *srv, const char *id, const char *line, size_t len) { return BP_ENOENT; }
int files_blob_archive(struct server *srv, const char *id, const char *reason) { return BP_ENOENT; }
int files_blob_restore(struct server *srv, const char *id) { return BP_ENOENT; }
int files_new_upload_cookie(struct server *srv, const char *key, char out[33]) { return BP_ENOENT; }
