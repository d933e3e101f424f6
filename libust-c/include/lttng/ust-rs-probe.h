/*
 * The probe generator: reads the provider header (LTTNG_UST_TRACEPOINT_INCLUDE)
 * once per pass, each pass giving the event macros and field primitives another
 * meaning. No include guard: another provider may follow in the same file.
 *
 *  1. enumerations: their labels;
 *  2. classes: their field descriptions;
 *  3. classes: the payload size of an event (string and sequence lengths noted);
 *  4. classes: the probe, which reserves, writes the fields in order and commits;
 *  5. log levels and model URIs;
 *  6. instances: their event descriptions;
 *  7. the provider: its events, its registration at load and unregistration at unload.
 *
 * Field expressions are evaluated in pass 3 (strings, sequences) and 4 (all), as in
 * LTTng-UST; arguments once, by the caller.
 */
#pragma GCC system_header

#include <stdint.h>
#include <string.h>

#ifndef LTTNG_UST_TRACEPOINT_PROVIDER
#error "define LTTNG_UST_TRACEPOINT_PROVIDER before including <lttng/tracepoint-event.h>"
#endif
#ifndef LTTNG_UST_TRACEPOINT_INCLUDE
#error "define LTTNG_UST_TRACEPOINT_INCLUDE (the provider header's own path) before including <lttng/tracepoint-event.h>"
#endif

#define __LR_IN_PROBE_PASSES
#define LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ
#define TRACEPOINT_HEADER_MULTI_READ

#ifndef __LR_PROBE_HELPERS
#define __LR_PROBE_HELPERS
/* A word's zero bytes: exact as a test of whether there is one. */
#define __LR_ZERO_BYTES(w) \
	(((w) - UINT64_C(0x0101010101010101)) & ~(w) & UINT64_C(0x8080808080808080))

/* Copies `n` bytes from `src` to `dst` (which do not overlap) and says whether they
 * held a NUL: eight bytes at a time, the last eight overlapping the ones before (two
 * words for up to 16 bytes), so that nothing outside the `n` bytes is read. */
static inline int __lr_copy_has_nul(char *dst, const char *src, size_t n)
{
	uint64_t zeros = 0, w;
	size_t i = 0;

	if (n < 8) {
		for (; i < n; i++) {
			char ch = src[i];

			dst[i] = ch;
			zeros |= !ch;
		}
		return zeros != 0;
	}
	if (n <= 16) {
		uint64_t w2;

		memcpy(&w, src, 8);
		memcpy(&w2, src + n - 8, 8);
		memcpy(dst, &w, 8);
		memcpy(dst + n - 8, &w2, 8);
		return (__LR_ZERO_BYTES(w) | __LR_ZERO_BYTES(w2)) != 0;
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, src + i, 8);
		memcpy(dst + i, &w, 8);
		zeros |= __LR_ZERO_BYTES(w);
	}
	if (i < n) {
		memcpy(&w, src + n - 8, 8);
		memcpy(dst + n - 8, &w, 8);
		zeros |= __LR_ZERO_BYTES(w);
	}
	return zeros != 0;
}

/* A string of `n` bytes with its NUL, `src` measured at `n - 1` bytes. One that
 * shrank since it was measured is padded with '#', as LTTng-UST does, so that the
 * record keeps the length it was reserved with. */
static inline void __lr_put_string(char *dst, const char *src, size_t n)
{
	dst[n - 1] = '\0';
	if (__builtin_expect(__lr_copy_has_nul(dst, src, n - 1), 0)) {
		size_t i = 0;

		while (dst[i])
			i++;
		memset(dst + i, '#', n - 1 - i);
	}
}

/* `n` bytes of text: copied up to the first NUL, zeros after (LTTng-UST's _text). */
static inline void __lr_put_text(char *dst, const void *src, size_t n)
{
	const char *s = (const char *) src;
	size_t i = 0;

	if (s)
		for (; i < n && s[i]; i++)
			dst[i] = s[i];
	if (i < n)
		memset(dst + i, 0, n - i);
}

static inline size_t __lr_clamp(size_t n, size_t max)
{
	return n > max ? max : n;
}
#endif

