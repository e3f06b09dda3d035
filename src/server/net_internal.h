/* net_internal.h: hooks into net.c for unit tests and fuzz targets only.
 *
 * The server proper never includes this file. It exposes the pure helpers of
 * the WebSocket layer and the byte-input path of one connection, so a fuzz
 * target can drive HTTP parsing, the upgrade and wslay without a socket. */
#ifndef BP_NET_INTERNAL_H
#define BP_NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "server/net.h"

/* Length of the longest server frame header: 2 bytes + 64-bit length. */
#define NET_WS_HDR_MAX 10
/* Length of a Sec-WebSocket-Accept value plus its NUL. */
#define NET_WS_ACCEPT_LEN 29

/* Writes the header of an unmasked final frame with this opcode and payload
 * length (RFC 6455 §5.2) to out; returns its length: 2, 4 or 10. */
size_t net__ws_frame_header(uint8_t out[NET_WS_HDR_MAX], unsigned opcode, uint64_t len);

/* Computes the Sec-WebSocket-Accept value for a Sec-WebSocket-Key (surrounding
 * blanks ignored). Returns 0, or BP_EPROTO if the key does not decode to 16
 * bytes (out is then the empty string). */
int net__ws_accept(const char *key, size_t key_len, char out[NET_WS_ACCEPT_LEN]);

/* Creates a conn in the HTTP state on n's loop whose TCP handle has no socket:
 * input comes only from net__conn_input(), and the first write fails, which
 * closes the conn through the ordinary path (on_close if it was opened). */
struct conn *net__conn_new_unconnected(struct net *n);

/* Feeds bytes to a conn as if read from its socket (HTTP parser, upgrade,
 * then wslay). data is borrowed for the call. */
void net__conn_input(struct conn *c, const char *data, size_t len);

#endif
