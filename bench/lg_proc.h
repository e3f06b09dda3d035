/* lg_proc.h: what the load generator reads from /proc about the server.
 *
 * Everything here is server-agnostic: the server is only known by its pids
 * (blindpad is one process; CryptPad's reference is node plus db-workers, so
 * a list of pids is summed) and by its loopback TCP sockets. */
#ifndef LG_PROC_H
#define LG_PROC_H

#include <stdint.h>
#include <sys/types.h>

#define LG_MAX_PIDS 16

/* Sum of VmRSS (KiB) over pids; -1 if none could be read. */
long proc_rss_kb(const pid_t *pids, unsigned n);
/* Sum of utime + stime over pids, in microseconds; -1 if none could be read. */
int64_t proc_cpu_us(const pid_t *pids, unsigned n);
/* This process's user + system CPU time in microseconds (getrusage). */
int64_t self_cpu_us(void);
/* This process's own VmRSS in KiB. */
long self_rss_kb(void);

/* The kernel's view of the IPv4 loopback socket whose local port is lport
 * and remote port rport (/proc/net/tcp): fills state (TCP_ESTABLISHED = 1,
 * ...) and the send/receive queue bytes. Returns 0, or -1 if no such socket
 * exists (e.g. the server has closed and released it). */
int proc_tcp_lookup(unsigned lport, unsigned rport, int *state, long *txq, long *rxq);

/* Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit. */
long raise_nofile(void);

#endif
