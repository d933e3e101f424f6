/*
 * LTTng-UST 2.13's tracepoint API, for lttng-rs (liblttng_ust_rs): a program written
 * for LTTng-UST builds against these headers unchanged. See lttng-ust(3) for the
 * API; this file declares call sites (lttng_ust_tracepoint(), ..._enabled(),
 * ..._do_tracepoint()) and, with LTTNG_UST_TRACEPOINT_DEFINE, defines them for the
 * module and registers them with the library.
 */
#ifndef LTTNG_UST_RS_TRACEPOINT_H
#define LTTNG_UST_RS_TRACEPOINT_H

#pragma GCC system_header

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <lttng/ust-rs.h>
#include <lttng/ust-rs-args.h>

#ifdef __cplusplus
#include <type_traits>
#define __LR_IS_SIGNED(t) (std::is_signed<t>::value)
#define __LR_EXTERN_C extern "C"
#define __LR_EXTERN_DECL extern "C"
#else
#define __LR_IS_SIGNED(t) ((t) -1 < (t) 1)
#define __LR_EXTERN_C
#define __LR_EXTERN_DECL extern
#endif

#define LTTNG_UST_MAJOR_VERSION 2
#define LTTNG_UST_MINOR_VERSION 13
#define LTTNG_UST_PATCHLEVEL_VERSION 0
#define LTTNG_UST_VERSION "2.13.0"

#ifndef LTTNG_UST_COMPAT_API_VERSION
#define LTTNG_UST_COMPAT_API_VERSION 0
#endif
#define LTTNG_UST_COMPAT_API(major) (LTTNG_UST_COMPAT_API_VERSION <= (major))

enum {
	LTTNG_UST_TRACEPOINT_LOGLEVEL_EMERG = 0,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_ALERT = 1,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_CRIT = 2,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_ERR = 3,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_WARNING = 4,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_NOTICE = 5,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO = 6,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_SYSTEM = 7,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_PROGRAM = 8,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_PROCESS = 9,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_MODULE = 10,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_UNIT = 11,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_FUNCTION = 12,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_LINE = 13,
	LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG = 14
};

#define LTTNG_UST_TP_ARGS(...) __VA_ARGS__
#define LTTNG_UST_TP_FIELDS(...) __VA_ARGS__
#define LTTNG_UST_TP_ENUM_VALUES(...) __VA_ARGS__

