/*
 * mock_llm.h — start and stop tests/mock_llm/server.py (a scripted
 * OpenAI-compatible server on loopback) from a C test, and read what it was
 * sent.
 *
 *   mock_llm m;
 *   if (mock_llm_start(&m, dir, "[{\"content\": \"hello\"}]") != 0) ...;
 *   ... point a client at m.url ...
 *   cJSON *log = mock_llm_requests(&m);   // one object per request received
 *   mock_llm_stop(&m);
 *
 * The server's stdin is a pipe this process holds open, and it is started
 * with --exit-on-stdin-eof: if the test dies, the server goes too.
 * Needs ASIARCH_SOURCE_DIR (set for every test by tests/CMakeLists.txt).
 */
#ifndef ASIARCH_MOCK_LLM_H
#define ASIARCH_MOCK_LLM_H

#include <cJSON.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct mock_llm {
    pid_t pid;
    int port;
    int stdin_fd;            /* our end of the server's stdin */
    char url[64];            /* http://127.0.0.1:PORT (no /v1: the client adds it) */
    char script_path[512], log_path[512];
} mock_llm;

static int mock_llm_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Read "PORT <n>\n" from fd within timeout_ms; the port or -1. */
static int mock_llm_read_port(int fd, int timeout_ms)
{
    char line[64];
    size_t n = 0;
    while (n + 1 < sizeof line) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) return -1;
        ssize_t k = read(fd, line + n, 1);
        if (k <= 0) return -1;
        if (line[n] == '\n') break;
        n++;
    }
    line[n] = 0;
    int port;
    return sscanf(line, "PORT %d", &port) == 1 ? port : -1;
}

/* Write the script (a JSON list of steps, see server.py) to dir/mock-N.json
 * and start a server on it; requests are logged to dir/mock-N.jsonl.
 * Returns 0, or -1 with a message on stderr. */
static int mock_llm_start(mock_llm *m, const char *dir, const char *script_json)
{
    static int serial;
    memset(m, 0, sizeof *m);
    m->pid = -1;
    serial++;
    snprintf(m->script_path, sizeof m->script_path, "%s/mock-%d.json", dir, serial);
    snprintf(m->log_path, sizeof m->log_path, "%s/mock-%d.jsonl", dir, serial);
    if (mock_llm_write_file(m->script_path, script_json) != 0) {
        fprintf(stderr, "mock_llm: cannot write %s\n", m->script_path);
        return -1;
    }
    unlink(m->log_path);
    int out[2], in[2];
    if (pipe2(out, O_CLOEXEC) != 0) return -1;
    if (pipe2(in, O_CLOEXEC) != 0) { close(out[0]); close(out[1]); return -1; }
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        const char *server = ASIARCH_SOURCE_DIR "/tests/mock_llm/server.py";
        execlp("python3", "python3", server, "--script", m->script_path, "--log", m->log_path,
               "--exit-on-stdin-eof", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    close(in[0]);
    m->pid = pid;
    m->stdin_fd = in[1];
    m->port = mock_llm_read_port(out[0], 10000);
    close(out[0]);
    if (m->port <= 0) {
        fprintf(stderr, "mock_llm: the server did not start (python3 %s)\n", ASIARCH_SOURCE_DIR "/tests/mock_llm/server.py");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(m->stdin_fd);
        m->pid = -1;
        return -1;
    }
    snprintf(m->url, sizeof m->url, "http://127.0.0.1:%d", m->port);
    return 0;
}

/* SIGTERM, then SIGKILL if it has not exited within 5 s. Returns the
 * server's exit status (0 = clean), or -1 when it had to be killed. */
static int mock_llm_stop(mock_llm *m)
{
    if (m->pid <= 0) return -1;
    kill(m->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 500; i++) {
        if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
            close(m->stdin_fd);
            m->pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        struct timespec t = {0, 10 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    kill(m->pid, SIGKILL);
    waitpid(m->pid, NULL, 0);
    close(m->stdin_fd);
    m->pid = -1;
    return -1;
}

/* The requests received so far: a cJSON array of {"n", "method", "path",
 * "headers", "body", "step"} (empty when none). */
static cJSON *mock_llm_requests(const mock_llm *m)
{
    cJSON *all = cJSON_CreateArray();
    FILE *f = fopen(m->log_path, "r");
    if (!f) return all;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *entry = cJSON_Parse(line);
        if (entry) cJSON_AddItemToArray(all, entry);
    }
    free(line);
    fclose(f);
    return all;
}

/* The value of a request header (case-insensitive name), or NULL. */
static const char *mock_llm_header(const cJSON *request, const char *name)
{
    const cJSON *h = cJSON_GetObjectItem(request, "headers");   /* case-insensitive lookup */
    const cJSON *v = cJSON_GetObjectItem(h, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

#endif /* ASIARCH_MOCK_LLM_H */
