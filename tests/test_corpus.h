/*
 * test_corpus.h — a throw-away copy of the default training corpus (the KJV
 * Bible, bytes) for tests that train: one temporary directory per test run.
 *
 *   static char dir[] = "/tmp/asiarch-test-NAME-XXXXXX";
 *   char train[300], val[300];
 *   if (test_corpus_prepare(dir, train, sizeof train, val, sizeof val) < 0) return 1;
 *   ...
 *   test_corpus_remove(dir);
 */
#ifndef ASIARCH_TEST_CORPUS_H
#define ASIARCH_TEST_CORPUS_H

#include <stdio.h>
#include <stdlib.h>

#include "data.h"

/* Make dir_template (ending in XXXXXX) a fresh directory holding train.bin
 * and val.bin; their paths go to train and val. 0, or -1 with a message. */
static int test_corpus_prepare(char *dir_template, char *train, size_t tlen, char *val, size_t vlen)
{
    char err[512] = "";
    dt_prepare_info info;
    if (!mkdtemp(dir_template) || dt_prepare_bytes(NULL, dir_template, 0.05, &info, err, sizeof err) < 0) {
        fprintf(stderr, "cannot prepare the corpus in %s: %s\n", dir_template, err);
        return -1;
    }
    snprintf(train, tlen, "%s/train.bin", dir_template);
    snprintf(val, vlen, "%s/val.bin", dir_template);
    return 0;
}

/* Remove the directory and whatever the test left in it. */
static void test_corpus_remove(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", dir);
}

#endif /* ASIARCH_TEST_CORPUS_H */
