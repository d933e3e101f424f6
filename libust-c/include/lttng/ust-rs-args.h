/*
 * Argument lists of LTTNG_UST_TP_ARGS(type, name, ...): 0 to 10 (type, name) pairs,
 * `()` or `(void)` for none. Internal to the tracepoint headers.
 */
#ifndef LTTNG_UST_RS_ARGS_H
#define LTTNG_UST_RS_ARGS_H

#pragma GCC system_header

#define __LR_CAT_(a, b) a##b
#define __LR_CAT(a, b) __LR_CAT_(a, b)
#define __LR_STR_(...) #__VA_ARGS__
#define __LR_STR(...) __LR_STR_(__VA_ARGS__)

/* How many macro arguments (an empty list counts 1, like `void`). */
#define __LR_NARGS(...) __LR_NARGS_(__VA_ARGS__, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define __LR_NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, _19, _20, _21, _22, N, ...) N

/* The probe's parameter list, with and without the leading data pointer; the
 * argument names; and `(void)name;` for each, against unused-parameter warnings. */
#define __LR_PARAMS(...) __LR_CAT(__LR_PARAMS_, __LR_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define __LR_DPARAMS(...) __LR_CAT(__LR_DPARAMS_, __LR_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define __LR_DARGS(...) __LR_CAT(__LR_DARGS_, __LR_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define __LR_VOIDS(...) __LR_CAT(__LR_VOIDS_, __LR_NARGS(__VA_ARGS__))(__VA_ARGS__)

/* No arguments: `()` or `(void)`. */
#define __LR_PARAMS_1(x) void
#define __LR_DPARAMS_1(x)
#define __LR_DARGS_1(x)
#define __LR_VOIDS_1(x)

#define __LR_PARAMS_2(_t1, _n1) _t1 _n1
#define __LR_DPARAMS_2(_t1, _n1) , _t1 _n1
#define __LR_DARGS_2(_t1, _n1) , _n1
#define __LR_VOIDS_2(_t1, _n1) (void)_n1;
#define __LR_PARAMS_4(_t1, _n1, _t2, _n2) _t1 _n1, _t2 _n2
#define __LR_DPARAMS_4(_t1, _n1, _t2, _n2) , _t1 _n1, _t2 _n2
#define __LR_DARGS_4(_t1, _n1, _t2, _n2) , _n1, _n2
#define __LR_VOIDS_4(_t1, _n1, _t2, _n2) (void)_n1; (void)_n2;
#define __LR_PARAMS_6(_t1, _n1, _t2, _n2, _t3, _n3) _t1 _n1, _t2 _n2, _t3 _n3
#define __LR_DPARAMS_6(_t1, _n1, _t2, _n2, _t3, _n3) , _t1 _n1, _t2 _n2, _t3 _n3
#define __LR_DARGS_6(_t1, _n1, _t2, _n2, _t3, _n3) , _n1, _n2, _n3
#define __LR_VOIDS_6(_t1, _n1, _t2, _n2, _t3, _n3) (void)_n1; (void)_n2; (void)_n3;
#define __LR_PARAMS_8(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4) _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4
#define __LR_DPARAMS_8(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4) , _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4
#define __LR_DARGS_8(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4) , _n1, _n2, _n3, _n4
#define __LR_VOIDS_8(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4) (void)_n1; (void)_n2; (void)_n3; (void)_n4;
#define __LR_PARAMS_10(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5) _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5
#define __LR_DPARAMS_10(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5) , _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5
#define __LR_DARGS_10(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5) , _n1, _n2, _n3, _n4, _n5
#define __LR_VOIDS_10(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5) (void)_n1; (void)_n2; (void)_n3; (void)_n4; (void)_n5;
#define __LR_PARAMS_12(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6) _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5, _t6 _n6
#define __LR_DPARAMS_12(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6) , _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5, _t6 _n6
#define __LR_DARGS_12(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6) , _n1, _n2, _n3, _n4, _n5, _n6
#define __LR_VOIDS_12(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6) (void)_n1; (void)_n2; (void)_n3; (void)_n4; (void)_n5; (void)_n6;
#define __LR_PARAMS_14(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7) _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5, _t6 _n6, _t7 _n7
#define __LR_DPARAMS_14(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7) , _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5, _t6 _n6, _t7 _n7
#define __LR_DARGS_14(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7) , _n1, _n2, _n3, _n4, _n5, _n6, _n7
#define __LR_VOIDS_14(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7) (void)_n1; (void)_n2; (void)_n3; (void)_n4; (void)_n5; (void)_n6; (void)_n7;
#define __LR_PARAMS_16(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8) _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5, _t6 _n6, _t7 _n7, _t8 _n8
#define __LR_DPARAMS_16(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8) , _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5, _t6 _n6, _t7 _n7, _t8 _n8
#define __LR_DARGS_16(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8) , _n1, _n2, _n3, _n4, _n5, _n6, _n7, _n8
#define __LR_VOIDS_16(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8) (void)_n1; (void)_n2; (void)_n3; (void)_n4; (void)_n5; (void)_n6; (void)_n7; (void)_n8;
#define __LR_PARAMS_18(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8, _t9, _n9) _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5, _t6 _n6, _t7 _n7, _t8 _n8, _t9 _n9
#define __LR_DPARAMS_18(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8, _t9, _n9) , _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5, _t6 _n6, _t7 _n7, _t8 _n8, _t9 _n9
#define __LR_DARGS_18(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8, _t9, _n9) , _n1, _n2, _n3, _n4, _n5, _n6, _n7, _n8, _n9
#define __LR_VOIDS_18(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8, _t9, _n9) (void)_n1; (void)_n2; (void)_n3; (void)_n4; (void)_n5; (void)_n6; (void)_n7; (void)_n8; (void)_n9;
#define __LR_PARAMS_20(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8, _t9, _n9, _t10, _n10) _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5, _t6 _n6, _t7 _n7, _t8 _n8, _t9 _n9, _t10 _n10
#define __LR_DPARAMS_20(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8, _t9, _n9, _t10, _n10) , _t1 _n1, _t2 _n2, _t3 _n3, _t4 _n4, _t5 _n5, _t6 _n6, _t7 _n7, _t8 _n8, _t9 _n9, _t10 _n10
#define __LR_DARGS_20(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8, _t9, _n9, _t10, _n10) , _n1, _n2, _n3, _n4, _n5, _n6, _n7, _n8, _n9, _n10
#define __LR_VOIDS_20(_t1, _n1, _t2, _n2, _t3, _n3, _t4, _n4, _t5, _n5, _t6, _n6, _t7, _n7, _t8, _n8, _t9, _n9, _t10, _n10) (void)_n1; (void)_n2; (void)_n3; (void)_n4; (void)_n5; (void)_n6; (void)_n7; (void)_n8; (void)_n9; (void)_n10;

/* More than 10 pairs. */
#define __LR_PARAMS_22(...) lttng_ust_tp_args_takes_at_most_10_type_name_pairs
#define __LR_DPARAMS_22(...) , lttng_ust_tp_args_takes_at_most_10_type_name_pairs
#define __LR_DARGS_22(...)
#define __LR_VOIDS_22(...)

#endif /* LTTNG_UST_RS_ARGS_H */
