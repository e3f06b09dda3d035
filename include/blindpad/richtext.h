/* blindpad/richtext.h: the text of a rich text ("pad") document.
 *
 * CryptPad's rich text app stores its CKEditor DOM as hyperjson
 * (CHAINPAD.md §6.1): ["BODY", {attributes}, [children...], {"metadata":...}],
 * an element being [TAGNAME, {attributes}, [children]] and a text node a
 * string. bp_richtext_to_text() renders it as plain text the way a reader
 * would copy it out of the editor: block elements (paragraphs, headings,
 * list items, table rows, ...) end a line, <br> breaks one, list items get
 * "- " (or "N. " in an ordered list), table cells are separated by a tab,
 * <script>/<style> and CryptPad's invisible widgets are skipped, and no
 * run of more than one empty line is produced. Inline formatting is
 * dropped, and so are control characters other than tab and newline (no
 * terminal escape sequences from a document's writer). Pure: no I/O, no global state.
 *
 * Limits: the walk is iterative in spirit but bounded in depth
 * (BP_RICHTEXT_MAX_DEPTH, deeper elements: BP_ETOOBIG), so a hostile
 * document cannot exhaust the stack.
 *
 * Ownership: *out is malloc'd, NUL-terminated, freed by the caller.
 * Errors: BP_EPROTO (not hyperjson: the root is not a ["BODY"|tag, {}, []]
 * array), BP_ETOOBIG, BP_ENOMEM. */
#ifndef BLINDPAD_RICHTEXT_H
#define BLINDPAD_RICHTEXT_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_RICHTEXT_MAX_DEPTH 256

int bp_richtext_to_text(const json_t *doc, char **out, size_t *outlen);

#ifdef __cplusplus
}
#endif

#endif
