/*
 * test_answer.c — the answer parser (llm/answer.c) and the prompt templates
 * (llm/prompt.c), without a network.
 *
 * tests/answers/ holds answers in the shapes models really produce (also the
 * fuzzer's seeds); each file's name says which parser reads it and whether
 * it must be accepted: code-ok-*, code-bad-*, analyst-*, judge-*, novelty-*.
 * Every accepted code answer must give exactly tests/answers/expected_file.c.
 */
#include <cJSON.h>
#include <dirent.h>
#include <stdlib.h>

#include "llm.h"
#include "test.h"

#define ANSWERS ASIARCH_SOURCE_DIR "/tests/answers"

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = 0;
    fclose(f);
    return buf;
}

/* ---- the corpus ------------------------------------------------------------------ */

static int parse_as(const char *kind, const char *answer, llm_error *err, char **code)
{
    *code = NULL;
    if (!strcmp(kind, "code")) return llm_extract_code(answer, code, err);
    if (!strcmp(kind, "analyst")) {
        llm_analysis a;
        int rc = llm_parse_analysis(answer, &a, err);
        if (!rc) llm_analysis_free(&a);
        return rc;
    }
    if (!strcmp(kind, "judge")) {
        llm_judgement j;
        int rc = llm_parse_judgement(answer, &j, err);
        if (!rc) llm_judgement_free(&j);
        return rc;
    }
    if (!strcmp(kind, "novelty")) {
        llm_novelty v;
        int rc = llm_parse_novelty(answer, &v, err);
        if (!rc) llm_novelty_free(&v);
        return rc;
    }
    return -2;
}

