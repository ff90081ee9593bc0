/*
 * page.c — the report page: its sections, in the order a reader wants them
 * (page.h). One pass over the candidates of the run (or every run), parsed
 * once into views; sections write straight to the output.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "page_internal.h"
#include "score.h"

#define TOP_CURVES 5
#define TOP_TABLE 10
#define PAGE_SIZE 100

static const char CSS[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}"
    "main{max-width:1100px;margin:0 auto;padding:16px 24px}h1{font-size:22px}h2{font-size:18px;margin-top:32px;"
    "border-bottom:1px solid #dde2ea}table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 8px;"
    "border-bottom:1px solid #e6e9ef;text-align:left;vertical-align:top}th{background:#eef1f6}"
    ".num{text-align:right;font-variant-numeric:tabular-nums}.chart{background:#fff;border:1px solid #e0e4ec;"
    "margin:6px 6px 6px 0}.grid{stroke:#eceff4}.frame{fill:none;stroke:#9aa3b2}.tick{font-size:11px;fill:#4a5466}"
    ".ctitle{font-size:13px;font-weight:600;fill:#1d2330}details{background:#fff;border:1px solid #e0e4ec;"
    "margin:4px 0;padding:4px 10px}summary{cursor:pointer}pre{background:#f4f6f9;padding:8px;overflow-x:auto;"
    "font-size:12px}.cm{color:#6a737d}.st{color:#032f62}.nu{color:#005cc5}.kw{color:#d73a49}.op{color:#6f42c1}"
    ".pp{color:#e36209}.add{color:#22863a}.del{color:#b31d28}.tag{display:inline-block;padding:0 6px;"
    "border-radius:8px;font-size:12px;background:#e8ecf3}.scored{background:#dcf5e3}.failed{background:#fde2e1}"
    ".duplicate,.rejected{background:#fff4d6}.lineage svg{max-width:100%;height:auto}#filters{position:sticky;"
    "top:0;background:#fafbfc;padding:6px 0}";

/* Filter by status and minimum score; show PAGE_SIZE at a time. */
static const char JS[] =
    "(function(){var PAGE=" "100" ",shown=PAGE;function apply(){var st=document.getElementById('fstatus').value,"
    "min=parseFloat(document.getElementById('fscore').value),n=0,m=0;document.querySelectorAll('details.cand')"
    ".forEach(function(d){var ok=(st==='all'||d.dataset.status===st)&&(isNaN(min)||parseFloat(d.dataset.score)"
    ">=min);if(ok)m++;d.style.display=ok&&n<shown?'':'none';if(ok)n++;});document.getElementById('fcount')"
    ".textContent=Math.min(shown,m)+' of '+m+' shown';document.getElementById('fmore').style.display=m>shown?"
    "'':'none';}document.getElementById('fstatus').onchange=function(){shown=PAGE;apply();};"
    "document.getElementById('fscore').oninput=function(){shown=PAGE;apply();};document.getElementById('fmore')"
    ".onclick=function(){shown+=PAGE;apply();};if(location.hash){var t=document.querySelector(location.hash);"
    "if(t&&t.tagName==='DETAILS'){t.open=true;shown=1e9;}}apply();})();";

void pg_escape(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default:
            if (ch < 0x20 && ch != '\n' && ch != '\t') fprintf(out, "&#%u;", 0x2400u + ch);   /* a visible symbol */
            else fputc(ch, out);
        }
    }
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void num(FILE *out, double v, const char *fmt)
{
    if (isfinite(v)) fprintf(out, fmt, v);
    else fputs("&ndash;", out);
}

/* ---- the data ------------------------------------------------------------------------- */

typedef struct page {
    aa_db *db;
    const pg_opts *o;
    db_candidate_list all;
    pg_view *v;
    int n;
    int *rank;                  /* indices of scored non-baselines, best score first */
    int n_rank;
    double best_base_loss;      /* the lowest baseline loss (NaN: none) */
} page;

