/* rawjson.c: element spans of a JSON array (see rawjson.h). */
#include "protocol/rawjson.h"

#include "common/err.h"

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Returns the index just past the value starting at s[i], or n+1 on error. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
    if (i >= n)
        return n + 1;
    if (s[i] == '"') {
        for (i++; i < n; i++) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                return i + 1;
        }
        return n + 1;
    }
    if (s[i] == '[' || s[i] == '{') {
        int depth = 0;
        for (; i < n; i++) {
            char c = s[i];
            if (c == '"') {
                size_t j = skip_value(s, i, n);
                if (j > n)
                    return n + 1;
                i = j - 1;
            } else if (c == '[' || c == '{') {
                depth++;
            } else if (c == ']' || c == '}') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return n + 1;
    }
    size_t start = i;
    while (i < n && s[i] != ',' && s[i] != ']' && s[i] != '}' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        i++;
    return i > start ? i : n + 1;
}

int rawjson_array(const char *s, size_t n, struct rawjson_span *out, size_t max)
{
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '[')
        return BP_EPROTO;
    i = skip_ws(s, i + 1, n);
    int count = 0;
    if (i < n && s[i] == ']')
        return 0;
    for (;;) {
        size_t end = skip_value(s, i, n);
        if (end > n)
            return BP_EPROTO;
        if ((size_t)count < max) {
            out[count].off = i;
            out[count].len = end - i;
        }
        count++;
        i = skip_ws(s, end, n);
        if (i >= n)
            return BP_EPROTO;
        if (s[i] == ']')
            return count;
        if (s[i] != ',')
            return BP_EPROTO;
        i = skip_ws(s, i + 1, n);
    }
}
