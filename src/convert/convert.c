/* framepush — converter object: CPU path dispatch and the row-band worker pool. */
#include "framepush/convert.h"

#include "common/log.h"
#include "common/util.h"
#include "convert_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define FP_HAVE_X86 1
#else
#define FP_HAVE_X86 0
#endif

/* Fewer pixels than this per band costs more in hand-over than it saves. */
#define MIN_BAND_PIXELS (128u * 1024u)
#define MAX_THREADS 64u
/* Bands per thread: a thread whose core is busy (the encoder runs beside us) holds back at
 * most one small band while the others claim the rest. */
#define BANDS_PER_THREAD 4u

struct fp_converter {
	enum fp_cpu_path path;
	fp_convert_rows_fn sdr, hdr;
	const float *pq;
	unsigned nthreads; /* threads converting a frame, the caller's included */
	pthread_t *workers;
	unsigned nworkers; /* started, to be joined */

	/* A frame is published under mu (job, fn, pairs, then generation and ticket); the
	 * caller and the woken workers then claim bands from the ticket until none is left.
	 * ticket = generation (32 bits) | band count (16) | next band (16): a worker that slept
	 * through a frame sees another generation and claims nothing, so it can neither take
	 * a band of a frame it has no job for nor read a job that is being replaced (the job
	 * changes only after every band of the previous frame is done). */
	pthread_mutex_t mu;
	pthread_cond_t start, done;
	uint64_t generation;
	int quit;
	fp_convert_rows_fn fn;
	struct fp_convert_job job;
	uint32_t pairs;
	_Atomic uint64_t ticket;
	atomic_uint remaining; /* bands not finished yet */
};

const char *fp_cpu_path_name(enum fp_cpu_path path)
{
	switch (path) {
	case FP_CPU_AUTO:
		return "auto";
	case FP_CPU_SCALAR:
		return "scalar";
	case FP_CPU_SSE2:
		return "sse2";
	case FP_CPU_SSSE3:
		return "ssse3";
	case FP_CPU_AVX2:
		return "avx2";
	}
	return "?";
}

static int cpu_has(enum fp_cpu_path path)
{
	if (path == FP_CPU_SCALAR)
		return 1;
#if FP_HAVE_X86
	__builtin_cpu_init();
	if (path == FP_CPU_SSE2)
		return __builtin_cpu_supports("sse2");
	if (path == FP_CPU_SSSE3)
		return __builtin_cpu_supports("ssse3");
	if (path == FP_CPU_AVX2) {
		unsigned a, b, c, d;

		/* __builtin_cpu_supports("avx2") also checks that the OS saves YMM state;
		 * clang 14 cannot query F16C through it, so read CPUID.1:ECX directly. */
		if (!__builtin_cpu_supports("avx2") || !__get_cpuid(1, &a, &b, &c, &d))
			return 0;
		/* FMA: every AVX2 CPU shipped has it, but it is a separate CPUID bit. */
		return (c & bit_F16C) && (c & bit_FMA);
	}
#endif
	return 0;
}

static enum fp_cpu_path pick_path(enum fp_cpu_path path)
{
	static const enum fp_cpu_path best[] = { FP_CPU_AVX2, FP_CPU_SSSE3, FP_CPU_SSE2 };
	const char *env;

	if (path != FP_CPU_AUTO)
		return path;
	env = getenv("FRAMEPUSH_CPU_PATH");
	if (env && *env) {
		for (int p = FP_CPU_SCALAR; p <= FP_CPU_AVX2; p++)
			if (!strcmp(env, fp_cpu_path_name((enum fp_cpu_path)p)))
				return (enum fp_cpu_path)p;
		fp_warn("convert: FRAMEPUSH_CPU_PATH=%s unknown (scalar|sse2|ssse3|avx2), using cpuid", env);
	}
	for (size_t i = 0; i < sizeof(best) / sizeof(best[0]); i++)
		if (cpu_has(best[i]))
			return best[i];
	return FP_CPU_SCALAR;
}

static void run_band(struct fp_converter *conv, unsigned band, unsigned nbands)
{
	/* Bands are whole row pairs: a chroma row never straddles two threads. */
	uint32_t p0 = (uint32_t)((uint64_t)conv->pairs * band / nbands);
	uint32_t p1 = (uint32_t)((uint64_t)conv->pairs * (band + 1) / nbands);
	uint32_t y1 = 2 * p1 < conv->job.h ? 2 * p1 : conv->job.h;

	if (p0 < p1)
		conv->fn(&conv->job, 2 * p0, y1);
}

