/* test_report.c — the common failure report: text with caret, JSON, snippets. */
#include <cJSON.h>
#include <stdlib.h>

#include "report.h"
#include "test.h"

static const char *source = "#include <asiarch.h>\n\naa_t mixer(aa_layer *l, aa_t x)\n{\n    float *p = 0;\n}\n";

TEST(text_has_location_rule_snippet_and_caret)
{
    aa_reports list = {0};
    aa_report *r = aa_report_add(&list, "check", "cand.c", 5, 12, "dsl/pointer", "pointer type '%s' is not allowed",
                                 "float *");
    CHECK(r != NULL);
    aa_report_snippet(r, source, strlen(source));
    CHECK(!strcmp(r->snippet, "    float *p = 0;"));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    aa_report_print(r, f);
    fclose(f);
    CHECK(!strcmp(buf, "cand.c:5:12: dsl/pointer: pointer type 'float *' is not allowed\n"
                       "        float *p = 0;\n"
                       "               ^\n"));
    free(buf);
    aa_reports_free(&list);
}

TEST(json_array_round_trips)
{
    aa_reports list = {0};
    for (int i = 0; i < 20; i++)   /* grows past the initial capacity */
        aa_report_add(&list, "link", "c.c", i + 1, 0, "link/undefined-symbol", "symbol %d \"quoted\"", i);
    char *s = aa_reports_json(&list);
    cJSON *arr = cJSON_Parse(s);
    CHECK(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 20);
    cJSON *last = cJSON_GetArrayItem(arr, 19);
    CHECK(!strcmp(cJSON_GetObjectItem(last, "message")->valuestring, "symbol 19 \"quoted\""));
    CHECK(cJSON_GetObjectItem(last, "line")->valueint == 20);
    CHECK(!strcmp(cJSON_GetObjectItem(last, "stage")->valuestring, "link"));
    cJSON_Delete(arr);
    free(s);
    aa_reports_free(&list);
}

TEST(snippet_edge_cases)
{
    aa_report r = {.line = 99};
    aa_report_snippet(&r, source, strlen(source));
    CHECK(r.snippet[0] == 0);   /* past the end: empty, no crash */
    r.line = 1;
    aa_report_snippet(&r, "a\tb\x01" "c", 5);
    CHECK(!strcmp(r.snippet, "a\tb c"));   /* control characters blanked */
}

int main(void)
{
    RUN(text_has_location_rule_snippet_and_caret);
    RUN(json_array_round_trips);
    RUN(snippet_edge_cases);
    return test_summary();
}
