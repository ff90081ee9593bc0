/*
 * syscalls.c — the runner side of the sandbox fuzzer: execute system calls
 * chosen by the fuzzer, after lock-down, through every ABI the CPU accepts.
 *
 * Input: records of 56 bytes
 *   u8  abi       0 native (syscall), 1 i386 (int 0x80), 2 x32 (x86-64 only)
 *   u8  pad
 *   u16 nr        system call number (taken modulo 512)
 *   u32 modes     2 bits per argument: 0 raw value, 1 pointer to a zeroed
 *                 scratch page, 2 pointer to a dictionary string (value
 *                 selects which), 3 small integer (value % 64: fds, flags)
 *   u64 args[6]
 * A path dictionary makes file calls meaningful (/etc/passwd, /proc/self/mem,
 * /bin/sh, the canary directory's files are reached through "../" paths).
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sb_internal.h"

#define RECORD 56

static const char *const dictionary[] = {
    "/etc/passwd", "/proc/self/mem", "/proc/self/exe", "/bin/sh", "/tmp/asiarch-fuzz-planted", "/", ".", "..",
    "/dev/null", "/proc/self/environ", "/sys/kernel", "/root/.ssh/id_rsa"};

static long call_native(long nr, const long *a) { return syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]); }

#if defined(__x86_64__)
static long call_i386(long nr, const long *a)
{
    long r;
    /* ebp, the sixth argument, is left alone: the compiler may need it. */
    __asm__ volatile("int $0x80"
                     : "=a"(r)
                     : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
                     : "memory");
    return r;
}
#endif

/* Strings and scratch live below 4 GiB so that i386 calls can use them. */
static char *scratch_area(void)
{
    static char *area;
    if (!area) {
        int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_32BIT
        flags |= MAP_32BIT;
#endif
        area = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, flags, -1, 0);
        if (area == MAP_FAILED) area = NULL;
    }
    return area;
}

static long argument(const unsigned char *rec, int i, char *area)
{
    uint32_t modes;
    uint64_t v;
    memcpy(&modes, rec + 4, 4);
    memcpy(&v, rec + 8 + 8 * i, 8);
    switch ((modes >> (2 * i)) & 3) {
    case 1: return area ? (long)(area + 4096 * (1 + i)) : 0;
    case 2: {
        size_t n = sizeof dictionary / sizeof dictionary[0];
        char *slot = area ? area + 32768 + 256 * i : NULL;
        if (!slot) return (long)dictionary[v % n];
        strcpy(slot, dictionary[v % n]);
        return (long)slot;
    }
    case 3: return (long)(v % 64);
    default: return (long)v;
    }
}

void sb_run_syscalls(const unsigned char *data, size_t len)
{
    char *area = scratch_area();
    for (size_t off = 0; off + RECORD <= len; off += RECORD) {
        const unsigned char *rec = data + off;
        uint16_t nr;
        memcpy(&nr, rec + 2, 2);
        long a[6];
        for (int i = 0; i < 6; i++) a[i] = argument(rec, i, area);
        if (area) memset(area + 4096, 0, 6 * 4096);
        switch (rec[0] % 3) {
#if defined(__x86_64__)
        case 1: call_i386(nr % 512, a); break;
        case 2: call_native(0x40000000L | (nr % 512), a); break;
#endif
        default: call_native(nr % 512, a); break;
        }
    }
}
