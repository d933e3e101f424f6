/*
 * lttng_ust_tracef(fmt, ...): a printf-style message recorded as the event
 * lttng_ust_tracef:event (fields _msg_length and msg, log level DEBUG), as with
 * LTTng-UST. The message is formatted only when the event is enabled.
 */
#ifndef LTTNG_UST_RS_TRACEF_H
#define LTTNG_UST_RS_TRACEF_H

#pragma GCC system_header

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <lttng/tracepoint.h>

/* Formats into a stack buffer, or the heap for a long message, and records it. */
static inline int __lr_vformat(char *buf, size_t size, char **heap, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static inline int __lr_vformat(char *buf, size_t size, char **heap, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	*heap = 0;
	va_copy(aq, ap);
	n = vsnprintf(buf, size, fmt, aq);
	va_end(aq);
	if (n < 0 || (size_t) n < size)
		return n;
	*heap = (char *) malloc((size_t) n + 1);
	if (!*heap)
		return -1;
	return vsnprintf(*heap, (size_t) n + 1, fmt, ap);
}

static inline void __lr_vtracef(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static inline void __lr_vtracef(const char *fmt, va_list ap)
{
	char buf[512], *heap;
	int n = __lr_vformat(buf, sizeof(buf), &heap, fmt, ap);

	if (n >= 0)
		lttng_ust_rs_tracef_record(heap ? heap : buf, (size_t) n);
	free(heap);
}

static inline void __lr_tracef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void __lr_tracef(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	__lr_vtracef(fmt, ap);
	va_end(ap);
}

#define __LR_TRACEF_ON() \
	__builtin_expect(__atomic_load_n(&lttng_ust_rs_tracef_state, __ATOMIC_RELAXED) != 0, 0)

#define lttng_ust_tracef(fmt, ...) \
	do { \
		if (__LR_TRACEF_ON()) \
			__lr_tracef(fmt, ##__VA_ARGS__); \
	} while (0)

#define lttng_ust_vtracef(fmt, ap) \
	do { \
		if (__LR_TRACEF_ON()) \
			__lr_vtracef(fmt, ap); \
	} while (0)

#if LTTNG_UST_COMPAT_API(0)
#define tracef lttng_ust_tracef
#endif

#endif /* LTTNG_UST_RS_TRACEF_H */