/* Claims and runs bands of frame `gen` until none is left. */
static void work(struct fp_converter *conv, uint32_t gen)
{
	for (;;) {
		uint64_t t = atomic_load_explicit(&conv->ticket, memory_order_acquire);

		do {
			if ((uint32_t)(t >> 32) != gen || (t & 0xffff) >= ((t >> 16) & 0xffff))
				return;
		} while (!atomic_compare_exchange_weak_explicit(&conv->ticket, &t, t + 1, memory_order_acq_rel,
								 memory_order_acquire));
		run_band(conv, (unsigned)(t & 0xffff), (unsigned)((t >> 16) & 0xffff));
		if (atomic_fetch_sub_explicit(&conv->remaining, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&conv->mu);
			pthread_cond_signal(&conv->done);
			pthread_mutex_unlock(&conv->mu);
		}
	}
}

static void *worker_main(void *arg)
{
	struct fp_converter *conv = arg;
	uint64_t seen = 0;

	pthread_mutex_lock(&conv->mu);
	for (;;) {
		while (conv->generation == seen && !conv->quit)
			pthread_cond_wait(&conv->start, &conv->mu);
		if (conv->quit)
			break;
		seen = conv->generation;
		pthread_mutex_unlock(&conv->mu);
		work(conv, (uint32_t)seen);
		pthread_mutex_lock(&conv->mu);
	}
	pthread_mutex_unlock(&conv->mu);
	return NULL;
}

static void stop_workers(struct fp_converter *conv)
{
	pthread_mutex_lock(&conv->mu);
	conv->quit = 1;
	pthread_cond_broadcast(&conv->start);
	pthread_mutex_unlock(&conv->mu);
	for (unsigned i = 0; i < conv->nworkers; i++)
		pthread_join(conv->workers[i], NULL);
	conv->nworkers = 0;
}

/* The kernels of each CPU path; a path missing here (not x86) falls back to scalar. */
static const struct kernels {
	enum fp_cpu_path path;
	fp_convert_rows_fn sdr, hdr;
} kernel_table[] = {
#if FP_HAVE_X86
	{ FP_CPU_AVX2, fp_sdr_rows_avx2, fp_hdr_rows_avx2 },
	/* HDR gains nothing from SSSE3: the SSE2 kernel. */
	{ FP_CPU_SSSE3, fp_sdr_rows_ssse3, fp_hdr_rows_sse2 },
	{ FP_CPU_SSE2, fp_sdr_rows_sse2, fp_hdr_rows_sse2 },
#endif
	{ FP_CPU_SCALAR, fp_sdr_rows_scalar, fp_hdr_rows_scalar },
};

static const struct kernels *kernels_for(enum fp_cpu_path path)
{
	for (size_t i = 0; i < FP_ARRAY_LEN(kernel_table); i++)
		if (kernel_table[i].path == path)
			return &kernel_table[i];
	return &kernel_table[FP_ARRAY_LEN(kernel_table) - 1];
}

static int init_sync(struct fp_converter *conv)
{
	int err = pthread_mutex_init(&conv->mu, NULL);

	if (err)
		return -err;
	if ((err = pthread_cond_init(&conv->start, NULL)))
		goto err_mutex;
	if ((err = pthread_cond_init(&conv->done, NULL)))
		goto err_start;
	return 0;

err_start:
	pthread_cond_destroy(&conv->start);
err_mutex:
	pthread_mutex_destroy(&conv->mu);
	return -err;
}

/* threads - 1 workers: the caller's thread converts the first band itself. */
static int start_workers(struct fp_converter *conv, unsigned threads)
{
	int err;

	if (threads <= 1)
		return 0;
	conv->workers = calloc(threads - 1, sizeof(*conv->workers));
	if (!conv->workers)
		return -ENOMEM;
	for (unsigned i = 0; i < threads - 1; i++) {
		if ((err = pthread_create(&conv->workers[i], NULL, worker_main, conv))) {
			fp_error("convert: starting worker %u of %u: %s", i + 1, threads - 1,
				 strerror(err));
			return -err;
		}
		conv->nworkers++;
	}
	return 0;
}

