/*
 * The control panel CGI's request checks (ui/cgi/roost.cgi.c) on arbitrary CGI environments:
 * never a crash or an out-of-bounds access (built with AddressSanitizer), and a request let
 * through always has a well-formed token and, for POST, a JSON content type and a body length
 * within the limit. Built and run by scripts/fuzz with clang's libFuzzer.
 */
#define ROOST_CGI_NO_MAIN
#include "../../ui/cgi/roost.cgi.c"

#include <assert.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Eight fields separated by newlines; missing ones are absent (NULL). */
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    const char *field[8] = {0};
    char *p = copy;
    for (int i = 0; i < 8 && p; i++) {
        field[i] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = 0;
    }
    struct request r = {
        .method = field[0],
        .content_type = field[1],
        .content_length = field[2],
        .query = field[3],
        .token_header = field[4],
        .origin = field[5],
        .host = field[6],
        .fetch_site = field[7],
    };
    char token[MAX_TOKEN + 1];
    long length = -1;
    struct verdict v = {0};
    if (check_request(&r, token, sizeof token, &length, &v) == 0) {
        size_t n = strlen(token);
        assert(n > 0 && n <= MAX_TOKEN);
        assert(strspn(token, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.~") == n);
        if (!strcmp(r.method, "POST")) {
            assert(length > 0 && length <= MAX_BODY);
            assert(!strncasecmp(r.content_type, "application/json", 16));
        } else {
            assert(length == 0);
        }
    } else {
        assert(v.status >= 400 && v.status < 500 && v.message && v.kind && v.reason);
    }
    /* The JSON string writer escapes whatever it is given. */
    FILE *sink = fopen("/dev/null", "w");
    if (sink) {
        json_string(sink, copy);
        fclose(sink);
    }
    free(copy);
    return 0;
}
