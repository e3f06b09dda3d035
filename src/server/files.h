/* files.h: encrypted uploads (blobs), SERVER-API.md §2.7, §3.5, §3.6, §4.4.
 * The storage layout is blob/<id[0:2]>/<id> (+ .metadata.ndjson, .activity,
 * .placeholder) and blobstage/<safeKey[0:2]>/<safeKey> (+ .cookie), under the
 * data root, so a CryptPad data directory keeps working.
 *
 * RPC: files_rpc_cmds (rpc_internal.h). HTTP: files_http(). The other
 * modules reach blobs only through the functions below. */
#ifndef BP_FILES_H
#define BP_FILES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "server/net.h"

struct server;

int files_init(struct server *srv);
void files_free(struct server *srv);
/* From the housekeeping timer: starts a sweep of abandoned upload stages
 * (older than --upload-stage-max-age) on the thread pool when one is due:
 * every max-age, at most hourly, and never two at once. */
void files_tick(struct server *srv);

/* HTTP: /blob/... (GET, HEAD, OPTIONS) and /upload-blob... Returns true if
 * the request was one of these (resp filled), false to let the router go on.
 * The router (web.c) has added the security headers to resp->headers except
 * for HEAD and OPTIONS on /blob/, which set their own (§3.2 steps 3-4). */
bool files_http(struct server *srv, const struct http_req *req, struct http_resp *resp);
/* net's body_limit hook for /upload-blob: the binary upload's larger body
 * limit for a sender whose signed cookie checks, else 0 (max_http_body). */
size_t files_body_limit(struct server *srv, const struct http_req *req);

/* The size of an id as GET_FILE_SIZE and quotas count it (§2.2): 32/33-char
 * channels: log + metadata log; 48-hex blobs: the blob file. Missing -> 0.
 * Returns 0; BP_EBADID for an id of another shape; BP_EDELETED for a missing
 * blob with a placeholder, whose text is then appended to reason (may be NULL). */
int files_id_size(struct server *srv, const char *id, size_t len, uint64_t *size, struct buf *reason);

/* True for a 48-char lowercase hex blob id. */
bool files_blob_id_valid(const char *id, size_t len);
/* The blob's reduced metadata (a new reference, {} if it has none). */
json_t *files_blob_meta(struct server *srv, const char *id);
/* Appends a SET_METADATA line to the blob's own metadata log (Q17). */
int files_blob_meta_append(struct server *srv, const char *id, const char *line, size_t len);
/* Archives the blob (file, metadata, activity) and writes the placeholder. */
int files_blob_archive(struct server *srv, const char *id, const char *reason);
/* Restores an archived blob (admin); BP_EEXIST if a live one exists. */
int files_blob_restore(struct server *srv, const char *id);
/* Writes a fresh upload cookie for key (UPLOAD_COOKIE, §3.7): 32 hex chars + NUL. */
int files_new_upload_cookie(struct server *srv, const char *key, char out[33]);

#endif