static int by_score(const void *a, const void *b, void *ctx)
{
    const page *p = ctx;
    double x = p->v[*(const int *)a].c->score, y = p->v[*(const int *)b].c->score;
    return x > y ? -1 : x < y ? 1 : (*(const int *)a - *(const int *)b);
}

static int load(page *p, char *err, size_t errlen)
{
    if (db_candidate_list_all(p->db, p->o->run_id, -1, &p->all) < 0) {
        snprintf(err, errlen, "%s", db_error(p->db));
        return -1;
    }
    p->n = p->all.n;
    p->v = calloc((size_t)(p->n ? p->n : 1), sizeof *p->v);
    p->rank = calloc((size_t)(p->n ? p->n : 1), sizeof *p->rank);
    if (!p->v || !p->rank) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->best_base_loss = NAN;
    for (int i = 0; i < p->n; i++) {
        pg_view *v = &p->v[i];
        v->c = &p->all.items[i];
        v->metrics = v->c->metrics_json ? cJSON_Parse(v->c->metrics_json) : NULL;
        v->scores = v->c->scores_json ? cJSON_Parse(v->c->scores_json) : NULL;
        v->val_loss = jnum(v->metrics, "val_loss");
        v->mqar = jnum(v->metrics, "mqar_acc");
        v->params = jnum(v->metrics, "params");
        v->flops = jnum(v->metrics, "flops_per_token");
        v->train_s = jnum(v->metrics, "train_seconds");
        v->early_stop = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v->scores, "early_stop"));
        if (v->c->is_baseline && isfinite(v->val_loss) && strcmp(v->c->name, "conv_only") &&
            !(v->val_loss >= p->best_base_loss))
            p->best_base_loss = v->val_loss;
        if (v->c->status == DB_SCORED && !v->c->is_baseline && isfinite(v->c->score)) p->rank[p->n_rank++] = i;
    }
    qsort_r(p->rank, (size_t)p->n_rank, sizeof *p->rank, by_score, p);
    return 0;
}

static void unload(page *p)
{
    for (int i = 0; i < p->n; i++) {
        cJSON_Delete(p->v[i].metrics);
        cJSON_Delete(p->v[i].scores);
    }
    free(p->v);
    free(p->rank);
    db_candidate_list_free(&p->all);
}

static int beats_baseline(const page *p, const pg_view *v)
{
    return !v->c->is_baseline && v->c->status == DB_SCORED && !v->early_stop && isfinite(v->val_loss) &&
           isfinite(p->best_base_loss) && v->val_loss < p->best_base_loss;
}

/* ---- sections -------------------------------------------------------------------------------- */

static void seed_cell(FILE *out, aa_db *db, const db_candidate *c)
{
    double v[64];
    int m = db_seed_values(db, c->id, NULL, 0, "val_loss", v, 64);
    os_seed_stats s = os_seed_stats_of(v, m > 0 ? m : 0);
    if (s.n >= 2) fprintf(out, "%.4f &plusmn; %.4f (%d seeds)", s.mean, s.ci95, s.n);
    else fputs("&ndash;", out);
}

static void candidate_link(FILE *out, const db_candidate *c)
{
    fprintf(out, "<a href=\"#c%lld\">#%lld ", (long long)c->id, (long long)c->id);
    pg_escape(out, c->name);
    fputs("</a>", out);
}

static void design_row(FILE *out, page *p, const pg_view *v)
{
    fputs("<tr><td>", out);
    candidate_link(out, v->c);
    fprintf(out, "%s</td><td class=\"num\">", v->c->is_baseline ? " <span class=\"tag\">baseline</span>" : "");
    num(out, v->c->score, "%.4f");
    fputs("</td><td class=\"num\">", out);
    num(out, v->val_loss, "%.4f");
    fputs("</td><td class=\"num\">", out);
    seed_cell(out, p->db, v->c);
    fputs("</td><td class=\"num\">", out);
    if (v->mqar >= 0) num(out, v->mqar, "%.3f");
    else fputs("not measured", out);
    fputs("</td><td class=\"num\">", out);
    num(out, v->params, "%.0f");
    fputs("</td></tr>\n", out);
}

