/* A provider with every field kind (tests/c: compiled by the tests with cc). */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER refdoc
#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "./refdoc_tp.h"

#if !defined(REFDOC_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define REFDOC_TP_H

#include <lttng/tracepoint.h>
#include <stdbool.h>
#include <stdint.h>

LTTNG_UST_TRACEPOINT_ENUM(refdoc, color,
	LTTNG_UST_TP_ENUM_VALUES(
		lttng_ust_field_enum_value("RED", 0)
		lttng_ust_field_enum_value("GREEN", 1)
		lttng_ust_field_enum_range("WARM", 2, 4)
		lttng_ust_field_enum_auto("NEXT_AUTO")
		lttng_ust_field_enum_value("NEG", -3)
		lttng_ust_field_enum_range("OVERLAP", 3, 10)
		lttng_ust_field_enum_value("q\"uote", 100)))

LTTNG_UST_TRACEPOINT_EVENT(refdoc, ints,
	LTTNG_UST_TP_ARGS(int64_t, v, uint64_t, u, const void *, p),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(int8_t, i8, v)
		lttng_ust_field_integer(uint8_t, u8, u)
		lttng_ust_field_integer(int16_t, i16, v)
		lttng_ust_field_integer(uint16_t, u16, u)
		lttng_ust_field_integer(int32_t, i32, v)
		lttng_ust_field_integer(uint32_t, u32, u)
		lttng_ust_field_integer(int64_t, i64, v)
		lttng_ust_field_integer(uint64_t, u64, u)
		lttng_ust_field_integer(char, c, v)
		lttng_ust_field_integer(bool, b, v)
		lttng_ust_field_integer_hex(int32_t, i32hex, v)
		lttng_ust_field_integer_hex(uint64_t, u64hex, u)
		lttng_ust_field_integer_hex(const void *, vptr, p)
		lttng_ust_field_integer_network(int16_t, n16, v)
		lttng_ust_field_integer_network_hex(uint32_t, n32hex, u)
		lttng_ust_field_integer_nowrite(int, hidden, v)))

LTTNG_UST_TRACEPOINT_LOGLEVEL(refdoc, ints, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

LTTNG_UST_TRACEPOINT_EVENT(refdoc, arrays,
	LTTNG_UST_TP_ARGS(const uint8_t *, bytes, const uint16_t *, shorts, const char *, txt),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_array(uint8_t, a_u8, bytes, 4)
		lttng_ust_field_array_hex(uint8_t, a_u8hex, bytes, 4)
		lttng_ust_field_array(int16_t, a_i16, shorts, 2)
		lttng_ust_field_array_network(uint16_t, a_net16, shorts, 2)
		lttng_ust_field_array_text(char, a_text, txt, 8)
		lttng_ust_field_array_nowrite(uint8_t, a_hidden, bytes, 4)))

LTTNG_UST_TRACEPOINT_EVENT(refdoc, seqs,
	LTTNG_UST_TP_ARGS(const uint8_t *, bytes, const uint16_t *, shorts, const char *, txt, unsigned int, n),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_sequence(uint8_t, s_u8, bytes, uint8_t, n)
		lttng_ust_field_sequence_hex(uint8_t, s_u8hex, bytes, uint16_t, n)
		lttng_ust_field_sequence(int16_t, s_i16, shorts, size_t, n)
		lttng_ust_field_sequence_network(uint16_t, s_net16, shorts, unsigned int, n)
		lttng_ust_field_sequence_text(char, s_text, txt, unsigned int, n)))

LTTNG_UST_TRACEPOINT_EVENT(refdoc, strings,
	LTTNG_UST_TP_ARGS(const char *, s1, const char *, s2),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_string(s1, s1)
		lttng_ust_field_string(s2, s2)
		lttng_ust_field_sequence_text(char, st, s1, size_t, s1 ? 4 : 0)
		lttng_ust_field_float(float, f, 1.5f)
		lttng_ust_field_float(double, d, -2.5e-10)))

LTTNG_UST_TRACEPOINT_EVENT(refdoc, enums,
	LTTNG_UST_TP_ARGS(int, v),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_enum(refdoc, color, int, color, v)
		lttng_ust_field_enum(refdoc, color, uint8_t, color8, v)))

LTTNG_UST_TRACEPOINT_EVENT(refdoc, empty, LTTNG_UST_TP_ARGS(), LTTNG_UST_TP_FIELDS())

LTTNG_UST_TRACEPOINT_EVENT(refdoc, voidargs, LTTNG_UST_TP_ARGS(void),
	LTTNG_UST_TP_FIELDS(lttng_ust_field_integer(int, k, 7)))

LTTNG_UST_TRACEPOINT_EVENT(refdoc, ten,
	LTTNG_UST_TP_ARGS(int, a1, int, a2, int, a3, int, a4, int, a5,
			  int, a6, int, a7, int, a8, int, a9, int, a10),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(int, sum, a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10)))

LTTNG_UST_TRACEPOINT_EVENT_CLASS(refdoc, cls,
	LTTNG_UST_TP_ARGS(int, x, const char *, who),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(int, x, x)
		lttng_ust_field_string(who, who)))

LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(refdoc, cls, refdoc, inst_a,
	LTTNG_UST_TP_ARGS(int, x, const char *, who))
LTTNG_UST_TRACEPOINT_LOGLEVEL(refdoc, inst_a, LTTNG_UST_TRACEPOINT_LOGLEVEL_WARNING)
LTTNG_UST_TRACEPOINT_MODEL_EMF_URI(refdoc, inst_a, "http://example.com/model#inst_a")

LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(refdoc, cls, refdoc, inst_b,
	LTTNG_UST_TP_ARGS(int, x, const char *, who))
LTTNG_UST_TRACEPOINT_LOGLEVEL(refdoc, inst_b, LTTNG_UST_TRACEPOINT_LOGLEVEL_EMERG)

#endif /* REFDOC_TP_H */

#include <lttng/tracepoint-event.h>