#ifdef __cplusplus
extern "C" {
#endif


/* ---- 1. enumerations ---- */
#include <lttng/ust-rs-reset.h>
#undef LTTNG_UST_TRACEPOINT_ENUM
#define LTTNG_UST_TRACEPOINT_ENUM(_p, _en, _values) \
	static const struct lttng_ust_rs_enum_entry __lr_enum_entries_##_p##_##_en[] \
		__attribute__((unused)) = { _values { 0, 0, 0, 0, { 0, 0, 0, 0, 0, 0, 0 } } }; \
	static const struct lttng_ust_rs_enum __lr_enum_##_p##_##_en __attribute__((unused)) = { \
		#_en, __lr_enum_entries_##_p##_##_en, \
		sizeof(__lr_enum_entries_##_p##_##_en) / sizeof(__lr_enum_entries_##_p##_##_en[0]) - 1 };
#define __LR_E_VALUE(_l, _v) { _l, (int64_t) (_v), (int64_t) (_v), 0, { 0, 0, 0, 0, 0, 0, 0 } },
#define __LR_E_RANGE(_l, _a, _b) { _l, (int64_t) (_a), (int64_t) (_b), 0, { 0, 0, 0, 0, 0, 0, 0 } },
#define __LR_E_AUTO(_l) { _l, 0, 0, 1, { 0, 0, 0, 0, 0, 0, 0 } },
#include LTTNG_UST_TRACEPOINT_INCLUDE

/* ---- 2. field descriptions ---- */
#include <lttng/ust-rs-reset.h>
#undef LTTNG_UST_TRACEPOINT_EVENT_CLASS
#define LTTNG_UST_TRACEPOINT_EVENT_CLASS(_p, _c, _args, _fields) \
	static const struct lttng_ust_rs_field __lr_fields_##_p##___##_c[] __attribute__((unused)) = { \
		_fields { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } };
#define __LR_F_INT(_t, _n, _e, _base, _net) \
	{ #_n, LTTNG_UST_RS_INTEGER, sizeof(_t), __LR_IS_SIGNED(_t), _base, _net, 0, 0, 0, 0, 0 },
#define __LR_F_FLOAT(_t, _n, _e) \
	{ #_n, LTTNG_UST_RS_FLOAT, sizeof(_t), 1, 10, 0, 0, 0, 0, 0, 0 },
#define __LR_F_STRING(_n, _e) \
	{ #_n, LTTNG_UST_RS_STRING, 1, 0, 10, 0, 1, 0, 0, 0, 0 },
#define __LR_F_ARRAY(_t, _n, _ptr, _N, _base, _net, _text) \
	{ #_n, LTTNG_UST_RS_ARRAY, sizeof(_t), __LR_IS_SIGNED(_t), _base, _net, _text, 0, 0, _N, 0 },
#define __LR_F_SEQ(_t, _n, _ptr, _lt, _len, _base, _net, _text) \
	{ #_n, LTTNG_UST_RS_SEQUENCE, sizeof(_t), __LR_IS_SIGNED(_t), _base, _net, _text, \
	  sizeof(_lt), __LR_IS_SIGNED(_lt), 0, 0 },
#define __LR_F_ENUM(_prov, _en, _it, _n, _e) \
	{ #_n, LTTNG_UST_RS_ENUM, sizeof(_it), __LR_IS_SIGNED(_it), 10, 0, 0, 0, 0, 0, \
	  &__lr_enum_##_prov##_##_en },
#include LTTNG_UST_TRACEPOINT_INCLUDE

/* ---- 3. payload size ---- */
#include <lttng/ust-rs-reset.h>
#undef LTTNG_UST_TRACEPOINT_EVENT_CLASS
#define LTTNG_UST_TRACEPOINT_EVENT_CLASS(_p, _c, _args, _fields) \
	static inline size_t __lr_size_##_p##___##_c(size_t *__lr_dyn __LR_DPARAMS(_args)) \
	{ \
		size_t __lr_len = 0, __lr_di = 0; \
		__LR_VOIDS(_args) \
		_fields \
		(void) __lr_dyn; \
		(void) __lr_di; \
		return __lr_len; \
	}
#define __LR_F_INT(_t, _n, _e, _base, _net) __lr_len += sizeof(_t);
#define __LR_F_FLOAT(_t, _n, _e) __lr_len += sizeof(_t);
#define __LR_F_STRING(_n, _e) \
	{ \
		const char *__lr_s = (_e); \
		__lr_dyn[__lr_di] = __lr_s ? strlen(__lr_s) + 1 : sizeof("(null)"); \
		__lr_len += __lr_dyn[__lr_di++]; \
	}
#define __LR_F_ARRAY(_t, _n, _ptr, _N, _base, _net, _text) __lr_len += sizeof(_t) * (_N);
#define __LR_F_SEQ(_t, _n, _ptr, _lt, _len, _base, _net, _text) \
	{ \
		typedef char __lr_sequence_length_type_must_be_unsigned_##_n \
			[((_lt) -1 > (_lt) 0) ? 1 : -1] __attribute__((unused)); \
		__lr_dyn[__lr_di] = (_ptr) ? __lr_clamp((size_t) (_len), (size_t) (_lt) -1) : 0; \
		__lr_len += sizeof(_lt) + __lr_dyn[__lr_di++] * sizeof(_t); \
	}
#define __LR_F_ENUM(_prov, _en, _it, _n, _e) __lr_len += sizeof(_it);
#include LTTNG_UST_TRACEPOINT_INCLUDE

/* ---- 4. probes ---- */
#include <lttng/ust-rs-reset.h>
#undef LTTNG_UST_TRACEPOINT_EVENT_CLASS
#define LTTNG_UST_TRACEPOINT_EVENT_CLASS(_p, _c, _args, _fields) \
	static void __lr_probe_##_p##___##_c(void *__tp_data __LR_DPARAMS(_args)) \
	{ \
		size_t __lr_dyn[sizeof(__lr_fields_##_p##___##_c) / sizeof(__lr_fields_##_p##___##_c[0])]; \
		size_t __lr_len = __lr_size_##_p##___##_c(__lr_dyn __LR_DARGS(_args)); \
		struct lttng_ust_rs_slot __lr_slot; \
		if (lttng_ust_rs_reserve(__tp_data, __lr_len, &__lr_slot)) \
			do { \
				char *__lr_p = (char *) __lr_slot.dst; \
				size_t __lr_di = 0; \
				_fields \
				(void) __lr_p; \
				(void) __lr_di; \
			} while (lttng_ust_rs_commit(&__lr_slot)); \
	}
#define __LR_F_INT(_t, _n, _e, _base, _net) \
	{ \
		_t __lr_v = (_t) (_e); \
		memcpy(__lr_p, &__lr_v, sizeof(_t)); \
		__lr_p += sizeof(_t); \
	}
#define __LR_F_FLOAT(_t, _n, _e) __LR_F_INT(_t, _n, _e, 10, 0)
#define __LR_F_ENUM(_prov, _en, _it, _n, _e) __LR_F_INT(_it, _n, _e, 10, 0)
#define __LR_F_STRING(_n, _e) \
	{ \
		const char *__lr_s = (_e); \
		__lr_put_string(__lr_p, __lr_s ? __lr_s : "(null)", __lr_dyn[__lr_di]); \
		__lr_p += __lr_dyn[__lr_di++]; \
	}
#define __LR_F_ARRAY(_t, _n, _ptr, _N, _base, _net, _text) \
	{ \
		const _t *__lr_a = (const _t *) (_ptr); \
		if (_text || !__lr_a) \
			__lr_put_text(__lr_p, __lr_a, sizeof(_t) * (_N)); \
		else \
			memcpy(__lr_p, __lr_a, sizeof(_t) * (_N)); \
		__lr_p += sizeof(_t) * (_N); \
	}
#define __LR_F_SEQ(_t, _n, _ptr, _lt, _len, _base, _net, _text) \
	{ \
		size_t __lr_n = __lr_dyn[__lr_di++]; \
		_lt __lr_l = (_lt) __lr_n; \
		const _t *__lr_a = (const _t *) (_ptr); \
		memcpy(__lr_p, &__lr_l, sizeof(_lt)); \
		__lr_p += sizeof(_lt); \
		if (_text) \
			__lr_put_text(__lr_p, __lr_a, __lr_n * sizeof(_t)); \
		else if (__lr_n) \
			memcpy(__lr_p, __lr_a, __lr_n * sizeof(_t)); \
		__lr_p += __lr_n * sizeof(_t); \
	}
#include LTTNG_UST_TRACEPOINT_INCLUDE

/* ---- 5. log levels and model URIs ---- */
#include <lttng/ust-rs-reset.h>
#undef LTTNG_UST_TRACEPOINT_LOGLEVEL
#undef LTTNG_UST_TRACEPOINT_MODEL_EMF_URI
#define LTTNG_UST_TRACEPOINT_LOGLEVEL(_p, _n, _level) \
	extern const int __lr_loglevel_##_p##___##_n __attribute__((visibility("hidden"))); \
	const int __lr_loglevel_##_p##___##_n = (_level);
#define LTTNG_UST_TRACEPOINT_MODEL_EMF_URI(_p, _n, _uri) \
	extern const char *const __lr_uri_##_p##___##_n __attribute__((visibility("hidden"))); \
	const char *const __lr_uri_##_p##___##_n = (_uri);
#include LTTNG_UST_TRACEPOINT_INCLUDE

/* ---- 6. event descriptions ---- */
#include <lttng/ust-rs-reset.h>
#undef LTTNG_UST_TRACEPOINT_EVENT_INSTANCE
#define LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(_cp, _c, _p, _n, _args) \
	static int __lr_llref_##_p##___##_n \
		__attribute__((weakref(__LR_STR(__lr_loglevel_##_p##___##_n)))); \
	static const char *__lr_uriref_##_p##___##_n \
		__attribute__((weakref(__LR_STR(__lr_uri_##_p##___##_n)))); \
	static const struct lttng_ust_rs_event __lr_event_##_p##___##_n __attribute__((unused)) = { \
		sizeof(struct lttng_ust_rs_event), #_p, #_n, \
		&__lr_llref_##_p##___##_n, (const char *const *) &__lr_uriref_##_p##___##_n, \
		__LR_STR(_args), \
		__lr_fields_##_cp##___##_c, \
		sizeof(__lr_fields_##_cp##___##_c) / sizeof(__lr_fields_##_cp##___##_c[0]) - 1, \
		(void (*)(void)) __lr_probe_##_cp##___##_c };
#include LTTNG_UST_TRACEPOINT_INCLUDE

/* ---- 7. the provider ---- */
#include <lttng/ust-rs-reset.h>
#undef LTTNG_UST_TRACEPOINT_EVENT_INSTANCE
#define LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(_cp, _c, _p, _n, _args) &__lr_event_##_p##___##_n,
static const struct lttng_ust_rs_event *const
	__LR_CAT(__lr_events_, LTTNG_UST_TRACEPOINT_PROVIDER)[] = {
#include LTTNG_UST_TRACEPOINT_INCLUDE
	0 };

static const struct lttng_ust_rs_provider __LR_CAT(__lr_provider_, LTTNG_UST_TRACEPOINT_PROVIDER) = {
	sizeof(struct lttng_ust_rs_provider), LTTNG_UST_RS_ABI, __LR_STR(LTTNG_UST_TRACEPOINT_PROVIDER),
	__LR_CAT(__lr_events_, LTTNG_UST_TRACEPOINT_PROVIDER),
	sizeof(__LR_CAT(__lr_events_, LTTNG_UST_TRACEPOINT_PROVIDER))
		/ sizeof(__LR_CAT(__lr_events_, LTTNG_UST_TRACEPOINT_PROVIDER)[0]) - 1 };

/* The symbol the call sites of a statically linked module refer to. */
#ifdef LTTNG_UST_TRACEPOINT_PROVIDER_HIDDEN_DEFINITION
__attribute__((visibility("hidden")))
#endif
int __LR_CAT(lttng_ust_tracepoint_provider_, LTTNG_UST_TRACEPOINT_PROVIDER);

static void __attribute__((constructor, used))
__LR_CAT(__lr_provider_init_, LTTNG_UST_TRACEPOINT_PROVIDER)(void)
{
	lttng_ust_rs_provider_register(&__LR_CAT(__lr_provider_, LTTNG_UST_TRACEPOINT_PROVIDER));
}

static void __attribute__((destructor, used))
__LR_CAT(__lr_provider_exit_, LTTNG_UST_TRACEPOINT_PROVIDER)(void)
{
	lttng_ust_rs_provider_unregister(&__LR_CAT(__lr_provider_, LTTNG_UST_TRACEPOINT_PROVIDER));
}

#ifdef __cplusplus
}
#endif

/* Back to the declaration meaning, for what follows in this file. */
#include <lttng/ust-rs-reset.h>
#include <lttng/ust-rs-declare.h>
#undef __LR_IN_PROBE_PASSES
#undef LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ
#undef TRACEPOINT_HEADER_MULTI_READ
