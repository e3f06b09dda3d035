/* blindpad/merge.h: three-way merge of texts, line by line (like diff3 and
 * `git merge-file`).
 *
 * Given the text both sides started from (base), one side's version (ours:
 * the user's edit) and the other side's (theirs: what others saved
 * meanwhile), bp_merge_text() combines the two sets of changes:
 *   - a region only one side changed takes that side's lines;
 *   - a region both sides changed in exactly the same way is taken once;
 *   - a region both sides changed differently is a conflict: both versions
 *     are written between git-style markers and counted in *conflicts:
 *         <<<<<<< yours\n  (ours' lines)  =======\n  (theirs' lines)  >>>>>>> theirs\n
 *     Changes that touch (one ends on the line where the other starts, or
 *     two insertions at the same place) count as overlapping, as in git.
 * Lines are compared byte for byte: a line is everything up to and
 * including '\n' (so "a\r\n" and "a\n" differ, and a last line without '\n'
 * differs from the same line with one). Inside a conflict block a side whose
 * last line has no '\n' gets one, so that the markers stay on their own
 * lines; outside conflicts the output is made only of input lines.
 *
 * Limits: each text may have at most BP_MERGE_MAX_LINES lines (BP_ETOOBIG
 * beyond). Each of the two diffs (base->ours, base->theirs) is a minimal
 * line diff (Myers) as long as it needs at most BP_MERGE_MAX_COST inserted
 * plus deleted lines once the common head and tail are set aside; beyond
 * that the unmatched middle is treated as one changed block. The merge then
 * stays correct but is coarser: more conflicts, never a wrong silent result.
 * Work is O((lines) * min(cost, BP_MERGE_MAX_COST)) time and
 * O(lines + min(cost, BP_MERGE_MAX_COST)^2) memory.
 *
 * Pure function: no I/O, no global state. Thread-safe. */
#ifndef BLINDPAD_MERGE_H
#define BLINDPAD_MERGE_H

#include <stddef.h>

#include <blindpad/err.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_MERGE_MAX_LINES (1u << 22)
#define BP_MERGE_MAX_COST 2000

/* Merges base -> ours and base -> theirs (see above). Any of the texts may
 * be NULL when its length is 0. On success returns 0, *out is a malloc'd,
 * NUL-terminated text of *outlen bytes (the caller frees it with free()),
 * and *conflicts (may be NULL) is the number of conflict blocks in it (0: a
 * clean merge). Errors: BP_EINVAL (NULL out/outlen, or a NULL text with a
 * length), BP_ETOOBIG (too many lines), BP_ENOMEM; *out is then NULL. */
int bp_merge_text(const char *base, size_t bn, const char *ours, size_t on, const char *theirs,
                  size_t tn, char **out, size_t *outlen, size_t *conflicts);

#ifdef __cplusplus
}
#endif

#endif