TEST(answer_corpus)
{
    char *expected = read_file(ANSWERS "/expected_file.c");
    CHECK(expected != NULL);
    DIR *d = opendir(ANSWERS);
    CHECK(d != NULL);
    int seen = 0;
    struct dirent *e;
    while (d && expected && (e = readdir(d)) != NULL) {
        char kind[32], verdict[8];
        if (sscanf(e->d_name, "%31[a-z]-%7[a-z]-", kind, verdict) != 2 || !strstr(e->d_name, ".md")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", ANSWERS, e->d_name);
        char *answer = read_file(path), *code;
        llm_error err;
        int rc = parse_as(kind, answer, &err, &code);
        CHECK_MSG(rc != -2, "%s: unknown kind '%s'", e->d_name, kind);
        if (!strcmp(verdict, "ok")) {
            CHECK_MSG(rc == 0, "%s: %s", e->d_name, err.message);
            if (code && !strstr(e->d_name, "four-backticks"))
                CHECK_MSG(!strcmp(code, expected), "%s: extracted a different file:\n%s", e->d_name, code);
        } else {
            CHECK_MSG(rc == -1 && err.cls == LLM_ERR_ANSWER && err.message[0], "%s: accepted", e->d_name);
        }
        free(code);
        free(answer);
        seen++;
    }
    if (d) closedir(d);
    CHECK_MSG(seen >= 25, "only %d answers in %s", seen, ANSWERS);
    free(expected);
}

/* ---- code ------------------------------------------------------------------------ */

static char *code_of(const char *answer, llm_error *err)
{
    char *code = NULL;
    int rc = llm_extract_code(answer, &code, err);
    CHECK((rc == 0) == (code != NULL));
    return code;
}

TEST(code_block_choice)
{
    llm_error err;
    /* No block holds mixer(: the longest C block. */
    char *c = code_of("```c\nint a;\n```\ntext\n```c\nint bb; int cc;\n```\n", &err);
    CHECK(c && !strcmp(c, "int bb; int cc;\n"));
    free(c);
    /* The block with mixer( wins over a longer one without. */
    c = code_of("```c\naa_t mixer(aa_layer *l, aa_t x) { return x; }\n```\n```\n/* a long comment about nothing at all "
                "that is longer */\n```\n", &err);
    CHECK(c && strstr(c, "mixer(") == c + 5);
    free(c);
    /* "mixer (" with a blank counts; "remixer(" does not. */
    c = code_of("```c\nremixer(1); remixer(2); remixer(3);\n```\n```c\naa_t mixer (aa_layer *l, aa_t x);\n```\n", &err);
    CHECK(c && !strcmp(c, "aa_t mixer (aa_layer *l, aa_t x);\n"));
    free(c);
    /* A stray empty fence after the answer does not spoil it. */
    c = code_of("```c\naa_t mixer(aa_layer *l, aa_t x);\n```\nDone.\n```\n", &err);
    CHECK(c && !strcmp(c, "aa_t mixer(aa_layer *l, aa_t x);\n"));
    free(c);
    /* Inline ```code``` on one line is not a fence. */
    c = code_of("Use ```aa_l2norm``` on keys.\n```c\nint k;\n```", &err);
    CHECK(c && !strcmp(c, "int k;\n"));
    free(c);
}

TEST(code_errors_say_what_was_expected_and_found)
{
    llm_error err;
    char *c = code_of("Here:\n\n```c\n#include <asiarch.h>\naa_t mixer(aa_layer *l, aa_t x)\n{\n", &err);
    CHECK(!c && err.cls == LLM_ERR_ANSWER);
    CHECK_STR_CONTAINS(err.message, "opened at line 3 is never closed");
    c = code_of("I cannot do that.", &err);
    CHECK(!c);
    CHECK_STR_CONTAINS(err.message, "expected a ```c fenced block");
    CHECK_STR_CONTAINS(err.message, "\"I cannot do that.\"");
    c = code_of("```python\nprint(1)\n```\n```json\n{}\n```", &err);
    CHECK(!c);
    CHECK_STR_CONTAINS(err.message, "found 2 fenced blocks (python, json)");
    c = code_of("```c\n  \n```", &err);
    CHECK(!c);
    CHECK_STR_CONTAINS(err.message, "block at line 1 is empty");
    c = code_of("   \n\t", &err);
    CHECK(!c);
    CHECK_STR_CONTAINS(err.message, "the answer is empty");
    c = code_of(NULL, &err);
    CHECK(!c && err.cls == LLM_ERR_ANSWER);

    /* At most 80 characters of the answer are quoted, control bytes escaped. */
    char long_answer[600];
    memset(long_answer, 'x', sizeof long_answer - 1);
    long_answer[sizeof long_answer - 1] = 0;
    long_answer[3] = '\x01';
    c = code_of(long_answer, &err);
    CHECK(!c);
    CHECK_STR_CONTAINS(err.message, "\"xxx\\x01xxxx");
    CHECK_STR_CONTAINS(err.message, "xxx\"...");
    CHECK(strlen(err.message) < 300);
}

TEST(unfenced_file_is_trimmed_of_prose)
{
    llm_error err;
    char *c = code_of("# New design\n\nSure, here it is:\n/* header */\n#include <asiarch.h>\nAA_NAME(\"a\");\n"
                      "aa_t mixer(aa_layer *l, aa_t x)\n{\n    return x;\n}\nThat is all.\n", &err);
    CHECK(c && !strcmp(c, "/* header */\n#include <asiarch.h>\nAA_NAME(\"a\");\naa_t mixer(aa_layer *l, aa_t x)\n{\n"
                          "    return x;\n}\n"));
    free(c);
    /* Fences that hold something else do not hide an unfenced file. */
    c = code_of("```json\n{\"name\": \"a\"}\n```\n#include <asiarch.h>\naa_t mixer(aa_layer *l, aa_t x) { return x; }\n", &err);
    CHECK(c && !strcmp(c, "#include <asiarch.h>\naa_t mixer(aa_layer *l, aa_t x) { return x; }\n"));
    free(c);
    /* Prose that mentions the include but has no mixer is not a file. */
    c = code_of("You must #include <asiarch.h> first.", &err);
    CHECK(!c && err.cls == LLM_ERR_ANSWER);
}

/* ---- JSON ---------------------------------------------------------------------- */

TEST(json_extraction)
{
    llm_error err;
    cJSON *o;
    CHECK(llm_extract_json("Scores: {\"a\": \"has } and { and \\\" inside\", \"b\": {\"c\": [1, {\"d\": 2}]}} Thanks!",
                           &o, &err) == 0);
    CHECK(o && !strcmp(cJSON_GetObjectItem(o, "a")->valuestring, "has } and { and \" inside"));
    CHECK(o && cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "b"), "c"), 1), "d")->valueint == 2);
    cJSON_Delete(o);
    /* Braces in prose before the object are skipped. */
    CHECK(llm_extract_json("With {x} and {y, z} in mind: {\"ok\": true}", &o, &err) == 0);
    CHECK(o && cJSON_IsTrue(cJSON_GetObjectItem(o, "ok")));
    cJSON_Delete(o);
    /* A ```json block wins over an object in the prose. */
    CHECK(llm_extract_json("Not this: {\"which\": 1}\n```json\n{\"which\": 2}\n```\n", &o, &err) == 0);
    CHECK(o && cJSON_GetObjectItem(o, "which")->valueint == 2);
    cJSON_Delete(o);
    /* An unlabelled fence holding an object, CRLF. */
    CHECK(llm_extract_json("```\r\n{\"crlf\": 1}\r\n```\r\n", &o, &err) == 0);
    cJSON_Delete(o);
    /* A list is not an object; nothing else is there. */
    CHECK(llm_extract_json("[1, 2, 3]", &o, &err) == -1 && !o);
    CHECK_STR_CONTAINS(err.message, "expected a JSON object {...}; found none");
    /* A broken ```json block is named, with where it broke. */
    CHECK(llm_extract_json("```json\n{\"a\": 1,, \"b\": 2}\n```", &o, &err) == -1);
    CHECK_STR_CONTAINS(err.message, "the ```json block at line 1 is not a valid JSON object");
    CHECK_STR_CONTAINS(err.message, "error near \" \\\"b\\\": 2}");
    /* ... unless a valid object follows. */
    CHECK(llm_extract_json("```json\n{bad}\n```\nCorrected: {\"a\": 1}", &o, &err) == 0);
    cJSON_Delete(o);
    CHECK(llm_extract_json("{\"never\": \"closed\"", &o, &err) == -1);
    CHECK(llm_extract_json("", &o, &err) == -1);
    CHECK_STR_CONTAINS(err.message, "empty");
}

