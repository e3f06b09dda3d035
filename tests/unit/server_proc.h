/* server_proc.h: the unit tests that need a real blindpad-server (the client
 * library's) start one here: a fresh data directory, a free loopback port,
 * no sandbox listener. The binary is $BLINDPAD_BIN, else the blindpad-server
 * next to the test's build directory, else build/blindpad-server. */
#ifndef BP_TEST_SERVER_PROC_H
#define BP_TEST_SERVER_PROC_H

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct srv {
    pid_t pid;
    int port;
    char dir[64];
    char ws[96];
    char http[96];
};

static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static inline void server_bin(char *out, size_t n)
{
    const char *e = getenv("BLINDPAD_BIN");
    if (e && *e) {
        snprintf(out, n, "%s", e);
        return;
    }
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (k > 0) {
        self[k] = '\0';
        char *s = strrchr(self, '/'); /* .../build[/x]/tests/test_x */
        if (s) {
            *s = '\0';
            s = strrchr(self, '/');
            if (s) {
                *s = '\0';
                if (strlen(self) + 17 < n) {
                    memcpy(out, self, strlen(self));
                    memcpy(out + strlen(self), "/blindpad-server", 17);
                }
                if (strlen(self) + 17 < n && access(out, X_OK) == 0)
                    return;
            }
        }
    }
    snprintf(out, n, "build/blindpad-server");
}

static inline bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static inline int server_start(struct srv *s, const char *extra)
{
    char bin[PATH_MAX];
    server_bin(bin, sizeof(bin));
    snprintf(s->dir, sizeof(s->dir), "/tmp/bp-client-test-XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    s->port = free_port();
    snprintf(s->ws, sizeof(s->ws), "ws://127.0.0.1:%d/cryptpad_websocket", s->port);
    snprintf(s->http, sizeof(s->http), "http://127.0.0.1:%d", s->port);
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
    s->pid = fork();
    if (s->pid == 0) {
        const char *argv[] = {bin, "--listen", listen, "--data", s->dir, "--sandbox-port", "0",
                              "--log-level", "error", extra ? "--fsync" : NULL, extra, NULL};
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        if (port_open(s->port))
            return 0;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            fprintf(stderr, "server %s exited\n", bin);
            s->pid = 0;
            return -1;
        }
        usleep(25000);
    }
    return -1;
}

static inline void server_stop(struct srv *s, int sig)
{
    if (s->pid > 0) {
        kill(s->pid, sig);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    if (s->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", s->dir);
        s->dir[0] = '\0';
    }
}

#endif
