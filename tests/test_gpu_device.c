/*
 * test_gpu_device.c — the device layer without a GPU: the caching
 * allocator, launch checks, and the errors of the dlopen layer.
 */
#include <stdlib.h>
#include <string.h>

#include "gpu_emu.h"
#include "test.h"

TEST(allocator_reuses_freed_blocks_of_the_same_size)
{
    gpu_dev *d = gpu_emu_open(NULL);
    gpu_ptr a = gpu_alloc(d, 1000), b = gpu_alloc(d, 5000);
    CHECK(a && b && a != b);
    gpu_free(d, a);
    gpu_ptr c = gpu_alloc(d, 900);   /* rounds to the same class as 1000 */
    CHECK(c == a);
    gpu_mem_stats st;
    gpu_mem_stats_get(d, &st);
    CHECK(st.allocs == 3 && st.reuses == 1);
    CHECK(st.in_use >= 5900 && st.cached == 0);
    gpu_free(d, b);
    gpu_free(d, c);
    gpu_mem_stats_get(d, &st);
    CHECK(st.in_use == 0 && st.cached > 0 && st.peak >= 5900);
    gpu_trim(d);
    gpu_mem_stats_get(d, &st);
    CHECK(st.cached == 0);
    gpu_close(d);
}

TEST(launch_checks_reach_the_caller)
{
    gpu_dev *d = gpu_emu_open(NULL);
    static const gpu_kernel missing = {"elementwise.cu", "aak_no_such_kernel", NULL};
    char args[8] = {0};
    CHECK(gpu_launch(d, &missing, gpu_grid_for(10), args, sizeof args) < 0);
    CHECK_STR_CONTAINS(gpu_error(d), "aak_no_such_kernel");
    static const gpu_kernel unary = {"elementwise.cu", "aak_unary_fwd", NULL};
    CHECK(gpu_launch(d, &unary, gpu_grid_for(10), args, sizeof args) < 0);   /* wrong argument size */
    CHECK_STR_CONTAINS(gpu_error(d), "bytes of arguments");
    CHECK(gpu_launch(d, &unary, (gpu_grid){.blocks_x = 1, .blocks_y = 1, .threads = 2048}, args, sizeof args) < 0);
    CHECK_STR_CONTAINS(gpu_error(d), "bad launch");
    gpu_close(d);
}

TEST(precision_names_round_trip)
{
    gpu_precision p;
    for (int i = 0; i < 3; i++) {
        CHECK(gpu_precision_parse(gpu_precision_name((gpu_precision)i), &p) == 0);
        CHECK(p == (gpu_precision)i);
    }
    CHECK(gpu_precision_parse("fp16", &p) < 0);
}

/* The driver is loaded at run time: a missing one, a wrong library and a
 * machine without a GPU each say what is wrong and what to do. */
TEST(missing_or_wrong_driver_is_a_clear_error)
{
    char why[512];
    setenv("ASIARCH_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
    CHECK(gpu_open(NULL, why, sizeof why) == NULL);
    CHECK_STR_CONTAINS(why, "ASIARCH_LIBCUDA=/nonexistent/libcuda.so.1");
    setenv("ASIARCH_LIBCUDA", "libm.so.6", 1);   /* loads, but is not the driver */
    CHECK(gpu_probe(why, sizeof why) < 0);
    CHECK_STR_CONTAINS(why, "has no cuInit");
    unsetenv("ASIARCH_LIBCUDA");
    if (gpu_probe(why, sizeof why) < 0) {   /* this machine has no GPU (CI): the sentence says why */
        CHECK(strlen(why) > 20);
        printf("gpu_probe here: %s\n", why);
    }
}

int main(void)
{
    RUN(allocator_reuses_freed_blocks_of_the_same_size);
    RUN(launch_checks_reach_the_caller);
    RUN(precision_names_round_trip);
    RUN(missing_or_wrong_driver_is_a_clear_error);
    return test_summary();
}