/* The call-site state word of provider:name (one per module). */
#define __LR_STATE(provider, name) \
	__atomic_load_n(&lttng_ust_tracepoint_##provider##___##name.state, __ATOMIC_RELAXED)

#define lttng_ust_tracepoint_enabled(provider, name) \
	__builtin_expect(__LR_STATE(provider, name) != 0, 0)

#define lttng_ust_do_tracepoint(provider, name, ...) \
	__lttng_ust_tp_cb_##provider##___##name(__VA_ARGS__)

/* A disabled tracepoint: one load and a branch; the arguments are not evaluated. */
#define lttng_ust_tracepoint(provider, name, ...) \
	do { \
		if (lttng_ust_tracepoint_enabled(provider, name)) \
			lttng_ust_do_tracepoint(provider, name, __VA_ARGS__); \
	} while (0)

/*
 * Field macros, mapped onto the primitives each pass of the probe generator defines
 * (<lttng/ust-rs-probe.h>). The _nowrite variants record nothing.
 */
#define lttng_ust_field_integer(_t, _n, _e) __LR_F_INT(_t, _n, _e, 10, 0)
#define lttng_ust_field_integer_hex(_t, _n, _e) __LR_F_INT(_t, _n, _e, 16, 0)
#define lttng_ust_field_integer_network(_t, _n, _e) __LR_F_INT(_t, _n, _e, 10, 1)
#define lttng_ust_field_integer_network_hex(_t, _n, _e) __LR_F_INT(_t, _n, _e, 16, 1)
#define lttng_ust_field_integer_nowrite(_t, _n, _e)
#define lttng_ust_field_float(_t, _n, _e) __LR_F_FLOAT(_t, _n, _e)
#define lttng_ust_field_float_nowrite(_t, _n, _e)
#define lttng_ust_field_string(_n, _e) __LR_F_STRING(_n, _e)
#define lttng_ust_field_string_nowrite(_n, _e)
#define lttng_ust_field_array(_t, _n, _p, _N) __LR_F_ARRAY(_t, _n, _p, _N, 10, 0, 0)
#define lttng_ust_field_array_hex(_t, _n, _p, _N) __LR_F_ARRAY(_t, _n, _p, _N, 16, 0, 0)
#define lttng_ust_field_array_network(_t, _n, _p, _N) __LR_F_ARRAY(_t, _n, _p, _N, 10, 1, 0)
#define lttng_ust_field_array_network_hex(_t, _n, _p, _N) __LR_F_ARRAY(_t, _n, _p, _N, 16, 1, 0)
#define lttng_ust_field_array_text(_t, _n, _p, _N) __LR_F_ARRAY(_t, _n, _p, _N, 10, 0, 1)
#define lttng_ust_field_array_nowrite(_t, _n, _p, _N)
#define lttng_ust_field_array_nowrite_hex(_t, _n, _p, _N)
#define lttng_ust_field_array_network_nowrite(_t, _n, _p, _N)
#define lttng_ust_field_array_network_nowrite_hex(_t, _n, _p, _N)
#define lttng_ust_field_array_text_nowrite(_t, _n, _p, _N)
#define lttng_ust_field_sequence(_t, _n, _p, _lt, _l) __LR_F_SEQ(_t, _n, _p, _lt, _l, 10, 0, 0)
#define lttng_ust_field_sequence_hex(_t, _n, _p, _lt, _l) __LR_F_SEQ(_t, _n, _p, _lt, _l, 16, 0, 0)
#define lttng_ust_field_sequence_network(_t, _n, _p, _lt, _l) __LR_F_SEQ(_t, _n, _p, _lt, _l, 10, 1, 0)
#define lttng_ust_field_sequence_network_hex(_t, _n, _p, _lt, _l) __LR_F_SEQ(_t, _n, _p, _lt, _l, 16, 1, 0)
#define lttng_ust_field_sequence_text(_t, _n, _p, _lt, _l) __LR_F_SEQ(_t, _n, _p, _lt, _l, 10, 0, 1)
#define lttng_ust_field_sequence_nowrite(_t, _n, _p, _lt, _l)
#define lttng_ust_field_sequence_nowrite_hex(_t, _n, _p, _lt, _l)
#define lttng_ust_field_sequence_network_nowrite(_t, _n, _p, _lt, _l)
#define lttng_ust_field_sequence_network_nowrite_hex(_t, _n, _p, _lt, _l)
#define lttng_ust_field_sequence_text_nowrite(_t, _n, _p, _lt, _l)
#define lttng_ust_field_enum(_prov, _en, _it, _n, _e) __LR_F_ENUM(_prov, _en, _it, _n, _e)
#define lttng_ust_field_enum_nowrite(_prov, _en, _it, _n, _e)
#define lttng_ust_field_unused(_e)
#define lttng_ust_field_unused_nowrite(_e)
#define lttng_ust_field_enum_value(_label, _v) __LR_E_VALUE(_label, _v)
#define lttng_ust_field_enum_range(_label, _lo, _hi) __LR_E_RANGE(_label, _lo, _hi)
#define lttng_ust_field_enum_auto(_label) __LR_E_AUTO(_label)

/* The pre-2.13 names, as LTTng-UST 2.13 still accepts them. */
#if LTTNG_UST_COMPAT_API(0)
#define tracepoint lttng_ust_tracepoint
#define do_tracepoint lttng_ust_do_tracepoint
#define tracepoint_enabled lttng_ust_tracepoint_enabled
#define TP_ARGS LTTNG_UST_TP_ARGS
#define TP_FIELDS LTTNG_UST_TP_FIELDS
#define TP_ENUM_VALUES LTTNG_UST_TP_ENUM_VALUES
#define TRACEPOINT_EVENT LTTNG_UST_TRACEPOINT_EVENT
#define TRACEPOINT_EVENT_CLASS LTTNG_UST_TRACEPOINT_EVENT_CLASS
#define TRACEPOINT_EVENT_INSTANCE(_p, _c, _n, ...) \
	LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(_p, _c, _p, _n, LTTNG_UST_TP_ARGS(__VA_ARGS__))
#define TRACEPOINT_ENUM LTTNG_UST_TRACEPOINT_ENUM
#define TRACEPOINT_LOGLEVEL LTTNG_UST_TRACEPOINT_LOGLEVEL
#define TRACEPOINT_MODEL_EMF_URI LTTNG_UST_TRACEPOINT_MODEL_EMF_URI
#define TRACE_EMERG LTTNG_UST_TRACEPOINT_LOGLEVEL_EMERG
#define TRACE_ALERT LTTNG_UST_TRACEPOINT_LOGLEVEL_ALERT
#define TRACE_CRIT LTTNG_UST_TRACEPOINT_LOGLEVEL_CRIT
#define TRACE_ERR LTTNG_UST_TRACEPOINT_LOGLEVEL_ERR
#define TRACE_WARNING LTTNG_UST_TRACEPOINT_LOGLEVEL_WARNING
#define TRACE_NOTICE LTTNG_UST_TRACEPOINT_LOGLEVEL_NOTICE
#define TRACE_INFO LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO
#define TRACE_DEBUG_SYSTEM LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_SYSTEM
#define TRACE_DEBUG_PROGRAM LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_PROGRAM
#define TRACE_DEBUG_PROCESS LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_PROCESS
#define TRACE_DEBUG_MODULE LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_MODULE
#define TRACE_DEBUG_UNIT LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_UNIT
#define TRACE_DEBUG_FUNCTION LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_FUNCTION
#define TRACE_DEBUG_LINE LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_LINE
#define TRACE_DEBUG LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG
#define ctf_integer lttng_ust_field_integer
#define ctf_integer_hex lttng_ust_field_integer_hex
#define ctf_integer_network lttng_ust_field_integer_network
#define ctf_integer_network_hex lttng_ust_field_integer_network_hex
#define ctf_integer_nowrite lttng_ust_field_integer_nowrite
#define ctf_float lttng_ust_field_float
#define ctf_float_nowrite lttng_ust_field_float_nowrite
#define ctf_string lttng_ust_field_string
#define ctf_string_nowrite lttng_ust_field_string_nowrite
#define ctf_array lttng_ust_field_array
#define ctf_array_hex lttng_ust_field_array_hex
#define ctf_array_network lttng_ust_field_array_network
#define ctf_array_network_hex lttng_ust_field_array_network_hex
#define ctf_array_text lttng_ust_field_array_text
#define ctf_array_nowrite lttng_ust_field_array_nowrite
#define ctf_array_nowrite_hex lttng_ust_field_array_nowrite_hex
#define ctf_array_network_nowrite lttng_ust_field_array_network_nowrite
#define ctf_array_network_nowrite_hex lttng_ust_field_array_network_nowrite_hex
#define ctf_array_text_nowrite lttng_ust_field_array_text_nowrite
#define ctf_sequence lttng_ust_field_sequence
#define ctf_sequence_hex lttng_ust_field_sequence_hex
#define ctf_sequence_network lttng_ust_field_sequence_network
#define ctf_sequence_network_hex lttng_ust_field_sequence_network_hex
#define ctf_sequence_text lttng_ust_field_sequence_text
#define ctf_sequence_nowrite lttng_ust_field_sequence_nowrite
#define ctf_sequence_nowrite_hex lttng_ust_field_sequence_nowrite_hex
#define ctf_sequence_network_nowrite lttng_ust_field_sequence_network_nowrite
#define ctf_sequence_network_nowrite_hex lttng_ust_field_sequence_network_nowrite_hex
#define ctf_sequence_text_nowrite lttng_ust_field_sequence_text_nowrite
#define ctf_enum lttng_ust_field_enum
#define ctf_enum_nowrite lttng_ust_field_enum_nowrite
#define ctf_enum_value lttng_ust_field_enum_value
#define ctf_enum_range lttng_ust_field_enum_range
#define ctf_enum_auto lttng_ust_field_enum_auto
#define ctf_unused lttng_ust_field_unused
#define ctf_unused_nowrite lttng_ust_field_unused_nowrite
#endif

/* The declaration meaning of the event macros. */
#include <lttng/ust-rs-declare.h>

#endif /* LTTNG_UST_RS_TRACEPOINT_H */

/*
 * Outside the include guard: re-evaluated at every inclusion, so that a module's
 * LTTNG_UST_TRACEPOINT_DEFINE takes effect whatever was included before it.
 */
#undef __LR_CALLSITE_DEF
#if defined(LTTNG_UST_TRACEPOINT_DEFINE) || defined(TRACEPOINT_DEFINE)

#if defined(LTTNG_UST_TRACEPOINT_PROBE_DYNAMIC_LINKAGE) || defined(TRACEPOINT_PROBE_DYNAMIC_LINKAGE)
#define __LR_PROVIDER_REF(provider) 0
#else
#define __LR_PROVIDER_REF(provider) &lttng_ust_tracepoint_provider_##provider
#endif

#ifdef LTTNG_UST_TRACEPOINT_HIDDEN_DEFINITION
#define __LR_CALLSITE_VISIBILITY __attribute__((visibility("hidden")))
#else
#define __LR_CALLSITE_VISIBILITY __attribute__((visibility("default")))
#endif

/* One call-site object per event per module, listed in its section. */
#define __LR_CALLSITE_DEF(provider, name, ...) \
	__LR_EXTERN_DECL int lttng_ust_tracepoint_provider_##provider; \
	__LR_EXTERN_C struct lttng_ust_rs_callsite lttng_ust_tracepoint_##provider##___##name \
		__LR_CALLSITE_VISIBILITY = { \
		sizeof(struct lttng_ust_rs_callsite), 0, #provider, #name, \
		__LR_STR(__VA_ARGS__), 0, 0, __LR_PROVIDER_REF(provider) }; \
	static struct lttng_ust_rs_callsite *const \
		__lr_callsite_ptr_##provider##___##name \
		__attribute__((used, section("lttng_ust_rs_callsites"))) = \
		&lttng_ust_tracepoint_##provider##___##name;

#ifndef __LR_MODULE_DEFINED
#define __LR_MODULE_DEFINED
#include <dlfcn.h>
#ifdef __cplusplus
extern "C" {
#endif
extern struct lttng_ust_rs_callsite *const __start_lttng_ust_rs_callsites[]
	__attribute__((weak, visibility("hidden")));
extern struct lttng_ust_rs_callsite *const __stop_lttng_ust_rs_callsites[]
	__attribute__((weak, visibility("hidden")));
int __lttng_ust_rs_module_refs __attribute__((weak, visibility("hidden")));
#pragma weak lttng_ust_rs_callsites_register
#pragma weak lttng_ust_rs_callsites_unregister
#ifdef __cplusplus
}
#endif

typedef void (*__lr_callsites_fn)(struct lttng_ust_rs_callsite *const *, size_t);

/* The library's function `name`: linked in, or found once the library is loaded. */
static inline __lr_callsites_fn __lr_library_fn(__lr_callsites_fn linked, const char *name)
{
	void *sym;
	__lr_callsites_fn fn;

	if (linked)
		return linked;
	if (!dlopen("liblttng_ust_rs.so", RTLD_NOW | RTLD_GLOBAL))
		return 0;
	sym = dlsym(RTLD_DEFAULT, name);
	memcpy(&fn, &sym, sizeof(fn));
	return fn;
}

static void __attribute__((constructor, used)) __lttng_ust_rs_module_init(void)
{
	__lr_callsites_fn fn;

	if (__lttng_ust_rs_module_refs++ || !__start_lttng_ust_rs_callsites)
		return;
	fn = __lr_library_fn(lttng_ust_rs_callsites_register, "lttng_ust_rs_callsites_register");
	if (fn)
		fn(__start_lttng_ust_rs_callsites,
		   (size_t)(__stop_lttng_ust_rs_callsites - __start_lttng_ust_rs_callsites));
}

static void __attribute__((destructor, used)) __lttng_ust_rs_module_exit(void)
{
	__lr_callsites_fn fn;

	if (--__lttng_ust_rs_module_refs || !__start_lttng_ust_rs_callsites)
		return;
	fn = lttng_ust_rs_callsites_unregister;
	if (!fn) {
		void *sym = dlsym(RTLD_DEFAULT, "lttng_ust_rs_callsites_unregister");
		memcpy(&fn, &sym, sizeof(fn));
	}
	if (fn)
		fn(__start_lttng_ust_rs_callsites,
		   (size_t)(__stop_lttng_ust_rs_callsites - __start_lttng_ust_rs_callsites));
}
#endif /* __LR_MODULE_DEFINED */

#else
#define __LR_CALLSITE_DEF(provider, name, ...)
#endif
