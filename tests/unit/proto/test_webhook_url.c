/* The webhook URL rules (src/proto/webhook_url.c): prefixes with and without a path, a port,
 * host-suffix and user-info tricks, dot segments, schemes, whitespace, an empty list, and a
 * prefix that is no URL admitting nothing. (The fuzz driver tests/fuzz/fuzz_webhook_url.c checks
 * the same rules against a reference on any input.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stt/webhook_url.h"

static void test_allow_list(void **state)
{
    char *items[] = {"https://hooks.example.com/stt/", "http://10.0.0.5:8080"};
    stt_strlist_t allow = {2, items};
    assert_true(stt_webhook_url_allowed(&allow, "https://hooks.example.com/stt/call1"));
    assert_true(stt_webhook_url_allowed(&allow, "https://hooks.example.com/stt/"));
    assert_false(stt_webhook_url_allowed(&allow, "https://hooks.example.com/other"));
    assert_false(stt_webhook_url_allowed(&allow, "http://hooks.example.com/stt/x")); /* scheme */
    assert_false(stt_webhook_url_allowed(&allow, "https://hooks.example.com/stt/../admin"));
    assert_false(stt_webhook_url_allowed(&allow, "https://hooks.example.com/stt/a/.."));
    assert_true(stt_webhook_url_allowed(&allow, "http://10.0.0.5:8080/any/path"));
    assert_true(stt_webhook_url_allowed(&allow, "http://10.0.0.5:8080"));
    assert_true(stt_webhook_url_allowed(&allow, "http://10.0.0.5:8080?x=1"));
    assert_false(stt_webhook_url_allowed(&allow, "http://10.0.0.5:80801/")); /* other port */
    assert_false(stt_webhook_url_allowed(&allow, "http://10.0.0.5:8080.evil.net/"));
    char *host_only[] = {"https://a.example"};
    stt_strlist_t allow2 = {1, host_only};
    assert_true(stt_webhook_url_allowed(&allow2, "https://a.example/hook"));
    assert_true(stt_webhook_url_allowed(&allow2, "https://a.example:8443/hook"));
    assert_false(stt_webhook_url_allowed(&allow2, "https://a.example.evil.net/hook"));
    assert_false(stt_webhook_url_allowed(&allow2, "https://a.example@evil.net/hook"));
    stt_strlist_t none = {0, NULL};
    assert_false(stt_webhook_url_allowed(&none, "https://a.example/hook"));
    assert_false(stt_webhook_url_valid("ftp://a.example/"));
    assert_false(stt_webhook_url_valid("https:///path"));
    assert_false(stt_webhook_url_valid("https://a.example/has space"));
    assert_false(stt_webhook_url_valid("https://user@a.example/"));
    assert_true(stt_webhook_url_valid("https://a.example"));
}

static void test_bad_prefix(void **state)
{
    char *items[] = {"http", "https://ok.example/hooks/"};
    stt_strlist_t allow = {2, items};
    assert_false(stt_webhook_url_allowed(&allow, "http://anything.example/")); /* not via "http" */
    assert_true(stt_webhook_url_allowed(&allow, "https://ok.example/hooks/1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_bad_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
