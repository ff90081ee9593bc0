/*
 * proto_internal.h — private to proto/: the device half of a run.
 *
 * exec.c keeps every buffer's host copy; for a CUDA program, device.c
 * mirrors them on the GPU, launches the kernel and brings outputs back.
 * For a C program these do nothing.
 */
#ifndef ASIARCH_PROTO_INTERNAL_H
#define ASIARCH_PROTO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* A host buffer: its own mapping, between PROT_NONE guards when checked. */
typedef struct kbuf {
    unsigned char *map;     /* the whole mapping (guards included) */
    size_t map_len, span;   /* span: the accessible pages */
    void *data;
    size_t bytes;
} kbuf;

/* One program's buffers at one set of sizes. */
typedef struct instance {
    const kp_program *prog;
    kp_sizes sizes;
    kbuf bufs[KP_MAX_BUFFERS];
    uint64_t dev[KP_MAX_BUFFERS];   /* CUDA: device addresses (gpu_ptr) */
    uint64_t dev_base[KP_MAX_BUFFERS];   /* CUDA: the allocations (with canaries around dev) */
    long long values[KP_MAX_PARAMS];
    int checked;                    /* C: guard pages */
    int canaries;                   /* CUDA: canary bytes around each buffer */
} instance;


/* Allocate and upload the device buffers; compile the module. */
int kp_device_prepare(instance *in, char *err, size_t errlen);
/* Launch once (asynchronous). */
int kp_device_call(instance *in, char *err, size_t errlen);
/* Wait for the launches so far; report the first asynchronous error. */
int kp_device_sync(instance *in, char *err, size_t errlen);
/* Copy buffer i back into its host copy. */
int kp_device_download(instance *in, int i, char *err, size_t errlen);
void kp_device_release(instance *in);
/* CUDA, checked mode: whether the canaries around every buffer survived
 * the call. 0, or -1 with err naming the buffer and element written. */
int kp_device_check_canaries(instance *in, char *err, size_t errlen);

#endif
