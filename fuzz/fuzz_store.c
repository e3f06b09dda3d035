/* fuzz_store: the store's log recovery and index (store.c). The input is
 * written as a channel log; the store opens it (cutting a torn tail and
 * indexing), answers history starts, reads every line back, appends one
 * message, and is reopened. Oracle: the reopened log has exactly one more
 * line than the recovered one and ends with the appended message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "storage/store.h"

#define CH "0123456789abcdef0123456789abcdef"

static char g_dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/bp-fuzz-store-XXXXXX");
        if (!mkdtemp(g_dir))
            abort();
        log_set_level(LOG_LEVEL_ERROR);
        char d[128];
        snprintf(d, sizeof d, "%s/datastore", g_dir);
        mkdir(d, 0777);
        snprintf(d, sizeof d, "%s/datastore/01", g_dir);
        mkdir(d, 0777);
    }
    char path[160];
    snprintf(path, sizeof path, "%s/datastore/01/" CH ".ndjson", g_dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    struct store_config cfg = {.root = g_dir, .fsync = STORE_FSYNC_NONE, .max_line = 1 << 20};
    struct store *s;
    if (store_new(&s, &cfg) != 0)
        abort();
    struct store_chan *c;
    if (store_chan_open(s, CH, &c) != 0) {
        store_free(s);
        return 0; /* e.g. a line longer than max_line */
    }
    uint64_t lines = store_chan_lines(c), off;
    store_history_start(s, c, NULL, 0, &off);
    if (off > store_chan_size(c))
        abort();
    store_history_start(s, c, (const char *)data, size > 64 ? 64 : size, &off);
    struct store_iter it;
    store_iter_init(&it, s, c, 0);
    const char *line;
    size_t len;
    uint64_t n = 0, lo;
    while (store_iter_next(&it, &line, &len, &lo) == 1)
        n++;
    store_iter_done(&it);
    if (n != lines)
        abort();
    const char msg[] = "[0,\"u\",\"MSG\",\"" CH "\",\"fuzz-appended\",1]\n";
    if (store_append(s, c, msg, sizeof msg - 1, "fuzz-appended", 13) != 0)
        abort();
    store_chan_release(s, c);
    store_free(s);
    if (store_new(&s, &cfg) != 0 || store_chan_open(s, CH, &c) != 0)
        abort();
    if (store_chan_lines(c) != lines + 1)
        abort();
    if (store_history_start(s, c, "fuzz-appended", 13, &off) != 0 && store_chan_lines(c) < 100)
        abort();
    store_chan_release(s, c);
    store_free(s);
    return 0;
}
