/* Unit tests for src/base/pyfmt.c: the string builder, json.dumps() of scalars and flat objects,
 * and str()/repr() of cJSON values.
 *
 * Every expected string is what CPython 3.11 prints for the same value (json.dumps(x), str(x),
 * repr(x); for invalid UTF-8, json.dumps(b.decode('utf-8', 'replace'))). The cases where we
 * knowingly print something else are in test_documented_deviations, with Python's output next to
 * ours. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/pyfmt.h"

/* Compares what a writer put into sb with `expected` and frees sb. `what` names the input in
 * the failure message. */
static void expect(stt_sbuf_t *sb, const char *expected, const char *what)
{
    if (strcmp(stt_sbuf_str(sb), expected) != 0)
        fail_msg("%s: got '%s', expected '%s'", what, stt_sbuf_str(sb), expected);
    assert_int_equal(sb->len, strlen(expected));
    stt_sbuf_dispose(sb);
}

static void check_json_string(const char *s, const char *expected)
{
    stt_sbuf_t sb = {0};
    stt_pyfmt_json_string(&sb, s);
    expect(&sb, expected, s);
}

static void check_json_value(const cJSON *v, int as_float, const char *expected)
{
    stt_sbuf_t sb = {0};
    stt_pyfmt_json_value(&sb, v, as_float);
    expect(&sb, expected, expected);
}

/* Checks one of the two float formatters on d. */
static void check_double(void (*format)(stt_sbuf_t *, double), const char *name, double d,
                         const char *expected)
{
    char what[64];
    snprintf(what, sizeof(what), "%s(%.17g)", name, d);
    stt_sbuf_t sb = {0};
    format(&sb, d);
    expect(&sb, expected, what);
}

static void check_json_float(double d, const char *expected)
{
    check_double(stt_pyfmt_json_float, "json_float", d, expected);
    /* A float-typed value goes through the same formatter. */
    cJSON *v = cJSON_CreateNumber(d);
    check_json_value(v, 1, expected);
    cJSON_Delete(v);
}

static void check_json_int(double d, const char *expected)
{
    cJSON *v = cJSON_CreateNumber(d);
    check_json_value(v, 0, expected);
    cJSON_Delete(v);
}

static void check_number(double d, const char *expected)
{
    check_double(stt_pyfmt_number, "number", d, expected);
}

/* Checks str() and repr() of v. */
static void check_value_str_repr(const cJSON *v, const char *str, const char *repr,
                                 const char *what)
{
    stt_sbuf_t sb = {0};
    stt_pyfmt_str(&sb, v);
    expect(&sb, str, what);
    stt_pyfmt_repr(&sb, v);
    expect(&sb, repr, what);
}

/* Parses json and checks str() and repr() of the value. */
static void check_str_repr(const char *json, const char *str, const char *repr)
{
    cJSON *v = cJSON_Parse(json);
    assert_non_null(v);
    check_value_str_repr(v, str, repr, json);
    cJSON_Delete(v);
}

/* ---- the string builder ---------------------------------------------------------------------- */

static void test_sbuf(void **state)
{
    (void)state;
    stt_sbuf_t sb = {0};
    assert_string_equal(stt_sbuf_str(&sb), "");
    stt_sbuf_put(&sb, "", 0);
    assert_non_null(sb.buf);
    assert_string_equal(sb.buf, "");

    stt_sbuf_put(&sb, "abcdef", 3);
    stt_sbuf_puts(&sb, "-");
    stt_sbuf_putc(&sb, 'x');
    stt_sbuf_printf(&sb, "[%d %s]", 42, "y");
    assert_string_equal(sb.buf, "abc-x[42 y]");
    assert_int_equal(sb.len, 11);

    /* Growth past the first allocation, by put and by printf. */
    for (int i = 0; i < 100; i++)
        stt_sbuf_puts(&sb, "0123456789");
    stt_sbuf_printf(&sb, "%0600d", 7);
    assert_int_equal(sb.len, 11 + 1000 + 600);
    assert_int_equal(strlen(sb.buf), sb.len);
    assert_true(sb.cap > sb.len);
    assert_int_equal(sb.buf[sb.len - 1], '7');

    /* copy truncates like snprintf. */
    char small[5];
    stt_sbuf_copy(&sb, small, sizeof(small));
    assert_string_equal(small, "abc-");
    char one[1] = {'z'};
    stt_sbuf_copy(&sb, one, sizeof(one));
    assert_int_equal(one[0], '\0');

    stt_sbuf_dispose(&sb);
    assert_null(sb.buf);
    assert_int_equal(sb.len, 0);
    assert_int_equal(sb.cap, 0);
    stt_sbuf_dispose(&sb);
    stt_sbuf_dispose(NULL);

    stt_sbuf_t empty = {0};
    stt_sbuf_copy(&empty, small, sizeof(small));
    assert_string_equal(small, "");
}

/* ---- json.dumps() ---------------------------------------------------------------------------- */

