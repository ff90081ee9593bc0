/*
 * db_tree.h — the lineage as a Graphviz graph, for `asiarch db tree`:
 * candidates are nodes (name, id, score), parents point at their children,
 * fill colour follows the score.
 */
#ifndef ASIARCH_CLI_DB_TREE_H
#define ASIARCH_CLI_DB_TREE_H

#include <stdint.h>
#include <stdio.h>

#include "db.h"

/* Write the DOT text of the candidates' lineage; with show_refs, references
 * (the designs shown to the proposer) as dotted edges too. */
void db_tree_write_dot(const db_candidate_list *l, int show_refs, FILE *out);
/* The same, with the path from best_id (0: none) up to its root drawn in
 * red, and with links, each node a link to #c<id> (the report page). */
void db_tree_write_dot_ex(const db_candidate_list *l, int show_refs, int64_t best_id, int links, FILE *out);

/* Render DOT text as SVG with Graphviz's `dot -Tsvg` (a child process) into
 * out_path, or onto stdout when out_path is NULL. -1 with a message in err
 * when dot is missing or fails. */
int db_tree_render_svg(const char *dot_text, size_t len, const char *out_path, char *err, size_t errlen);

#endif /* ASIARCH_CLI_DB_TREE_H */