static void summary(FILE *out, page *p)
{
    int64_t counts[DB_STATUS_COUNT] = {0};
    double cpu = 0, gpu = 0, train = 0, cost = 0;
    int64_t tin = 0, tout = 0;
    int beating = 0;
    for (int i = 0; i < p->n; i++) {
        const db_candidate *c = p->v[i].c;
        counts[c->status]++;
        cpu += c->costs.cpu_seconds;
        gpu += c->costs.gpu_seconds;
        tin += c->costs.prompt_tokens;
        tout += c->costs.completion_tokens;
        cost += c->costs.cost_usd;
        if (isfinite(p->v[i].train_s)) train += p->v[i].train_s;
        beating += beats_baseline(p, &p->v[i]);
    }
    db_run *runs = NULL;
    int nruns = 0;
    db_run_list(p->db, &runs, &nruns);
    fputs("<h2 id=\"summary\">Summary</h2>\n<table><tr><th>run</th><th>scale</th><th>seed</th><th>proposer</th>"
          "<th>status</th><th>created</th></tr>\n", out);
    for (int i = 0; i < nruns; i++) {
        if (p->o->run_id && runs[i].id != p->o->run_id) continue;
        fprintf(out, "<tr><td>%lld</td><td>", (long long)runs[i].id);
        pg_escape(out, runs[i].scale ? runs[i].scale : "");
        fprintf(out, "</td><td>%lld</td><td>", (long long)runs[i].seed);
        pg_escape(out, runs[i].proposer ? runs[i].proposer : "");
        fprintf(out, "</td><td>%s</td><td>%s</td></tr>\n", db_run_status_name(runs[i].status), runs[i].created_at);
    }
    for (int i = 0; i < nruns; i++) db_run_free(&runs[i]);
    free(runs);
    fputs("</table>\n<p>", out);
    fprintf(out, "<b>%d candidates</b>:", p->n);
    for (int s = 0; s < DB_STATUS_COUNT; s++)
        if (counts[s]) fprintf(out, " <span class=\"tag %s\">%lld %s</span>", db_status_name((db_status)s),
                               (long long)counts[s], db_status_name((db_status)s));
    fprintf(out, ". Compute: %.0f s of training (%.0f CPU s, %.0f GPU s in candidates' costs); language model: "
                 "%lld prompt + %lld completion tokens, $%.2f. <b>%d</b> candidate%s beat the best baseline's "
                 "validation loss on their run's seed.</p>\n",
            train, cpu, gpu, (long long)tin, (long long)tout, cost, beating, beating == 1 ? "" : "s");
    fputs("<table><tr><th>design</th><th>fitness</th><th>val loss</th><th>val loss over seeds (95% CI)</th>"
          "<th>MQAR</th><th>parameters</th></tr>\n", out);
    for (int i = 0; i < p->n; i++)
        if (p->v[i].c->is_baseline && p->v[i].c->status == DB_SCORED) design_row(out, p, &p->v[i]);
    for (int k = 0; k < p->n_rank && k < TOP_TABLE; k++) design_row(out, p, &p->v[p->rank[k]]);
    fputs("</table>\n", out);
}

