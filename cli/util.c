/* util.c — small helpers shared by the subcommands. */
#include <cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "asiarch %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_is_tty(void) { return isatty(STDERR_FILENO); }

int cli_print_json(const char *cmd, cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) {
        cli_error(cmd, "out of memory while building the JSON output");
        return EXIT_FAILED;
    }
    puts(text);
    free(text);
    return EXIT_OK;
}
