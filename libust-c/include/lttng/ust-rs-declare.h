/*
 * The declaration meaning of the event macros (no include guard: restored after
 * each run of the probe generator). An event declares its module's call-site object
 * (defined with LTTNG_UST_TRACEPOINT_DEFINE) and the inline function a call site
 * calls once enabled; classes, enumerations, log levels and model URIs declare
 * nothing here.
 */
#pragma GCC system_header

#undef LTTNG_UST_TRACEPOINT_EVENT
#undef LTTNG_UST_TRACEPOINT_EVENT_CLASS
#undef LTTNG_UST_TRACEPOINT_EVENT_INSTANCE
#undef LTTNG_UST_TRACEPOINT_ENUM
#undef LTTNG_UST_TRACEPOINT_LOGLEVEL
#undef LTTNG_UST_TRACEPOINT_MODEL_EMF_URI

#define LTTNG_UST_TRACEPOINT_EVENT(_p, _n, _args, _fields) \
	LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(_p, _n, _p, _n, LTTNG_UST_TP_ARGS(_args))
#define LTTNG_UST_TRACEPOINT_EVENT_CLASS(_p, _c, _args, _fields)
#define LTTNG_UST_TRACEPOINT_ENUM(_p, _en, _values)
#define LTTNG_UST_TRACEPOINT_LOGLEVEL(_p, _n, _level)
#define LTTNG_UST_TRACEPOINT_MODEL_EMF_URI(_p, _n, _uri)

#define LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(_cp, _c, _p, _n, _args) \
	__LR_EXTERN_DECL struct lttng_ust_rs_callsite lttng_ust_tracepoint_##_p##___##_n; \
	__LR_CALLSITE_DEF(_p, _n, _args) \
	static inline void __lttng_ust_tp_cb_##_p##___##_n(__LR_PARAMS(_args)) \
	{ \
		void (*__lr_fn)(void) = __atomic_load_n( \
			&lttng_ust_tracepoint_##_p##___##_n.probe, __ATOMIC_ACQUIRE); \
		if (__lr_fn) \
			((void (*)(void * __LR_DPARAMS(_args))) __lr_fn)( \
				__atomic_load_n(&lttng_ust_tracepoint_##_p##___##_n.data, \
						__ATOMIC_RELAXED) __LR_DARGS(_args)); \
	}