/* The paper's figure 1: discoveries and best-so-far against compute. */
static void discoveries(FILE *out, page *p)
{
    double *x = calloc((size_t)p->n + 1, sizeof *x), *found = calloc((size_t)p->n + 1, sizeof *found),
           *best = calloc((size_t)p->n + 1, sizeof *best);
    int m = 0, count = 0;
    double compute = 0, b = NAN;
    for (int i = 0; x && found && best && i < p->n; i++) {
        const pg_view *v = &p->v[i];
        if (isfinite(v->train_s)) compute += v->train_s;
        if (v->c->is_baseline) continue;
        count += beats_baseline(p, v);
        if (v->c->status == DB_SCORED && !v->early_stop && isfinite(v->val_loss) && !(v->val_loss >= b)) b = v->val_loss;
        x[m] = compute;
        found[m] = count;
        best[m++] = b;
    }
    fputs("<h2 id=\"discoveries\">Discoveries against compute</h2>\n", out);
    pg_series s1 = {"beating the best baseline", "#1f77b4", x, found, m, 1};
    pg_series s2 = {"best val loss so far", "#d62728", x, best, m, 1};
    double base[2] = {p->best_base_loss, p->best_base_loss}, bx[2] = {0, compute};
    pg_series s3 = {"best baseline", "#7f7f7f", bx, base, isfinite(p->best_base_loss) ? 2 : 0, 1};
    pg_chart(out, &(pg_axes){"Candidates beating the best baseline", "cumulative training seconds", "candidates", 0},
             &s1, 1);
    pg_series both[2] = {s2, s3};
    pg_chart(out, &(pg_axes){"Best validation loss so far", "cumulative training seconds", "val loss (nats/token)", 0},
             both, 2);
    free(x);
    free(found);
    free(best);
}

static void curves(FILE *out, page *p)
{
    static const char *const colours[] = {"#7f7f7f", "#bcbd22", "#17becf", "#1f77b4", "#d62728", "#2ca02c",
                                          "#9467bd", "#8c564b", "#e377c2", "#ff7f0e"};
    pg_series s[12];
    double *bufs[12] = {0};
    int n = 0;
    int pick[12], np = 0;
    for (int i = 0; i < p->n && np < 3; i++)
        if (p->v[i].c->is_baseline && p->v[i].c->status == DB_SCORED) pick[np++] = i;
    for (int k = 0; k < p->n_rank && k < TOP_CURVES; k++) pick[np++] = p->rank[k];
    for (int k = 0; k < np; k++) {
        const pg_view *v = &p->v[pick[k]];
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v->metrics, "loss_curve");
        int len = cJSON_GetArraySize(c);
        if (len <= 0 || !(bufs[n] = malloc(sizeof(double) * 2 * (size_t)len))) continue;
        double *xs = bufs[n], *ys = bufs[n] + len;
        for (int i = 0; i < len; i++) {
            xs[i] = i + 1;
            double y = cJSON_GetNumberValue(cJSON_GetArrayItem(c, i));
            ys[i] = y >= 0 ? y : NAN;
        }
        s[n] = (pg_series){v->c->name, colours[n % 10], xs, ys, len, 1};
        n++;
    }
    fputs("<h2 id=\"curves\">Loss curves</h2>\n", out);
    if (n) pg_chart(out, &(pg_axes){"Training loss: the best designs against the baselines", "step", "loss", 0}, s, n);
    else fputs("<p>No loss curves stored (candidates trained before curves were kept show none).</p>\n", out);
    for (int i = 0; i < n; i++) free(bufs[i]);
}

/* Pareto: points no other point beats on both loss and cost. */
static void pareto(FILE *out, page *p, int by_flops)
{
    double *x = calloc((size_t)p->n + 1, sizeof *x), *y = calloc((size_t)p->n + 1, sizeof *y),
           *fx = calloc((size_t)p->n + 1, sizeof *fx), *fy = calloc((size_t)p->n + 1, sizeof *fy);
    int m = 0, f = 0;
    for (int i = 0; x && y && i < p->n; i++) {
        const pg_view *v = &p->v[i];
        double cost = by_flops ? v->flops : v->params;
        if (v->c->status != DB_SCORED || v->early_stop || !isfinite(v->val_loss) || !isfinite(cost)) continue;
        x[m] = cost;
        y[m++] = v->val_loss;
    }
    for (int i = 0; fx && fy && i < m; i++) {
        int dominated = 0;
        for (int j = 0; j < m && !dominated; j++)
            dominated = j != i && x[j] <= x[i] && y[j] <= y[i] && (x[j] < x[i] || y[j] < y[i]);
        if (!dominated) fx[f] = x[i], fy[f++] = y[i];
    }
    for (int i = 1; i < f; i++)   /* the front left to right */
        for (int j = i; j > 0 && fx[j] < fx[j - 1]; j--) {
            double t = fx[j]; fx[j] = fx[j - 1]; fx[j - 1] = t;
            t = fy[j]; fy[j] = fy[j - 1]; fy[j - 1] = t;
        }
    pg_series s[2] = {{"designs", "#9aa3b2", x, y, m, 0}, {"Pareto front", "#d62728", fx, fy, f, 1}};
    pg_chart(out, &(pg_axes){by_flops ? "Validation loss against FLOPs per token" : "Validation loss against parameters",
                             by_flops ? "FLOPs per token" : "parameters", "val loss", 0}, s, 2);
    free(x);
    free(y);
    free(fx);
    free(fy);
}

