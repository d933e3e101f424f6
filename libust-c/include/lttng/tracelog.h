/*
 * lttng_ust_tracelog(LEVEL, fmt, ...): a printf-style message at a log level,
 * recorded as lttng_ust_tracelog:LTTNG_UST_TRACEPOINT_LOGLEVEL_<LEVEL> with the
 * caller's line, file and function, as with LTTng-UST 2.13. LEVEL is any log level
 * value (LTTng-UST takes only the LTTNG_UST_TRACEPOINT_LOGLEVEL_* tokens).
 */
#ifndef LTTNG_UST_RS_TRACELOG_H
#define LTTNG_UST_RS_TRACELOG_H

#pragma GCC system_header

#include <lttng/tracef.h>

static inline void __lr_vtracelog(int level, const char *file, int line, const char *func,
		const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static inline void __lr_vtracelog(int level, const char *file, int line, const char *func,
		const char *fmt, va_list ap)
{
	char buf[512], *heap;
	int n = __lr_vformat(buf, sizeof(buf), &heap, fmt, ap);

	if (n >= 0)
		lttng_ust_rs_tracelog_record(level, file, line, func, heap ? heap : buf, (size_t) n);
	free(heap);
}

static inline void __lr_tracelog(int level, const char *file, int line, const char *func,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline void __lr_tracelog(int level, const char *file, int line, const char *func,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	__lr_vtracelog(level, file, line, func, fmt, ap);
	va_end(ap);
}

#define __LR_TRACELOG_ON(level) \
	__builtin_expect((unsigned int) (level) < 15u \
		&& __atomic_load_n(&lttng_ust_rs_tracelog_state[(level)], __ATOMIC_RELAXED) != 0, 0)

#define lttng_ust_tracelog(level, fmt, ...) \
	do { \
		if (__LR_TRACELOG_ON(level)) \
			__lr_tracelog((level), __FILE__, __LINE__, __func__, fmt, ##__VA_ARGS__); \
	} while (0)

#define lttng_ust_vtracelog(level, fmt, ap) \
	do { \
		if (__LR_TRACELOG_ON(level)) \
			__lr_vtracelog((level), __FILE__, __LINE__, __func__, fmt, ap); \
	} while (0)

#if LTTNG_UST_COMPAT_API(0)
#define tracelog lttng_ust_tracelog
#endif

#endif /* LTTNG_UST_RS_TRACELOG_H */
