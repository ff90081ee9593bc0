/*
 * prompt.c — the prompt templates shipped in the binary (prompts/NAME.md,
 * embedded at build time by llm/embed_prompts.cmake) and their rendering.
 *
 * A placeholder is {{name}} with name = [A-Za-z_][A-Za-z0-9_]*, nothing
 * else; any other "{{" is text. Rendering is strict in both directions: a
 * placeholder without a value and a value without a placeholder are both
 * errors, because either one means the orchestrator and the template
 * disagree, and a prompt with a silent gap wastes a paid call.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int llm_prompt_count(void) { return llm_n_templates; }

const char *llm_prompt_name(int i)
{
    return i >= 0 && i < llm_n_templates ? llm_templates[i].name : NULL;
}

const char *llm_prompt_text(const char *name)
{
    for (int i = 0; name && i < llm_n_templates; i++)
        if (!strcmp(llm_templates[i].name, name)) return llm_templates[i].text;
    return NULL;
}

static int is_name_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static int is_name_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* If text[0..] starts a placeholder, its name's length (and *end just past
 * the closing braces); else 0. */
static size_t placeholder_at(const char *text, const char **end)
{
    if (text[0] != '{' || text[1] != '{' || !is_name_start(text[2])) return 0;
    size_t n = 1;
    while (is_name_char(text[2 + n])) n++;
    if (text[2 + n] != '}' || text[3 + n] != '}') return 0;
    *end = text + 4 + n;
    return n;
}

static int find_var(const llm_var *vars, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(vars[i].name) == len && !strncmp(vars[i].name, name, len)) return i;
    return -1;
}

static int line_of(const char *text, const char *at)
{
    int line = 1;
    for (const char *p = text; p < at; p++) line += *p == '\n';
    return line;
}

/* Every value must have a well-formed, unique name and a value. */
static int check_vars(const char *label, const llm_var *vars, int n, llm_error *err)
{
    for (int i = 0; i < n; i++) {
        const char *name = vars[i].name ? vars[i].name : "";
        const char *end;
        char braced[160];
        snprintf(braced, sizeof braced, "{{%.150s}}", name);
        if (!placeholder_at(braced, &end) || *end)
            return llm_fail(err, LLM_ERR_TEMPLATE, "template %s: '%.100s' is not a placeholder name ([A-Za-z_][A-Za-z0-9_]*)",
                            label, name);
        if (find_var(vars, i, name, strlen(name)) >= 0)
            return llm_fail(err, LLM_ERR_TEMPLATE, "template %s: a value for {{%s}} is given twice", label, name);
        if (!vars[i].value)
            return llm_fail(err, LLM_ERR_TEMPLATE, "template %s: the value for {{%s}} is NULL", label, name);
    }
    return 0;
}

int llm_template_render(const char *text, const char *label, const llm_var *vars, int n, char **out,
                        llm_error *err)
{
    *out = NULL;
    llm_error_clear(err);
    if (!label) label = "(text)";
    if (!text) return llm_fail(err, LLM_ERR_TEMPLATE, "template %s: no text", label);
    if (n < 0 || (n > 0 && !vars)) return llm_fail(err, LLM_ERR_TEMPLATE, "template %s: bad variable list", label);
    if (check_vars(label, vars, n, err)) return -1;

    char *used = calloc((size_t)n + 1, 1);
    llm_buf b = {0};
    if (!used) return llm_fail(err, LLM_ERR_NOMEM, "template %s: out of memory", label);
    const char *p = text, *lit = text;
    while ((p = strstr(p, "{{")) != NULL) {
        const char *end;
        size_t len = placeholder_at(p, &end);
        if (!len) { p++; continue; }
        int v = find_var(vars, n, p + 2, len);
        if (v < 0) {
            int line = line_of(text, p);
            free(used);
            llm_buf_free(&b);
            return llm_fail(err, LLM_ERR_TEMPLATE, "template %s: no value for placeholder {{%.*s}} (line %d)", label,
                            (int)len, p + 2, line);
        }
        used[v] = 1;
        llm_buf_add(&b, lit, (size_t)(p - lit));
        llm_buf_str(&b, vars[v].value);
        p = lit = end;
    }
    llm_buf_str(&b, lit);
    for (int i = 0; i < n; i++) {
        if (used[i]) continue;
        free(used);
        llm_buf_free(&b);
        return llm_fail(err, LLM_ERR_TEMPLATE, "template %s: a value is given for {{%s}}, which the template does not use",
                        label, vars[i].name);
    }
    free(used);
    if (b.oom) {
        llm_buf_free(&b);
        return llm_fail(err, LLM_ERR_NOMEM, "template %s: out of memory", label);
    }
    *out = b.p;
    return 0;
}

int llm_prompt_render(const char *template_name, const llm_var *vars, int n, char **out, llm_error *err)
{
    const char *text = llm_prompt_text(template_name);
    if (!text) {
        *out = NULL;
        char known[256] = "";
        for (int i = 0; i < llm_n_templates; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", llm_templates[i].name);
        return llm_fail(err, LLM_ERR_TEMPLATE, "no prompt template '%.100s' (known: %s)",
                        template_name ? template_name : "(null)", known);
    }
    return llm_template_render(text, template_name, vars, n, out, err);
}