/* The aa_* ops the best designs use, against how often every design uses them. */
static void structure(FILE *out, page *p)
{
    enum { MAXOPS = 96 };
    char names[MAXOPS][32];
    int top[MAXOPS] = {0}, all[MAXOPS] = {0}, n = 0, ntop = p->n_rank < TOP_TABLE ? p->n_rank : TOP_TABLE, nall = 0;
    for (int i = 0; i < p->n; i++) {
        const db_candidate *c = p->v[i].c;
        if (!c->source || c->is_baseline) continue;
        int is_top = 0;
        for (int k = 0; k < ntop; k++) is_top |= p->rank[k] == i;
        nall++;
        int seen[MAXOPS] = {0};
        for (const char *s = strstr(c->source, "aa_"); s; s = strstr(s + 3, "aa_")) {
            if (s > c->source && (isalnum((unsigned char)s[-1]) || s[-1] == '_')) continue;
            size_t len = 3;
            while (isalnum((unsigned char)s[len]) || s[len] == '_') len++;
            if (s[len] != '(' || len >= 32) continue;
            int k = 0;
            while (k < n && (strlen(names[k]) != len || strncmp(names[k], s, len))) k++;
            if (k == n && n < MAXOPS) snprintf(names[n++], 32, "%.*s", (int)len, s);
            if (k < n && !seen[k]) seen[k] = 1, all[k]++, top[k] += is_top;
        }
    }
    fputs("<h2 id=\"structure\">What the best designs share</h2>\n<table><tr><th>DSL op</th>"
          "<th class=\"num\">in the best designs</th><th class=\"num\">in all designs</th></tr>\n", out);
    for (int shown = 0; shown < 15; shown++) {   /* the ops most used by the best designs */
        int b = -1;
        for (int k = 0; k < n; k++)
            if (top[k] >= 0 && (b < 0 || top[k] > top[b] || (top[k] == top[b] && all[k] > all[b]))) b = k;
        if (b < 0 || (top[b] == 0 && all[b] == 0)) break;
        fprintf(out, "<tr><td><code>%s</code></td><td class=\"num\">%d of %d</td><td class=\"num\">%d of %d</td></tr>\n",
                names[b], top[b], ntop, all[b], nall);
        top[b] = -1;
    }
    fputs("</table>\n", out);
}

static void diff_block(FILE *out, const char *diff)
{
    fputs("<pre>", out);
    for (const char *l = diff; *l;) {
        size_t n = strcspn(l, "\n");
        char *line = strndup(l, n);
        const char *cls = l[0] == '+' ? "add" : l[0] == '-' ? "del" : NULL;
        if (cls) fprintf(out, "<span class=\"%s\">", cls);
        pg_escape(out, line ? line : "");
        if (cls) fputs("</span>", out);
        fputc('\n', out);
        free(line);
        l += n + (l[n] == '\n');
    }
    fputs("</pre>\n", out);
}