static void test_json_strings(void **state)
{
    (void)state;
    check_json_string("", "\"\"");
    check_json_string("plain", "\"plain\"");
    check_json_string("say \"hi\"", "\"say \\\"hi\\\"\"");
    check_json_string("back\\slash /", "\"back\\\\slash /\"");
    check_json_string("ctl\x01\x08\x0c\n\r\t\x1f\x7f",
                      "\"ctl\\u0001\\b\\f\\n\\r\\t\\u001f\\u007f\"");
    check_json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                      "\"caf\\u00e9 \\u20ac \\ud83d\\ude00\"");
    /* Invalid UTF-8: each bad byte is one U+FFFD, as bytes.decode('utf-8', 'replace') gives. */
    check_json_string("a\xff"
                      "b",
                      "\"a\\ufffdb\"");
    check_json_string("\x80", "\"\\ufffd\"");
    check_json_string("\xc3(", "\"\\ufffd(\"");
}

/* ---- numbers --------------------------------------------------------------------------------- */

/* Python floats both formatters print as Python does: value, json.dumps(value), str(value). */
static const struct {
    double value;
    const char *json;
    const char *str;
} FLOATS[] = {
    {0.1, "0.1", "0.1"},
    {1e-07, "1e-07", "1e-07"},
    {1e+16, "1e+16", "1e+16"},
    {NAN, "NaN", "nan"},
    {INFINITY, "Infinity", "inf"},
    {-INFINITY, "-Infinity", "-inf"},
    {0.05, "0.05", "0.05"},
    {-2.75, "-2.75", "-2.75"},
    {0.30000000000000004, "0.30000000000000004", "0.30000000000000004"},
    {1.5e-07, "1.5e-07", "1.5e-07"},
    {123456.789, "123456.789", "123456.789"},
};

static void test_floats(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(FLOATS) / sizeof(FLOATS[0]); i++) {
        check_json_float(FLOATS[i].value, FLOATS[i].json);
        check_number(FLOATS[i].value, FLOATS[i].str);
    }
    /* Integral floats: json.dumps keeps the ".0"; str() of a cJSON number drops it below 1e15
     * (see test_documented_deviations). */
    check_json_float(1.0, "1.0");
    check_json_float(2.0, "2.0");
    check_json_float(-0.0, "-0.0");
    check_number(1e15, "1000000000000000.0");
    check_number(-42, "-42");
}

static void test_json_ints(void **state)
{
    (void)state;
    check_json_int(0, "0");
    check_json_int(-3, "-3");
    check_json_int(42, "42");
    check_json_int(999999999999999.0, "999999999999999");
    /* Not integral, or too large to be sure it was an int: printed as a float. */
    check_json_int(0.5, "0.5");
    check_json_int(1e16, "1e+16");
}

static void test_json_other_scalars(void **state)
{
    (void)state;
    cJSON *t = cJSON_CreateTrue(), *f = cJSON_CreateFalse(), *n = cJSON_CreateNull();
    cJSON *s = cJSON_CreateString("it's");
    check_json_value(t, 0, "true");
    check_json_value(f, 1, "false");
    check_json_value(n, 0, "null");
    check_json_value(NULL, 0, "null");
    check_json_value(s, 0, "\"it's\"");
    cJSON_Delete(t);
    cJSON_Delete(f);
    cJSON_Delete(n);
    cJSON_Delete(s);
}

static void test_json_object(void **state)
{
    (void)state;
    cJSON *st = cJSON_CreateString("success"), *pn = cJSON_CreateString("silero_sensitivity");
    cJSON *val = cJSON_CreateNumber(0.05), *rid = cJSON_CreateNumber(0);
    stt_pyfmt_kv_t kv[] = {
        {"status", st, 0}, {"parameter", pn, 0}, {"value", val, 1}, {"request_id", rid, 0}};
    stt_sbuf_t sb = {0};
    stt_pyfmt_json_object(&sb, kv, 4);
    assert_string_equal(sb.buf, "{\"status\": \"success\", \"parameter\": \"silero_sensitivity\", "
                                "\"value\": 0.05, \"request_id\": 0}");
    stt_sbuf_dispose(&sb);

    cJSON *es = cJSON_CreateString("error");
    cJSON *msg = cJSON_CreateString("Parameter caf\xc3\xa9 is not allowed");
    stt_pyfmt_kv_t err[] = {{"status", es, 0}, {"message", msg, 0}};
    stt_pyfmt_json_object(&sb, err, 2);
    assert_string_equal(sb.buf, "{\"status\": \"error\", "
                                "\"message\": \"Parameter caf\\u00e9 is not allowed\"}");
    stt_sbuf_dispose(&sb);

    stt_pyfmt_json_object(&sb, NULL, 0);
    assert_string_equal(sb.buf, "{}");
    stt_sbuf_dispose(&sb);

    cJSON_Delete(st);
    cJSON_Delete(pn);
    cJSON_Delete(val);
    cJSON_Delete(rid);
    cJSON_Delete(es);
    cJSON_Delete(msg);
}

/* ---- str() and repr() ------------------------------------------------------------------------ */

