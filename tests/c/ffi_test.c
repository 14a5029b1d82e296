/*
 * Exercises every function of libroost through its header, error paths included, as the
 * control panel would call them. Run by ffi/tests/c_program.rs, also under valgrind.
 *
 * usage: ffi_test CONFIG_FILE DATA_DIR
 */
#include "roost.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        checks++;                                                                    \
        if (!(cond)) {                                                               \
            fprintf(stderr, "FAIL %s:%d: %s (last error: \"%s\")\n", __FILE__,       \
                    __LINE__, #cond, roost_last_error());                           \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* Calls roost_request and checks the code; the reply must contain `needle`. */
static void request(RoostHandle *h, const char *json, RoostCode want, const char *needle) {
    char *out = NULL;
    RoostCode got = roost_request(h, json, &out);
    if (got != want || out == NULL || (needle && !strstr(out, needle))) {
        fprintf(stderr, "FAIL request %s: code %d (want %d), reply %s\n", json, got, want,
                out ? out : "(null)");
        exit(1);
    }
    checks++;
    roost_string_free(out);
}

struct worker {
    RoostHandle *h;
    int n;
    int failures;
};

/* Several threads on one handle: each adds its domains and lists them. */
static void *work(void *arg) {
    struct worker *w = arg;
    char name[64];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "t%d-%d.example", w->n, i);
        if (roost_domain_add(w->h, name) != ROOST_CODE_OK)
            w->failures++;
        char *out = NULL;
        if (roost_request(w->h, "{\"op\":\"domain_list\"}", &out) != ROOST_CODE_OK ||
            !strstr(out, name))
            w->failures++;
        roost_string_free(out);
    }
    /* The last error is per thread: this thread's failure does not show in another. */
    if (roost_domain_add(w->h, "bad domain!") != ROOST_CODE_INVALID ||
        strlen(roost_last_error()) == 0)
        w->failures++;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s CONFIG_FILE DATA_DIR\n", argv[0]);
        return 2;
    }
    const char *config = argv[1], *data = argv[2];
    char bad_utf8[] = {(char)0xff, (char)0xfe, 0};
    char *out = NULL;

    const char *version = roost_version();
    CHECK(version != NULL && strlen(version) > 0);

    /* Opening: NULL out, unreadable configuration, invalid UTF-8, then the real one. */
    RoostHandle *h = NULL;
    CHECK(roost_open(config, data, NULL) == ROOST_CODE_NULL_ARGUMENT);
    CHECK(roost_open("/nonexistent/roost.toml", data, &h) == ROOST_CODE_CONFIG);
    CHECK(strstr(roost_last_error(), "cannot read configuration") != NULL);
    CHECK(roost_open(bad_utf8, data, &h) == ROOST_CODE_INVALID_UTF8);
    CHECK(h == NULL);
    CHECK(roost_open(config, data, &h) == ROOST_CODE_OK && h != NULL);
    CHECK(strcmp(roost_last_error(), "") == 0);

    /* Domains. */
    CHECK(roost_domain_add(h, "example.test") == ROOST_CODE_OK);
    CHECK(roost_domain_add(h, "example.test") == ROOST_CODE_EXISTS);
    CHECK(roost_domain_add(h, "not a domain") == ROOST_CODE_INVALID);
    CHECK(roost_domain_add(NULL, "x.test") == ROOST_CODE_NULL_ARGUMENT);
    CHECK(roost_domain_add(h, NULL) == ROOST_CODE_NULL_ARGUMENT);
    CHECK(roost_domain_add(h, bad_utf8) == ROOST_CODE_INVALID_UTF8);
    CHECK(roost_domain_add(h, "gone.test") == ROOST_CODE_OK);
    CHECK(roost_domain_remove(h, "gone.test") == ROOST_CODE_OK);
    CHECK(roost_domain_remove(h, "gone.test") == ROOST_CODE_NOT_FOUND);

    /* Users. */
    CHECK(roost_user_add(h, "alice@example.test", "correct-horse-battery") == ROOST_CODE_OK);
    CHECK(roost_user_add(h, "alice@example.test", "correct-horse-battery") == ROOST_CODE_EXISTS);
    CHECK(roost_user_add(h, "bob@example.test", "short") == ROOST_CODE_INVALID);
    CHECK(strstr(roost_last_error(), "password") != NULL);
    CHECK(roost_user_add(h, "carol@nowhere.test", "correct-horse-battery") == ROOST_CODE_NOT_FOUND);
    CHECK(roost_user_add(h, "dave@example.test", NULL) == ROOST_CODE_NULL_ARGUMENT);
    CHECK(roost_user_password(h, "alice@example.test", "another-long-password") == ROOST_CODE_OK);
    CHECK(roost_user_password(h, "zed@example.test", "another-long-password") ==
          ROOST_CODE_NOT_FOUND);
    CHECK(roost_user_quota(h, "alice@example.test", 1u << 30) == ROOST_CODE_OK);
    CHECK(roost_user_quota(h, NULL, 0) == ROOST_CODE_NULL_ARGUMENT);
    CHECK(roost_domain_remove(h, "example.test") == ROOST_CODE_CONFLICT);

    /* The JSON entry point: every admin operation, and its errors. */
    request(h, "{\"op\":\"user_show\",\"address\":\"alice@example.test\"}", ROOST_CODE_OK,
            "\"quota\":1073741824");
    request(h, "{\"op\":\"domain_alias_add\",\"alias\":\"example.net\",\"domain\":\"example.test\"}",
            ROOST_CODE_OK, "\"ok\"");
    request(h, "{\"op\":\"alias_add\",\"address\":\"info@example.test\",\"targets\":[\"alice@example.test\"]}",
            ROOST_CODE_OK, "info@example.test");
    request(h, "{\"op\":\"user_list\"}", ROOST_CODE_OK, "alice@example.test");
    request(h, "{\"op\":\"queue_list\"}", ROOST_CODE_OK, "\"queue\"");
    request(h, "{\"op\":\"user_show\",\"address\":\"zed@example.test\"}", ROOST_CODE_NOT_FOUND,
            "\"not_found\"");
    request(h, "{\"op\":\"no_such_op\"}", ROOST_CODE_INVALID, "\"invalid\"");
    request(h, "not json", ROOST_CODE_INVALID, "bad request");
    request(h, "{\"op\":\"domain_add\"}", ROOST_CODE_INVALID, "name");
    CHECK(roost_request(h, "{\"op\":\"domain_list\"}", NULL) == ROOST_CODE_NULL_ARGUMENT);
    CHECK(roost_request(h, NULL, &out) == ROOST_CODE_NULL_ARGUMENT);
    CHECK(roost_request(NULL, "{\"op\":\"domain_list\"}", &out) == ROOST_CODE_NULL_ARGUMENT);
    CHECK(roost_request(h, bad_utf8, &out) == ROOST_CODE_INVALID_UTF8);

    /* Service status and the queue. */
    CHECK(roost_status(h, &out) == ROOST_CODE_OK);
    CHECK(strstr(out, "\"running\":false") != NULL && strstr(out, "\"queue\"") != NULL);
    roost_string_free(out);
    CHECK(roost_status(h, NULL) == ROOST_CODE_NULL_ARGUMENT);
    int running = -1;
    uint32_t pid = 7;
    CHECK(roost_service_status(h, &running, &pid) == ROOST_CODE_OK);
    CHECK(running == 0 && pid == 0);
    CHECK(roost_service_status(h, NULL, NULL) == ROOST_CODE_OK);
    CHECK(roost_service_status(NULL, &running, &pid) == ROOST_CODE_NULL_ARGUMENT);
    RoostQueueCounts counts = {9, 9, 9, 9};
    CHECK(roost_queue_counts(h, &counts) == ROOST_CODE_OK);
    CHECK(counts.queued == 0 && counts.active == 0 && counts.deferred == 0 && counts.held == 0);
    CHECK(roost_queue_counts(h, NULL) == ROOST_CODE_NULL_ARGUMENT);
    CHECK(roost_queue_retry_all(h) == ROOST_CODE_OK);
    CHECK(roost_queue_retry_all(NULL) == ROOST_CODE_NULL_ARGUMENT);
    CHECK(roost_queue_delete(h, "NOSUCHQUEUEID") == ROOST_CODE_NOT_FOUND);
    CHECK(roost_queue_delete(h, NULL) == ROOST_CODE_NULL_ARGUMENT);

    /* Settings: read, refuse an invalid change whole, accept a valid one. */
    CHECK(roost_settings_get(h, &out) == ROOST_CODE_OK);
    CHECK(strstr(out, "\"max_recipients\":100") != NULL);
    roost_string_free(out);
    CHECK(roost_settings_get(h, NULL) == ROOST_CODE_NULL_ARGUMENT);
    CHECK(roost_settings_set(h, "{\"smtp\":{\"max_recipients\":0}}") == ROOST_CODE_INVALID);
    CHECK(strstr(roost_last_error(), "smtp.max_recipients") != NULL);
    CHECK(roost_settings_set(h, "{\"smtp\":{\"max_recipents\":5}}") == ROOST_CODE_INVALID);
    CHECK(roost_settings_set(h, "[1, 2]") == ROOST_CODE_INVALID);
    CHECK(roost_settings_set(h, "{") == ROOST_CODE_INVALID);
    CHECK(roost_settings_set(h, "{\"smtp\":{\"max_recipients\":42}}") == ROOST_CODE_OK);

    /* The DNS check (the test's name server answers nothing: verdicts, not failures). */
    CHECK(roost_dns_check(h, "example.test", &out) == ROOST_CODE_OK);
    CHECK(strstr(out, "\"domains\"") != NULL && strstr(out, "\"ports\"") != NULL);
    roost_string_free(out);
    CHECK(roost_dns_check(h, NULL, &out) == ROOST_CODE_OK);
    roost_string_free(out);
    CHECK(roost_dns_check(h, "bad domain!", &out) == ROOST_CODE_INVALID);
    CHECK(roost_dns_check(h, NULL, NULL) == ROOST_CODE_NULL_ARGUMENT);

    /* One handle, four threads. */
    pthread_t threads[4];
    struct worker workers[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (struct worker){h, i, 0};
        CHECK(pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(workers[i].failures == 0);
    }

    CHECK(roost_user_remove(h, "alice@example.test") == ROOST_CODE_OK);
    CHECK(roost_user_remove(h, "alice@example.test") == ROOST_CODE_NOT_FOUND);
    roost_close(h);

    /* A second handle sees what the first one wrote, the settings included. */
    RoostHandle *again = NULL;
    CHECK(roost_open(config, data, &again) == ROOST_CODE_OK);
    CHECK(roost_settings_get(again, &out) == ROOST_CODE_OK);
    CHECK(strstr(out, "\"max_recipients\":42") != NULL);
    roost_string_free(out);
    request(again, "{\"op\":\"domain_list\"}", ROOST_CODE_OK, "t3-4.example");
    roost_close(again);

    roost_close(NULL);
    roost_string_free(NULL);
    printf("ffi_test: %d checks passed\n", checks);
    return 0;
}