TEST(judge_scores)
{
    llm_error err;
    llm_judgement j;
    CHECK(llm_parse_judgement("```json\n{\"performance\": 7, \"innovation\": \"4\", \"complexity\": 10.0, "
                              "\"rationale\": \"Loss 1% below DeltaNet.\"}\n```", &j, &err) == 0);
    CHECK(j.performance == 7 && j.innovation == 4 && j.complexity == 10);
    CHECK(!strcmp(j.rationale, "Loss 1% below DeltaNet."));
    llm_judgement_free(&j);
    /* Keys in another case, no rationale. */
    CHECK(llm_parse_judgement("{\"Performance\": 1, \"Innovation\": 2, \"Complexity\": 3}", &j, &err) == 0);
    CHECK(j.performance == 1 && j.complexity == 3 && !strcmp(j.rationale, ""));
    llm_judgement_free(&j);

    const struct { const char *answer, *message; } bad[] = {
        {"{\"performance\": 11, \"innovation\": 5, \"complexity\": 5}", "\"performance\" must be an integer from 1 to 10, found 11"},
        {"{\"performance\": 0, \"innovation\": 5, \"complexity\": 5}", "found 0"},
        {"{\"performance\": 7.5, \"innovation\": 5, \"complexity\": 5}", "found 7.5"},
        {"{\"performance\": 7, \"innovation\": \"seven\", \"complexity\": 5}", "\"innovation\" must be an integer from 1 to 10, found \"seven\""},
        {"{\"performance\": 7, \"innovation\": \"7/10\", \"complexity\": 5}", "found \"7/10\""},
        {"{\"performance\": 7, \"innovation\": 5, \"complexity\": true}", "found a boolean"},
        {"{\"performance\": 7, \"innovation\": 5, \"complexity\": -3}", "found -3"},
        {"{\"performance\": 7, \"innovation\": 5}", "missing \"complexity\""},
        {"{\"performance\": 7, \"innovation\": 5, \"complexity\": 5, \"rationale\": 3}", "\"rationale\" must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(llm_parse_judgement(bad[i].answer, &j, &err) == -1, "%s", bad[i].answer);
        CHECK(err.cls == LLM_ERR_ANSWER && j.rationale == NULL);
        CHECK_STR_CONTAINS(err.message, bad[i].message);
    }
    CHECK(llm_parse_judgement("{\"performance\": 7, \"innovation\": 5}", &j, &err) == -1);
    CHECK_STR_CONTAINS(err.message, "found keys \"performance\", \"innovation\"");
}

TEST(analyst_fields)
{
    llm_error err;
    llm_analysis a;
    CHECK(llm_parse_analysis("{\"summary\": \"Better.\", \"strengths\": [\"lower loss\", \"same cost\"], "
                             "\"weaknesses\": [], \"next_idea\": \"Route.\"}", &a, &err) == 0);
    CHECK(!strcmp(a.summary, "Better.") && !strcmp(a.strengths, "lower loss\nsame cost"));
    CHECK(!strcmp(a.weaknesses, "") && !strcmp(a.next_idea, "Route."));
    llm_analysis_free(&a);
    CHECK(llm_parse_analysis("{\"summary\": \"x\", \"strengths\": \"y\", \"weaknesses\": \"z\"}", &a, &err) == -1);
    CHECK_STR_CONTAINS(err.message, "analyst answer: missing \"next_idea\"");
    CHECK(a.summary == NULL);
    CHECK(llm_parse_analysis("{\"summary\": \" \", \"strengths\": \"y\", \"weaknesses\": \"z\", \"next_idea\": \"w\"}", &a,
                             &err) == -1);
    CHECK_STR_CONTAINS(err.message, "\"summary\" is empty");
    CHECK(llm_parse_analysis("{\"summary\": \"s\", \"strengths\": [1], \"weaknesses\": \"z\", \"next_idea\": \"w\"}", &a,
                             &err) == -1);
    CHECK_STR_CONTAINS(err.message, "not a string");
}

TEST(novelty_verdicts)
{
    llm_error err;
    llm_novelty v;
    CHECK(llm_parse_novelty("{\"novel\": false, \"closest\": \"gla\", \"reason\": \"Same gate.\"}", &v, &err) == 0);
    CHECK(v.novel == 0 && !strcmp(v.closest, "gla") && !strcmp(v.reason, "Same gate."));
    llm_novelty_free(&v);
    CHECK(llm_parse_novelty("{\"novel\": \"True\", \"closest\": null}", &v, &err) == 0);
    CHECK(v.novel == 1 && !strcmp(v.closest, "") && !strcmp(v.reason, ""));
    llm_novelty_free(&v);
    CHECK(llm_parse_novelty("{\"novel\": \"maybe\"}", &v, &err) == -1);
    CHECK_STR_CONTAINS(err.message, "\"novel\" must be true or false, found \"maybe\"");
    CHECK(llm_parse_novelty("{\"novel\": 1}", &v, &err) == -1);
    CHECK(llm_parse_novelty("{\"closest\": \"gla\"}", &v, &err) == -1);
    CHECK_STR_CONTAINS(err.message, "missing \"novel\"");
}

/* ---- templates -------------------------------------------------------------------- */

/* The placeholders of each shipped template: the contract with the orchestrator. */
static const struct {
    const char *name;
    const char *vars[16];
    const char *answer_format[4];   /* what the template must tell the model to answer */
} templates[] = {
    {"researcher",
     {"parent_name", "parent_selection", "parent_motivation", "parent_results", "parent_source", "scale", "notice", "siblings", "tried",
      "baselines", "references", "analysis", "cognition", "dsl_reference"},
     {"```c", "AA_NAME", "AA_MOTIVATION", "aa_t mixer(aa_layer *l, aa_t x)"}},
    {"repair", {"stage", "attempt", "max_attempts", "report", "source", "dsl_reference"},
     {"```c", "whole fixed file", "file:line:col: rule: message"}},
    {"analyst", {"name", "motivation", "results", "source", "parent", "grandparent", "siblings", "baselines", "scale"},
     {"\"summary\"", "\"strengths\"", "\"weaknesses\"", "\"next_idea\""}},
    {"judge", {"name", "motivation", "results", "source", "baselines", "parent", "scale", "weight", "noise"},
     {"\"performance\"", "\"innovation\"", "\"complexity\"", "\"rationale\""}},
    {"novelty", {"name", "motivation", "source", "similar"}, {"\"novel\"", "\"closest\"", "\"reason\""}},
};

TEST(shipped_templates_render_with_their_placeholders)
{
    CHECK(llm_prompt_count() == 5);
    for (size_t t = 0; t < sizeof templates / sizeof templates[0]; t++) {
        CHECK(!strcmp(llm_prompt_name((int)t), templates[t].name));
        llm_var vars[16];
        char values[16][64];
        int n = 0;
        for (; n < 16 && templates[t].vars[n]; n++) {
            snprintf(values[n], sizeof values[n], "<value of %s>", templates[t].vars[n]);
            vars[n] = (llm_var){templates[t].vars[n], values[n]};
        }
        char *out;
        llm_error err;
        CHECK_MSG(llm_prompt_render(templates[t].name, vars, n, &out, &err) == 0, "%s", err.message);
        for (int i = 0; out && i < n; i++) CHECK_STR_CONTAINS(out, values[i]);
        for (int i = 0; out && i < 4 && templates[t].answer_format[i]; i++)
            CHECK_STR_CONTAINS(out, templates[t].answer_format[i]);
        CHECK(out && !strstr(out, "{{"));
        free(out);
        /* Leaving any one out names it. */
        CHECK(llm_prompt_render(templates[t].name, vars + 1, n - 1, &out, &err) == -1 && !out);
        CHECK(err.cls == LLM_ERR_TEMPLATE);
        char expect[128];
        snprintf(expect, sizeof expect, "no value for placeholder {{%s}}", templates[t].vars[0]);
        CHECK_STR_CONTAINS(err.message, expect);
    }
    CHECK(llm_prompt_name(5) == NULL && llm_prompt_text("nope") == NULL);
}

TEST(template_rendering_is_strict_both_ways)
{
    char *out;
    llm_error err;
    llm_var v[3] = {{"who", "world"}, {"what", "{{who}} stays as is"}, {"typo", "x"}};
    CHECK(llm_template_render("Hello {{who}}: {{what}}.", "t", v, 2, &out, &err) == 0);
    CHECK(out && !strcmp(out, "Hello world: {{who}} stays as is."));
    free(out);
    /* A value nobody uses is an error that names it. */
    CHECK(llm_template_render("Hello {{who}}: {{what}}.", "t", v, 3, &out, &err) == -1 && !out);
    CHECK_STR_CONTAINS(err.message, "template t: a value is given for {{typo}}, which the template does not use");
    /* A placeholder without a value, with its line. */
    CHECK(llm_template_render("line 1\nline 2 {{who}} {{where}}", "t", v, 1, &out, &err) == -1);
    CHECK_STR_CONTAINS(err.message, "no value for placeholder {{where}} (line 2)");
    /* Not placeholders: left as they are. */
    CHECK(llm_template_render("{{ who }} {{}} {{1x}} {{who-x}} {x} {{{who}}}", "t", v, 1, &out, &err) == 0);
    CHECK(out && !strcmp(out, "{{ who }} {{}} {{1x}} {{who-x}} {x} {world}"));
    free(out);
    llm_var dup[2] = {{"who", "a"}, {"who", "b"}}, null_value = {"who", NULL}, bad_name = {"two words", "x"};
    CHECK(llm_template_render("{{who}}", "t", dup, 2, &out, &err) == -1);
    CHECK_STR_CONTAINS(err.message, "given twice");
    CHECK(llm_template_render("{{who}}", "t", &null_value, 1, &out, &err) == -1);
    CHECK_STR_CONTAINS(err.message, "is NULL");
    CHECK(llm_template_render("{{who}}", "t", &bad_name, 1, &out, &err) == -1);
    CHECK_STR_CONTAINS(err.message, "'two words' is not a placeholder name");
    CHECK(llm_template_render("", "t", NULL, 0, &out, &err) == 0 && out && !*out);
    free(out);
    CHECK(llm_prompt_render("reseacher", NULL, 0, &out, &err) == -1);
    CHECK_STR_CONTAINS(err.message, "no prompt template 'reseacher' (known: researcher, repair, analyst, judge, novelty)");
}

int main(void)
{
    RUN(answer_corpus);
    RUN(code_block_choice);
    RUN(code_errors_say_what_was_expected_and_found);
    RUN(unfenced_file_is_trimmed_of_prose);
    RUN(json_extraction);
    RUN(judge_scores);
    RUN(analyst_fields);
    RUN(novelty_verdicts);
    RUN(shipped_templates_render_with_their_placeholders);
    RUN(template_rendering_is_strict_both_ways);
    return test_summary();
}
