/*
 * db_tree.c — `asiarch db tree`: the lineage as Graphviz DOT, and SVG through
 * Graphviz's `dot` program (Debian package graphviz) run as a child process.
 *
 * Nodes are candidates labelled with name, id and score. Scored candidates
 * are filled on the viridis scale from the lowest score (purple) to the
 * highest (yellow), so the strong branches stand out; baselines have a
 * double border; failed, rejected, duplicate and interrupted ones are grey
 * and dashed; proposed and running ones white.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db_tree.h"

extern char **environ;

/* viridis, sampled at nine points: perceptually even and readable in grey. */
static const unsigned char viridis[9][3] = {
    {0x44, 0x01, 0x54}, {0x47, 0x2d, 0x7b}, {0x3b, 0x52, 0x8b}, {0x2c, 0x72, 0x8e}, {0x21, 0x91, 0x8c},
    {0x28, 0xae, 0x80}, {0x5e, 0xc9, 0x62}, {0xad, 0xdc, 0x30}, {0xfd, 0xe7, 0x25},
};

static void scale_colour(double t, char out[8])
{
    t = !(t >= 0) ? 0 : t > 1 ? 1 : t;   /* NaN (from a database with odd scores) is the low end */
    double x = t * 8;
    int i = x >= 8 ? 7 : (int)x;
    double f = x - i;
    unsigned char rgb[3];
    for (int k = 0; k < 3; k++) rgb[k] = (unsigned char)lround(viridis[i][k] + f * (viridis[i + 1][k] - viridis[i][k]));
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

/* A string inside DOT double quotes: quotes and backslashes escaped, control
 * characters (newlines in a name) as spaces, at most max bytes. */
static void put_escaped(FILE *out, const char *s, size_t max)
{
    for (size_t i = 0; s && s[i] && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') fputc('\\', out);
        fputc(ch < 32 ? ' ' : ch, out);
    }
}

typedef struct score_range {
    double lo, hi;
    int any;
} score_range;

static score_range scored_range(const db_candidate_list *l)
{
    score_range r = {INFINITY, -INFINITY, 0};
    for (int i = 0; i < l->n; i++) {
        const db_candidate *c = &l->items[i];
        if (c->status != DB_SCORED || !isfinite(c->score)) continue;
        r.any = 1;
        r.lo = fmin(r.lo, c->score);
        r.hi = fmax(r.hi, c->score);
    }
    return r;
}

static int is_dead_end(db_status s)
{
    return s == DB_FAILED || s == DB_REJECTED || s == DB_DUPLICATE || s == DB_INTERRUPTED;
}

static void write_node(const db_candidate *c, const score_range *r, int on_path, int links, FILE *out)
{
    fprintf(out, "  c%lld [label=\"", (long long)c->id);
    put_escaped(out, c->name, 60);
    fprintf(out, "\\n#%lld  ", (long long)c->id);
    if (c->status == DB_SCORED && isfinite(c->score)) fprintf(out, "%.4f", c->score);
    else fputs(db_status_name(c->status), out);
    fputs("\", tooltip=\"", out);
    put_escaped(out, c->motivation ? c->motivation : c->name, 300);
    fputc('"', out);
    const char *shape_style = c->is_baseline ? "shape=box, peripheries=2, style=\"filled,bold\""
                                             : "shape=box, style=\"filled,rounded\"";
    if (c->status == DB_SCORED && isfinite(c->score)) {
        /* halves first: hi - lo of two huge scores would overflow */
        double t = r->hi > r->lo ? (c->score / 2 - r->lo / 2) / (r->hi / 2 - r->lo / 2) : 1.0;
        char fill[8];
        scale_colour(t, fill);
        fprintf(out, ", %s, fillcolor=\"%s\", fontcolor=\"%s\"", shape_style, fill, t < 0.55 ? "white" : "black");
    } else if (is_dead_end(c->status)) {
        fprintf(out, ", %s, fillcolor=\"#e0e0e0\", color=\"#9e9e9e\", fontcolor=\"#757575\"",
                c->is_baseline ? "shape=box, peripheries=2, style=\"filled,dashed\""
                               : "shape=box, style=\"filled,rounded,dashed\"");
    } else {
        fprintf(out, ", %s, fillcolor=\"white\"", shape_style);
    }
    if (on_path) fputs(", color=\"#d62728\", penwidth=3", out);
    if (links) fprintf(out, ", URL=\"#c%lld\", target=\"_self\"", (long long)c->id);
    fputs("];\n", out);
}

static void write_legend(const score_range *r, FILE *out)
{
    char lo[8], hi[8];
    scale_colour(0, lo);
    scale_colour(1, hi);
    fputs("  legend [shape=plaintext, fontsize=10, label=<<table border=\"0\" cellspacing=\"2\">", out);
    if (r->any)
        fprintf(out, "<tr><td bgcolor=\"%s\"><font color=\"white\">score %.4f</font></td>"
                     "<td bgcolor=\"%s\">score %.4f</td></tr>",
                lo, r->lo, hi, r->hi);
    fputs("<tr><td colspan=\"2\">double border: baseline; grey: failed, rejected, duplicate or interrupted; "
          "white: not scored yet</td></tr></table>>];\n",
          out);
}

/* Only candidates present in the list are linked (a --run view may cut a
 * lineage that started in another run). */
static int in_list(const db_candidate_list *l, int64_t id)
{
    for (int i = 0; i < l->n; i++)
        if (l->items[i].id == id) return 1;
    return 0;
}

void db_tree_write_dot(const db_candidate_list *l, int show_refs, FILE *out)
{
    db_tree_write_dot_ex(l, show_refs, 0, 0, out);
}

/* 1 when id is on the path from best_id up to its root. */
static int on_best_path(const db_candidate_list *l, int64_t best_id, int64_t id)
{
    for (int64_t at = best_id, steps = 0; at && steps <= l->n; steps++) {
        if (at == id) return 1;
        int64_t up = 0;
        for (int i = 0; i < l->n; i++)
            if (l->items[i].id == at) up = l->items[i].parent_id;
        at = up;
    }
    return 0;
}

void db_tree_write_dot_ex(const db_candidate_list *l, int show_refs, int64_t best_id, int links, FILE *out)
{
    score_range r = scored_range(l);
    fputs("digraph lineage {\n"
          "  graph [rankdir=TB, fontname=\"Helvetica\", label=\"asiarch lineage\", labelloc=t];\n"
          "  node [fontname=\"Helvetica\", fontsize=11];\n"
          "  edge [color=\"#555555\"];\n",
          out);
    write_legend(&r, out);
    char *path = calloc((size_t)l->n + 1, 1);   /* on the best design's path, by index */
    for (int i = 0; path && best_id && i < l->n; i++) path[i] = (char)on_best_path(l, best_id, l->items[i].id);
    for (int i = 0; i < l->n; i++) write_node(&l->items[i], &r, path && path[i], links, out);
    for (int i = 0; i < l->n; i++) {
        const db_candidate *c = &l->items[i];
        if (c->parent_id && in_list(l, c->parent_id))
            fprintf(out, "  c%lld -> c%lld%s;\n", (long long)c->parent_id, (long long)c->id,
                    path && path[i] ? " [color=\"#d62728\", penwidth=3]" : "");
        for (int k = 0; show_refs && k < c->n_refs; k++)
            if (in_list(l, c->refs[k]))
                fprintf(out, "  c%lld -> c%lld [style=dotted, color=\"#aaaaaa\", constraint=false, arrowhead=none];\n",
                        (long long)c->refs[k], (long long)c->id);
    }
    free(path);
    fputs("}\n", out);
}

/* ---- SVG through Graphviz --------------------------------------------------------- */

/* Write all of buf to fd; a dot that exits early gives EPIPE, not SIGPIPE. */
static int write_all(int fd, const char *buf, size_t len)
{
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ignore, &old);
    int rc = 0;
    while (len > 0) {
        ssize_t k = write(fd, buf, len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) { rc = -1; break; }
        buf += k;
        len -= (size_t)k;
    }
    sigaction(SIGPIPE, &old, NULL);
    return rc;
}

int db_tree_render_svg(const char *dot_text, size_t len, const char *out_path, char *err, size_t errlen)
{
    fflush(stdout);   /* dot may write to the same stdout */
    int fds[2];
    if (pipe(fds) < 0) {
        snprintf(err, errlen, "cannot create a pipe to Graphviz: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *argv[] = {"dot", "-Tsvg", out_path ? "-o" : NULL, (char *)out_path, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "dot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (rc != 0) {
        close(fds[1]);
        if (rc == ENOENT)
            snprintf(err, errlen, "Graphviz's `dot` program was not found on PATH: install the Debian package graphviz "
                                  "(./bootstrap.sh does), or use --format dot and render it elsewhere");
        else snprintf(err, errlen, "cannot run Graphviz's `dot`: %s", strerror(rc));
        return -1;
    }
    int wrote = write_all(fds[1], dot_text, len);
    close(fds[1]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "Graphviz's `dot -Tsvg` failed (%s %d)", WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -1;
    }
    if (wrote < 0) {
        snprintf(err, errlen, "Graphviz's `dot` stopped reading the graph: %s", strerror(errno));
        return -1;
    }
    return 0;
}
