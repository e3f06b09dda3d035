/* richtext.c: plain text of a rich text document's hyperjson (blindpad/richtext.h).
 *
 * The walk keeps one piece of layout state: whether a line break is owed.
 * A block element makes sure it starts on a new line and, when it ends,
 * owes one; the break is written only before the next text, so that
 * nested blocks (<li><p>...</p></li>, <div><div>...) give one break, not a
 * staircase of empty lines, and the output never ends with a run of them.
 * <br> writes its break at once (two <br> = one empty line, as on screen).
 * List items write their marker ("- " or "N. ", indented two spaces per
 * nesting level) when their first text arrives. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <blindpad/err.h>
#include <blindpad/richtext.h>

#include "common/buf.h"

struct rt {
    struct buf out;
    bool owe_nl;          /* a block ended or began: break before the next text */
    char marker[32];      /* list item marker waiting for the item's first text */
    int lists;            /* list nesting, for the marker's indentation */
};

static bool tag_in(const char *tag, const char *const *set)
{
    for (; *set; set++)
        if (strcasecmp(tag, *set) == 0)
            return true;
    return false;
}

static const char *const BLOCKS[] = {
    "P", "DIV", "H1", "H2", "H3", "H4", "H5", "H6", "LI", "UL", "OL", "PRE", "BLOCKQUOTE",
    "TABLE", "THEAD", "TBODY", "TFOOT", "TR", "SECTION", "ARTICLE", "HEADER", "FOOTER", "FIGURE",
    "FIGCAPTION", "DL", "DT", "DD", "ADDRESS", "HR", "CENTER", NULL};
/* Never shown: their text is not the document's. */
static const char *const HIDDEN[] = {"SCRIPT", "STYLE", "HEAD", "TEMPLATE", "NOSCRIPT", "TITLE",
                                     NULL};

static bool at_line_start(const struct rt *r)
{
    return r->out.len == 0 || r->out.data[r->out.len - 1] == '\n';
}

static void block_edge(struct rt *r)
{
    if (!at_line_start(r))
        r->owe_nl = true;
}

/* Writes a text node: the owed break and marker first; U+00A0 (CKEditor's
 * &nbsp;) as a plain space; C0 control bytes other than tab and newline,
 * and DEL, dropped (a writer of the document must not be able to send
 * escape sequences to the reader's terminal). */
static void text(struct rt *r, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (r->owe_nl) {
        if (!at_line_start(r))
            buf_appendc(&r->out, '\n');
        r->owe_nl = false;
    }
    if (r->marker[0]) {
        buf_appends(&r->out, r->marker);
        r->marker[0] = '\0';
    }
    size_t i = 0, from = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0) {
            buf_append(&r->out, s + from, i - from);
            buf_appendc(&r->out, ' ');
            i += 2;
            from = i;
        } else if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f) {
            buf_append(&r->out, s + from, i - from); /* control bytes (NUL, ESC...) dropped */
            from = ++i;
        } else {
            i++;
        }
    }
    buf_append(&r->out, s + from, n - from);
}

static int walk(struct rt *r, const json_t *node, int depth, int *item_no, int *cell_no);

static int children(struct rt *r, const json_t *kids, int depth, int *item_no, int *cell_no)
{
    size_t i;
    const json_t *k;
    json_array_foreach (kids, i, k) {
        int e = walk(r, k, depth + 1, item_no, cell_no);
        if (e)
            return e;
    }
    return 0;
}

/* item_no: the enclosing list's counter (NULL outside a list, negative for
 * an unordered list); cell_no: the enclosing row's cell counter. */
static int walk(struct rt *r, const json_t *node, int depth, int *item_no, int *cell_no)
{
    if (depth > BP_RICHTEXT_MAX_DEPTH)
        return BP_ETOOBIG;
    if (json_is_string(node)) {
        text(r, json_string_value(node), json_string_length(node));
        return 0;
    }
    /* An element is [tag, {attrs}, [children]]; anything else (the
     * metadata wrapper, a malformed node) has no text. */
    if (!json_is_array(node) || !json_is_string(json_array_get(node, 0)))
        return 0;
    const char *tag = json_string_value(json_array_get(node, 0));
    const json_t *kids = json_array_get(node, 2);
    if (tag_in(tag, HIDDEN))
        return 0;
    if (strcasecmp(tag, "BR") == 0) {
        r->owe_nl = false;
        buf_appendc(&r->out, '\n');
        return 0;
    }
    if (strcasecmp(tag, "HR") == 0) {
        block_edge(r);
        text(r, "---", 3);
        block_edge(r);
        return 0;
    }
    bool block = tag_in(tag, BLOCKS);
    if (block)
        block_edge(r);
    if (strcasecmp(tag, "TD") == 0 || strcasecmp(tag, "TH") == 0) {
        if (cell_no && (*cell_no)++ > 0 && !at_line_start(r))
            buf_appendc(&r->out, '\t');
        return json_is_array(kids) ? children(r, kids, depth, item_no, cell_no) : 0;
    }
    int e = 0;
    if (strcasecmp(tag, "UL") == 0 || strcasecmp(tag, "OL") == 0) {
        int counter = strcasecmp(tag, "OL") == 0 ? 1 : -1;
        r->lists++;
        if (json_is_array(kids))
            e = children(r, kids, depth, &counter, NULL);
        r->lists--;
    } else if (strcasecmp(tag, "LI") == 0) {
        int indent = r->lists > 1 ? 2 * (r->lists - 1) : 0;
        if (indent > 16)
            indent = 16;
        if (item_no && *item_no > 0)
            snprintf(r->marker, sizeof r->marker, "%*s%d. ", indent, "", (*item_no)++);
        else
            snprintf(r->marker, sizeof r->marker, "%*s- ", indent, "");
        if (json_is_array(kids))
            e = children(r, kids, depth, NULL, NULL);
        r->marker[0] = '\0'; /* an empty item prints nothing */
    } else if (strcasecmp(tag, "TR") == 0) {
        int cells = 0;
        if (json_is_array(kids))
            e = children(r, kids, depth, NULL, &cells);
    } else if (json_is_array(kids)) {
        e = children(r, kids, depth, item_no, cell_no);
    }
    if (block)
        block_edge(r);
    return e;
}

int bp_richtext_to_text(const json_t *doc, char **out, size_t *outlen)
{
    if (!out || !outlen)
        return BP_EINVAL;
    *out = NULL;
    *outlen = 0;
    if (!json_is_array(doc) || !json_is_string(json_array_get(doc, 0)) ||
        !json_is_array(json_array_get(doc, 2)))
        return BP_EPROTO;
    struct rt r = {.out = BUF_INIT};
    int e = children(&r, json_array_get(doc, 2), 0, NULL, NULL);
    if (e) {
        buf_free(&r.out);
        return e;
    }
    if (!at_line_start(&r))
        buf_appendc(&r.out, '\n');
    *out = buf_steal(&r.out, outlen); /* never NULL, even for an empty document */
    (*out)[*outlen] = '\0';           /* buf keeps len + 1 <= cap */
    return 0;
}