static void attempts(FILE *out, page *p, const db_candidate *c)
{
    db_attempt *a = NULL;
    int n = 0;
    if (db_attempt_list(p->db, c->id, &a, &n) < 0 || n == 0) return;
    fputs("<p><b>Attempts</b></p><ol>", out);
    for (int i = 0; i < n; i++) {
        fprintf(out, "<li>%s: %s", a[i].stage, a[i].ok ? "ok" : "failed");
        aa_reports reps = {0};
        if (a[i].reports_json && aa_reports_from_json(a[i].reports_json, &reps) > 0) {
            fputs("<pre>", out);
            for (int k = 0; k < reps.n && k < 5; k++) {
                const aa_report *r = &reps.items[k];
                fprintf(out, "%d:%d: ", r->line, r->col);
                pg_escape(out, r->rule);
                fputs(": ", out);
                pg_escape(out, r->message);
                fputc('\n', out);
            }
            if (reps.n > 5) fprintf(out, "... %d more\n", reps.n - 5);
            fputs("</pre>", out);
        }
        aa_reports_free(&reps);
        fputs("</li>", out);
    }
    fputs("</ol>\n", out);
    db_attempt_list_free(a, n);
}

static const db_candidate *find(const page *p, int64_t id)
{
    for (int i = 0; i < p->n; i++)
        if (p->v[i].c->id == id) return p->v[i].c;
    return NULL;
}

static void candidate(FILE *out, page *p, const pg_view *v, int with_source)
{
    const db_candidate *c = v->c;
    fprintf(out, "<details class=\"cand\" id=\"c%lld\" data-status=\"%s\" data-score=\"%g\"><summary>#%lld ",
            (long long)c->id, db_status_name(c->status), isfinite(c->score) ? c->score : -1.0, (long long)c->id);
    pg_escape(out, c->name);
    fprintf(out, " <span class=\"tag %s\">%s</span>", db_status_name(c->status), db_status_name(c->status));
    if (c->is_baseline) fputs(" <span class=\"tag\">baseline</span>", out);
    if (isfinite(c->score)) fprintf(out, " fitness %.4f", c->score);
    if (isfinite(v->val_loss)) fprintf(out, ", val loss %.4f", v->val_loss);
    if (v->early_stop) fputs(", stopped early", out);
    fputs("</summary>\n", out);
    if (c->parent_id) {
        const db_candidate *par = find(p, c->parent_id);
        fputs("<p>parent: ", out);
        if (par) candidate_link(out, par);
        else fprintf(out, "#%lld", (long long)c->parent_id);
        fputs("</p>", out);
    }
    if (c->motivation && *c->motivation) {
        fputs("<p><b>Motivation.</b> ", out);
        pg_escape(out, c->motivation);
        fputs("</p>\n", out);
    }
    if (c->status_reason && *c->status_reason) {
        fputs("<p><b>Status.</b> ", out);
        pg_escape(out, c->status_reason);
        fputs("</p>\n", out);
    }
    if (c->metrics_json) {
        cJSON *m = cJSON_Parse(c->metrics_json);
        cJSON_DeleteItemFromObjectCaseSensitive(m, "loss_curve");
        char *t = m ? cJSON_PrintUnformatted(m) : NULL;
        fputs("<p><b>Metrics.</b> <code>", out);
        pg_escape(out, t ? t : c->metrics_json);
        fputs("</code></p>\n", out);
        free(t);
        cJSON_Delete(m);
    }
    if (c->scores_json) {
        fputs("<p><b>Score components.</b> <code>", out);
        pg_escape(out, c->scores_json);
        fputs("</code></p>\n", out);
    }
    fprintf(out, "<p><b>Cost.</b> %lld prompt + %lld completion tokens, $%.4f; %.1f CPU s, %.1f GPU s.</p>\n",
            (long long)c->costs.prompt_tokens, (long long)c->costs.completion_tokens, c->costs.cost_usd,
            c->costs.cpu_seconds, c->costs.gpu_seconds);
    if (c->analysis && *c->analysis) {
        fputs("<p><b>Analysis.</b></p><pre>", out);
        pg_escape(out, c->analysis);
        fputs("</pre>\n", out);
    }
    if (with_source && c->source) {
        const db_candidate *par = c->parent_id ? find(p, c->parent_id) : NULL;
        char *diff = par && par->source ? os_diff_text(par->source, c->source) : NULL;
        if (diff && *diff) {
            fputs("<p><b>Against its parent.</b></p>", out);
            diff_block(out, diff);
        }
        free(diff);
        fputs("<p><b>Source.</b></p><pre>", out);
        pg_highlight_c(out, c->source);
        fputs("</pre>\n", out);
    } else if (c->source) {
        fprintf(out, "<p>Source: <code>asiarch db show %lld</code> (only the %d best designs carry theirs here).</p>\n",
                (long long)c->id, p->o->max_sources > 0 ? p->o->max_sources : 300);
    }
    attempts(out, p, c);
    fputs("</details>\n", out);
}

