/* Clears the meaning of every event macro and field primitive (no include guard). */
#pragma GCC system_header

#undef LTTNG_UST_TRACEPOINT_EVENT
#undef LTTNG_UST_TRACEPOINT_EVENT_CLASS
#undef LTTNG_UST_TRACEPOINT_EVENT_INSTANCE
#undef LTTNG_UST_TRACEPOINT_ENUM
#undef LTTNG_UST_TRACEPOINT_LOGLEVEL
#undef LTTNG_UST_TRACEPOINT_MODEL_EMF_URI
#undef __LR_F_INT
#undef __LR_F_FLOAT
#undef __LR_F_STRING
#undef __LR_F_ARRAY
#undef __LR_F_SEQ
#undef __LR_F_ENUM
#undef __LR_E_VALUE
#undef __LR_E_RANGE
#undef __LR_E_AUTO

/* An event is its class and one instance of it. */
#define LTTNG_UST_TRACEPOINT_EVENT(_p, _n, _args, _fields) \
	LTTNG_UST_TRACEPOINT_EVENT_CLASS(_p, _n, LTTNG_UST_TP_ARGS(_args), LTTNG_UST_TP_FIELDS(_fields)) \
	LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(_p, _n, _p, _n, LTTNG_UST_TP_ARGS(_args))
#define LTTNG_UST_TRACEPOINT_EVENT_CLASS(_p, _c, _args, _fields)
#define LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(_cp, _c, _p, _n, _args)
#define LTTNG_UST_TRACEPOINT_ENUM(_p, _en, _values)
#define LTTNG_UST_TRACEPOINT_LOGLEVEL(_p, _n, _level)
#define LTTNG_UST_TRACEPOINT_MODEL_EMF_URI(_p, _n, _uri)
#define __LR_F_INT(_t, _n, _e, _base, _net)
#define __LR_F_FLOAT(_t, _n, _e)
#define __LR_F_STRING(_n, _e)
#define __LR_F_ARRAY(_t, _n, _ptr, _N, _base, _net, _text)
#define __LR_F_SEQ(_t, _n, _ptr, _lt, _len, _base, _net, _text)
#define __LR_F_ENUM(_prov, _en, _it, _n, _e)
#define __LR_E_VALUE(_l, _v)
#define __LR_E_RANGE(_l, _a, _b)
#define __LR_E_AUTO(_l)