static void test_str_repr(void **state)
{
    (void)state;
    check_str_repr("true", "True", "True");
    check_str_repr("null", "None", "None");
    check_str_repr("0.5", "0.5", "0.5");
    check_str_repr("\"top \\\"level\\\"\"", "top \"level\"", "'top \"level\"'");
    check_str_repr("\"it's\"", "it's", "\"it's\"");
    check_str_repr("\"both ' and \\\"\"", "both ' and \"", "'both \\' and \"'");
    check_str_repr("\"\\u0001\\u001f\\u007f\\r\"", "\x01\x1f\x7f\r", "'\\x01\\x1f\\x7f\\r'");
    check_str_repr("\"caf\\u00e9\"", "caf\xc3\xa9", "'caf\xc3\xa9'");
    check_str_repr("[[\"nested\", [\"deep\", null]], {}]", "[['nested', ['deep', None]], {}]",
                   "[['nested', ['deep', None]], {}]");
    const char *dict = "{'a': [1, 'x', True, None, 0.5], 'b': {\"it's\": 'say \"hi\"', "
                       "'q': \"it's\"}, 'c': 'tab\\there\\\\', 'd': [], 'e': {}}";
    check_str_repr("{\"a\": [1, \"x\", true, null, 0.5], \"b\": {\"it's\": \"say \\\"hi\\\"\", "
                   "\"q\": \"it's\"}, \"c\": \"tab\\there\\\\\", \"d\": [], \"e\": {}}",
                   dict, dict);
    check_value_str_repr(NULL, "None", "None", "NULL");
}

/* ---- where we differ from Python, on purpose or knowingly ------------------------------------ */

/* Whole values print as json.dumps prints them: nested arrays and objects with ", " and ": ",
 * keys in order (the RealtimeSTT data events; a request_id that is a list). */
static void test_json_dumps_nested(void **state)
{
    (void)state;
    cJSON *v = cJSON_Parse("[1, {\"a\": 2}]");
    check_json_value(v, 0, "[1, {\"a\": 2}]");
    cJSON_Delete(v);
    v = cJSON_Parse("{\"type\":\"fullSentence\",\"text\":\"Caf\u00e9 ok.\",\"segments\":"
                    "[{\"start\":0.5,\"end\":1,\"words\":[]}],\"x\":{}}");
    char *out = stt_pyfmt_json_dumps(v);
    assert_string_equal(out, "{\"type\": \"fullSentence\", \"text\": \"Caf\\u00e9 ok.\", "
                             "\"segments\": [{\"start\": 0.5, \"end\": 1, \"words\": []}], "
                             "\"x\": {}}");
    free(out);
    cJSON_Delete(v);
}

/* json.dumps() of a float is repr(): integral values keep ".0" up to 1e16 (a regression test:
 * the writer once placed digits by %g's rule, so set_parameter of 10 answered "set to 1e+01"). */
static void test_json_float_is_repr(void **state)
{
    (void)state;
    check_json_float(10.0, "10.0");
    check_json_float(100.0, "100.0");
    check_json_float(3600.0, "3600.0");
    check_json_float(1712345600.0, "1712345600.0");
    check_json_float(1e15, "1000000000000000.0");
    check_json_float(1e16, "1e+16");
    check_json_float(0.0001, "0.0001");
    check_json_float(0.00001, "1e-05");
    check_json_float(1764947391.123456, "1764947391.123456");
}

static void test_documented_deviations(void **state)
{
    (void)state;
    /* cJSON keeps 1.0 and 1 as the same double; str() prints integral values as ints because
     * clients mostly send ints (Python: str(1.0) is "1.0"). */
    check_number(1.0, "1");
    check_str_repr("[2.0]", "[2]", "[2]");


    /* Invalid UTF-8 is replaced byte by byte where Python's decoder replaces a truncated
     * sequence once, and overlong forms and surrogates are decoded where Python refuses them
     * (Python: "\ufffdx", "\ufffd\ufffd", "\ufffd\ufffd\ufffd"). */
    check_json_string("\xe2\x82x", "\"\\ufffd\\ufffdx\"");
    check_json_string("\xc0\xaf", "\"/\"");
    check_json_string("\xed\xa0\x80", "\"\\ud800\"");
    /* The overlong NUL decodes to U+0000 (Python: "\ufffd\ufffd"). */
    check_json_string("\xc0\x80", "\"\\u0000\"");


    /* repr() escapes only ASCII control characters; non-ASCII passes through as UTF-8 even where
     * Python escapes it as not printable (Python: repr('\xa0') is "'\\xa0'"). */
    check_str_repr("\"\\u00a0\"", "\xc2\xa0", "'\xc2\xa0'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sbuf),
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_json_ints),
        cmocka_unit_test(test_json_other_scalars),
        cmocka_unit_test(test_json_object),
        cmocka_unit_test(test_str_repr),
        cmocka_unit_test(test_json_float_is_repr),
        cmocka_unit_test(test_json_dumps_nested),
        cmocka_unit_test(test_documented_deviations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