static void candidates(FILE *out, page *p)
{
    int max = p->o->max_sources > 0 ? p->o->max_sources : 300;
    char *with = calloc((size_t)p->n + 1, 1);
    for (int k = 0; with && k < p->n_rank && k < max; k++) with[p->rank[k]] = 1;
    fputs("<h2 id=\"candidates\">Candidates</h2>\n<div id=\"filters\">status <select id=\"fstatus\">"
          "<option>all</option>", out);
    for (int s = 0; s < DB_STATUS_COUNT; s++) fprintf(out, "<option>%s</option>", db_status_name((db_status)s));
    fputs("</select> minimum fitness <input id=\"fscore\" type=\"number\" step=\"0.01\" size=\"6\"> "
          "<span id=\"fcount\"></span> <button id=\"fmore\">show more</button></div>\n", out);
    for (int k = 0; k < p->n_rank; k++) candidate(out, p, &p->v[p->rank[k]], with && with[p->rank[k]]);
    for (int i = 0; i < p->n; i++) {   /* the rest: baselines and the unscored, in order */
        const db_candidate *c = p->v[i].c;
        if (c->status == DB_SCORED && !c->is_baseline && isfinite(c->score)) continue;
        candidate(out, p, &p->v[i], c->is_baseline);
    }
    free(with);
}

int pg_write_report(aa_db *db, const pg_opts *o, FILE *out, char *err, size_t errlen)
{
    page p = {.db = db, .o = o};
    if (load(&p, err, errlen) < 0) {
        unload(&p);
        return -1;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>asiarch report: ", out);
    pg_escape(out, o->db_label ? o->db_label : "");
    fprintf(out, "</title><style>%s</style></head>\n<body><main>\n<h1>asiarch discovery report: ", CSS);
    pg_escape(out, o->db_label ? o->db_label : "");
    if (o->run_id) fprintf(out, ", run %lld", (long long)o->run_id);
    fputs("</h1>\n<p><a href=\"#summary\">summary</a> &middot; <a href=\"#discoveries\">discoveries</a> &middot; "
          "<a href=\"#lineage\">lineage</a> &middot; <a href=\"#curves\">loss curves</a> &middot; <a href=\"#pareto\">"
          "Pareto</a> &middot; <a href=\"#structure\">structure</a> &middot; <a href=\"#candidates\">candidates</a></p>\n",
          out);
    summary(out, &p);
    discoveries(out, &p);
    fputs("<h2 id=\"lineage\">Lineage</h2>\n", out);
    if (o->lineage_svg) {
        fputs("<div class=\"lineage\">", out);
        const char *svg = strstr(o->lineage_svg, "<svg");   /* no XML prologue inside HTML */
        fputs(svg ? svg : "", out);
        fputs("</div>\n", out);
    } else {
        fputs("<p>Not drawn: Graphviz's <code>dot</code> is not installed.</p>\n", out);
    }
    curves(out, &p);
    fputs("<h2 id=\"pareto\">Pareto fronts</h2>\n", out);
    pareto(out, &p, 0);
    pareto(out, &p, 1);
    structure(out, &p);
    candidates(out, &p);
    fprintf(out, "</main><script>%s</script></body></html>\n", JS);
    unload(&p);
    return ferror(out) ? (snprintf(err, errlen, "writing the page failed"), -1) : 0;
}
