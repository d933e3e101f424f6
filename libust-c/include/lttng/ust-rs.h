/*
 * The C interface of lttng-rs's userspace tracer (liblttng_ust_rs): what the
 * tracepoint headers generate code against. Programs use the LTTng-UST macros of
 * <lttng/tracepoint.h>, not these names; they are documented here because they are
 * the library's stable ABI (version LTTNG_UST_RS_ABI).
 *
 * - A provider (the translation unit that defines LTTNG_UST_TRACEPOINT_CREATE_PROBES)
 *   registers its event descriptions and probe functions with
 *   lttng_ust_rs_provider_register() from a constructor.
 * - A module that defines LTTNG_UST_TRACEPOINT_DEFINE registers its call sites
 *   with lttng_ust_rs_callsites_register(). The library connects each call site to
 *   the probe of the same provider:event and argument signature, and keeps its
 *   `state` word non-zero while a session records the event: a disabled call site
 *   costs one load of `state` and a branch.
 * - A probe records an event with lttng_ust_rs_reserve(), writes exactly the
 *   announced payload at slot.dst, and calls lttng_ust_rs_commit(), which returns
 *   non-zero when the same event is to be written again for another session.
 */
#ifndef LTTNG_UST_RS_H
#define LTTNG_UST_RS_H

#pragma GCC system_header

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LTTNG_UST_RS_ABI 1

enum lttng_ust_rs_field_kind {
	LTTNG_UST_RS_INTEGER = 1,
	LTTNG_UST_RS_FLOAT = 2,
	LTTNG_UST_RS_STRING = 3,
	LTTNG_UST_RS_ARRAY = 4,
	LTTNG_UST_RS_SEQUENCE = 5,
	LTTNG_UST_RS_ENUM = 6
};

struct lttng_ust_rs_enum_entry {
	const char *label;
	int64_t start;
	int64_t end;
	uint8_t is_auto;	/* value: previous entry's end + 1 (0 for the first) */
	uint8_t padding[7];
};

struct lttng_ust_rs_enum {
	const char *name;
	const struct lttng_ust_rs_enum_entry *entries;
	uint32_t count;
};

struct lttng_ust_rs_field {
	const char *name;
	uint8_t kind;		/* enum lttng_ust_rs_field_kind */
	uint8_t size;		/* bytes of the integer, float or element */
	uint8_t is_signed;
	uint8_t base;		/* 10 or 16 */
	uint8_t network;	/* recorded big-endian */
	uint8_t text;		/* UTF-8 text elements */
	uint8_t length_size;	/* bytes of a sequence's length */
	uint8_t length_signed;
	uint32_t length;	/* elements of an array */
	const struct lttng_ust_rs_enum *enum_desc;
};

struct lttng_ust_rs_event {
	uint32_t struct_size;
	const char *provider;
	const char *name;
	const int *loglevel;		/* NULL: LTTng's default, DEBUG_LINE */
	const char *const *model_emf_uri;	/* NULL when not declared */
	const char *signature;
	const struct lttng_ust_rs_field *fields;
	uint32_t nr_fields;
	void (*probe)(void);
};

struct lttng_ust_rs_provider {
	uint32_t struct_size;
	uint32_t abi;
	const char *name;
	const struct lttng_ust_rs_event *const *events;
	uint32_t nr_events;
};

struct lttng_ust_rs_callsite {
	uint32_t struct_size;
	int32_t state;		/* non-zero: the event is recorded */
	const char *provider;
	const char *name;
	const char *signature;
	void (*probe)(void);	/* set by the library */
	void *data;		/* set by the library: the probe's first argument */
	int *provider_ref;
};

struct lttng_ust_rs_slot {
	void *dst;
	uint64_t opaque[8];
};

int lttng_ust_rs_provider_register(const struct lttng_ust_rs_provider *provider);
void lttng_ust_rs_provider_unregister(const struct lttng_ust_rs_provider *provider);
void lttng_ust_rs_callsites_register(struct lttng_ust_rs_callsite *const *start, size_t count);
void lttng_ust_rs_callsites_unregister(struct lttng_ust_rs_callsite *const *start, size_t count);
int lttng_ust_rs_reserve(void *event, size_t payload_len, struct lttng_ust_rs_slot *slot);
int lttng_ust_rs_commit(struct lttng_ust_rs_slot *slot);

/* tracef and tracelog: the state words of their events, and their recorders. */
extern int32_t lttng_ust_rs_tracef_state;
extern int32_t lttng_ust_rs_tracelog_state[15];
void lttng_ust_rs_tracef_record(const char *msg, size_t len);
void lttng_ust_rs_tracelog_record(int level, const char *file, int line, const char *func,
		const char *msg, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* LTTNG_UST_RS_H */
