/* framepush-bench — shared helpers of the benchmark subcommands. */
#ifndef FP_BENCH_H
#define FP_BENCH_H

#include <stddef.h>

typedef void (*bench_fn)(void *ctx);

int bench_convert_main(int argc, char **argv);
int bench_transport_main(int argc, char **argv);
int bench_pipeline_main(int argc, char **argv);

#endif