int fp_converter_create(struct fp_converter **out, unsigned threads, enum fp_cpu_path path)
{
	struct fp_converter *conv;
	const struct kernels *k;
	int err;

	if (!out || (unsigned)path > FP_CPU_AVX2)
		return -EINVAL;
	*out = NULL;
	path = pick_path(path);
	if (!cpu_has(path)) {
		fp_error("convert: CPU path %s not supported by this CPU", fp_cpu_path_name(path));
		return -ENOTSUP;
	}
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;

	conv = calloc(1, sizeof(*conv));
	if (!conv)
		return -ENOMEM;
	conv->path = path;
	conv->pq = fp_pq_table();
	atomic_init(&conv->ticket, 0); /* generation 0, no bands: nothing to claim */
	atomic_init(&conv->remaining, 0);
	conv->nthreads = threads;
	k = kernels_for(path);
	conv->sdr = k->sdr;
	conv->hdr = k->hdr;
	if ((err = init_sync(conv)) < 0) {
		free(conv);
		return err;
	}
	if ((err = start_workers(conv, threads)) < 0) {
		fp_converter_destroy(conv);
		return err;
	}
	fp_debug("convert: path %s, %u threads", fp_cpu_path_name(path), threads);
	*out = conv;
	return 0;
}

void fp_converter_destroy(struct fp_converter *conv)
{
	if (!conv)
		return;
	stop_workers(conv);
	free(conv->workers);
	pthread_cond_destroy(&conv->done);
	pthread_cond_destroy(&conv->start);
	pthread_mutex_destroy(&conv->mu);
	free(conv);
}

enum fp_cpu_path fp_converter_path(const struct fp_converter *conv)
{
	return conv ? conv->path : FP_CPU_AUTO;
}

int fp_converter_run(struct fp_converter *conv, enum fp_pixfmt fmt, const uint8_t *src,
		     size_t src_stride, uint32_t w, uint32_t h, const struct fp_yuv_frame *dst)
{
	struct fp_convert_job job;
	fp_convert_rows_fn fn;
	size_t bpp, dbps;
	uint32_t pairs, gen;
	unsigned nbands;

	if (!conv || !src || !dst || w == 0 || h == 0 || w > 16384 || h > 16384)
		return -EINVAL;
	if (fmt == FP_PIXFMT_XRGB8888 && dst->format == FP_YUV_NV12)
		bpp = 4, dbps = 1;
	else if (fmt == FP_PIXFMT_RGBA16F && dst->format == FP_YUV_P010)
		bpp = 8, dbps = 2;
	else
		return -EINVAL;
	if (dst->width != w || dst->height != h || !dst->data[0] || !dst->data[1] ||
	    src_stride < w * bpp || dst->stride[0] < w * dbps ||
	    dst->stride[1] < (size_t)((w + 1) / 2) * 2 * dbps)
		return -EINVAL;
	/* The P010 kernels store whole u16 samples. */
	if (dbps == 2 && ((dst->stride[0] | dst->stride[1] | (uintptr_t)dst->data[0] |
			   (uintptr_t)dst->data[1]) & 1))
		return -EINVAL;

	fn = fmt == FP_PIXFMT_XRGB8888 ? conv->sdr : conv->hdr;
	job = (struct fp_convert_job){
		.src = src,
		.src_stride = src_stride,
		.w = w,
		.h = h,
		.dst = { dst->data[0], dst->data[1] },
		.dst_stride = { dst->stride[0], dst->stride[1] },
		.pq = conv->pq,
	};
	pairs = (h + 1) / 2;
	nbands = (unsigned)(((uint64_t)w * h) / MIN_BAND_PIXELS);
	if (nbands > conv->nthreads * BANDS_PER_THREAD)
		nbands = conv->nthreads * BANDS_PER_THREAD;
	if (nbands > pairs)
		nbands = pairs;
	if (conv->nthreads == 1 || nbands <= 1) {
		/* Small frame or no pool: stay on the caller's thread, touch no shared state. */
		fn(&job, 0, h);
		return 0;
	}

	pthread_mutex_lock(&conv->mu);
	conv->fn = fn;
	conv->job = job;
	conv->pairs = pairs;
	conv->generation++;
	gen = (uint32_t)conv->generation;
	atomic_store_explicit(&conv->remaining, nbands, memory_order_relaxed);
	atomic_store_explicit(&conv->ticket, (uint64_t)gen << 32 | (uint64_t)nbands << 16,
			      memory_order_release);
	pthread_cond_broadcast(&conv->start);
	pthread_mutex_unlock(&conv->mu);

	work(conv, gen);

	pthread_mutex_lock(&conv->mu);
	while (atomic_load_explicit(&conv->remaining, memory_order_acquire))
		pthread_cond_wait(&conv->done, &conv->mu);
	pthread_mutex_unlock(&conv->mu);
	return 0;
}
