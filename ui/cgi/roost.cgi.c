/*
 * roost.cgi: the control panel's door into Roost. The NAS web server runs it for requests to
 * the package's UI; it checks the NAS login by running the NAS's own check (on DSM,
 * /usr/syno/synoman/webman/modules/authenticate.cgi, which prints the logged-in user name or
 * nothing), lets administrators through, and hands the JSON body of the request to libroost's
 * one entry point, roost_request(), answering with its JSON.
 *
 *   POST, body {"op": ...}      the admin request; answer {"ok": ...} or {"error": ...}
 *   GET                         the service status ({"op":"status"})
 *   401                         nobody is logged in to the NAS
 *   403                         no SynoToken, a cross-site request, or not an administrator
 *   415                         a POST whose body is not application/json
 *
 * Cross-site request forgery is refused three ways: every request carries DSM's SynoToken
 * (header X-SYNO-TOKEN, or SynoToken= in the query), which is handed to authenticate.cgi as
 * DSM expects, so a token that is not the session's means nobody is logged in; a POST must be
 * application/json, which a plain HTML form cannot send; and a browser's Origin or
 * Sec-Fetch-Site header must say the request comes from the NAS's own pages.
 *
 * Settings come from roost-cgi.conf beside the program (or the file ROOST_CGI_CONF names):
 *   config=/var/packages/roost/var/roost.toml      Roost's configuration
 *   data=/var/packages/roost/var/data              Roost's data folder (default: the config's)
 *   auth_command=/usr/syno/synoman/webman/modules/authenticate.cgi
 *   admin_group=administrators                     members may manage Roost
 *   admin_users=                                   and these users (comma separated)
 */
#define _GNU_SOURCE
#include "roost.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_BODY (1024 * 1024)
#define MAX_SETTING 1024
#define MAX_TOKEN 256

/* What the web server passed in the CGI environment, as far as the checks go. */
struct request {
    const char *method;
    const char *content_type;
    const char *content_length;
    const char *query;
    const char *token_header; /* HTTP_X_SYNO_TOKEN */
    const char *origin;       /* HTTP_ORIGIN */
    const char *host;         /* HTTP_HOST */
    const char *fetch_site;   /* HTTP_SEC_FETCH_SITE */
};

/* An answer that ends the request before it reaches Roost. */
struct verdict {
    int status;
    const char *reason;
    const char *kind;
    const char *message;
};

struct settings {
    char config[MAX_SETTING];
    char data[MAX_SETTING];
    char auth_command[MAX_SETTING];
    char admin_group[MAX_SETTING];
    char admin_users[MAX_SETTING];
};

static void json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void respond(int status, const char *reason, const char *body) {
    printf("Status: %d %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n%s\n",
           status, reason, body);
}

static void respond_error(int status, const char *reason, const char *kind, const char *message) {
    printf("Status: %d %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n",
           status, reason);
    printf("{\"error\":{\"kind\":");
    json_string(stdout, kind);
    printf(",\"message\":");
    json_string(stdout, message);
    printf("}}\n");
}

static void trim(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
}

/* The conf file: ROOST_CGI_CONF, else roost-cgi.conf beside this program. */
static int load_settings(struct settings *st) {
    snprintf(st->auth_command, sizeof st->auth_command, "%s",
             "/usr/syno/synoman/webman/modules/authenticate.cgi");
    snprintf(st->admin_group, sizeof st->admin_group, "%s", "administrators");
    char path[PATH_MAX];
    const char *env = getenv("ROOST_CGI_CONF");
    if (env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
        if (n <= 0)
            return -1;
        path[n] = 0;
        char *slash = strrchr(path, '/');
        if (!slash)
            return -1;
        strcpy(slash + 1, "roost-cgi.conf");
    }
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[2 * MAX_SETTING];
    while (fgets(line, sizeof line, f)) {
        trim(line);
        if (line[0] == '#' || line[0] == 0)
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = 0;
        const char *k = line, *v = eq + 1;
        char *dst = NULL;
        if (!strcmp(k, "config"))
            dst = st->config;
        else if (!strcmp(k, "data"))
            dst = st->data;
        else if (!strcmp(k, "auth_command"))
            dst = st->auth_command;
        else if (!strcmp(k, "admin_group"))
            dst = st->admin_group;
        else if (!strcmp(k, "admin_users"))
            dst = st->admin_users;
        if (dst)
            snprintf(dst, MAX_SETTING, "%s", v);
    }
    fclose(f);
    return 0;
}

/* The NAS's login check prints the user name, or nothing. The CGI environment (cookies,
 * tokens) passes to it unchanged. */
static int logged_in_user(const struct settings *st, char *user, size_t size) {
    user[0] = 0;
    if (st->auth_command[0] == 0 || access(st->auth_command, X_OK) != 0)
        return -1;
    FILE *p = popen(st->auth_command, "r");
    if (!p)
        return -1;
    if (!fgets(user, (int)size, p))
        user[0] = 0;
    /* Drain the rest so the command does not die of SIGPIPE. */
    char sink[256];
    while (fgets(sink, sizeof sink, p)) {
    }
    pclose(p);
    trim(user);
    return 0;
}

static int listed(const char *list, const char *user) {
    char copy[MAX_SETTING];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *tok = strtok_r(copy, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save))
        if (!strcmp(tok, user))
            return 1;
    return 0;
}

static int in_group(const char *group, const char *user) {
    if (!group[0])
        return 0;
    struct group *g = getgrnam(group);
    struct passwd *pw = getpwnam(user);
    if (!g || !pw)
        return 0;
    int n = 64;
    gid_t groups[64];
    if (getgrouplist(user, pw->pw_gid, groups, &n) < 0)
        return 0;
    for (int i = 0; i < n; i++)
        if (groups[i] == g->gr_gid)
            return 1;
    return 0;
}

/* The HTTP status for a libroost code. */
static int http_status(RoostCode code, const char **reason) {
    switch (code) {
    case ROOST_CODE_OK:
        *reason = "OK";
        return 200;
    case ROOST_CODE_INVALID:
    case ROOST_CODE_INVALID_UTF8:
    case ROOST_CODE_NULL_ARGUMENT:
        *reason = "Bad Request";
        return 400;
    case ROOST_CODE_NOT_FOUND:
        *reason = "Not Found";
        return 404;
    case ROOST_CODE_EXISTS:
    case ROOST_CODE_CONFLICT:
        *reason = "Conflict";
        return 409;
    default:
        *reason = "Internal Server Error";
        return 500;
    }
}

static int refuse(struct verdict *v, int status, const char *reason, const char *kind,
                  const char *message) {
    v->status = status;
    v->reason = reason;
    v->kind = kind;
    v->message = message;
    return -1;
}

/* SynoToken=VALUE from a query string: the value's length, or -1 when there is none. */
static int query_token(const char *query, const char **value) {
    const char *p = query;
    while (p && *p) {
        if (!strncmp(p, "SynoToken=", 10)) {
            *value = p + 10;
            return (int)strcspn(p + 10, "&");
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return -1;
}

/* Whether "Origin: scheme://host[:port]" names the host the request was sent to. */
static int same_origin(const char *origin, const char *host) {
    const char *sep = strstr(origin, "://");
    if (!sep || !host || !host[0])
        return 0;
    return !strcmp(sep + 3, host);
}

/* Checks a request before anything is run for it: 0 and the token and body length when it
 * may go on, else -1 with the answer in *v. Reads nothing but *r: the fuzz target calls it. */
static int check_request(const struct request *r, char *token, size_t token_size,
                         long *body_length, struct verdict *v) {
    *body_length = 0;
    token[0] = 0;
    int is_get = r->method && !strcmp(r->method, "GET");
    int is_post = r->method && !strcmp(r->method, "POST");
    if (!is_get && !is_post)
        return refuse(v, 405, "Method Not Allowed", "invalid", "use GET or POST");
    if (r->fetch_site && r->fetch_site[0] && strcmp(r->fetch_site, "same-origin") &&
        strcmp(r->fetch_site, "none"))
        return refuse(v, 403, "Forbidden", "forbidden", "cross-site requests are refused");
    if (r->origin && r->origin[0] && !same_origin(r->origin, r->host))
        return refuse(v, 403, "Forbidden", "forbidden",
                      "the request does not come from this NAS's pages");
    const char *value = r->token_header;
    size_t n = value ? strlen(value) : 0;
    if (n == 0) {
        int q = query_token(r->query, &value);
        n = q > 0 ? (size_t)q : 0;
    }
    if (n == 0)
        return refuse(v, 403, "Forbidden", "forbidden",
                      "the request has no SynoToken (DSM's protection against forged requests)");
    if (n >= token_size || n > MAX_TOKEN)
        return refuse(v, 403, "Forbidden", "forbidden", "the SynoToken is too long");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.' || c == '~'))
            return refuse(v, 403, "Forbidden", "forbidden", "the SynoToken is malformed");
    }
    memcpy(token, value, n);
    token[n] = 0;
    if (is_get)
        return 0;
    /* application/json, perhaps with parameters ("; charset=utf-8"). */
    const char *ct = r->content_type ? r->content_type : "";
    size_t base = strcspn(ct, "; \t");
    if (base != strlen("application/json") || strncasecmp(ct, "application/json", base))
        return refuse(v, 415, "Unsupported Media Type", "invalid",
                      "send the request as Content-Type: application/json");
    char *end = NULL;
    errno = 0;
    long len = r->content_length ? strtol(r->content_length, &end, 10) : 0;
    if (!r->content_length || end == r->content_length || *end || errno || len <= 0)
        return refuse(v, 400, "Bad Request", "invalid", "send the request as a JSON body");
    if (len > MAX_BODY)
        return refuse(v, 413, "Payload Too Large", "invalid", "the request is larger than 1 MiB");
    *body_length = len;
    return 0;
}

static char *read_body(long n, const char **problem) {
    char *body = malloc((size_t)n + 1);
    if (!body) {
        *problem = "out of memory";
        return NULL;
    }
    size_t got = fread(body, 1, (size_t)n, stdin);
    if (got != (size_t)n) {
        free(body);
        *problem = "the request body ended early";
        return NULL;
    }
    body[n] = 0;
    if (strlen(body) != (size_t)n) {
        free(body);
        *problem = "the request body contains a NUL byte";
        return NULL;
    }
    return body;
}

#ifndef ROOST_CGI_NO_MAIN
int main(void) {
    struct request r = {
        .method = getenv("REQUEST_METHOD"),
        .content_type = getenv("CONTENT_TYPE"),
        .content_length = getenv("CONTENT_LENGTH"),
        .query = getenv("QUERY_STRING"),
        .token_header = getenv("HTTP_X_SYNO_TOKEN"),
        .origin = getenv("HTTP_ORIGIN"),
        .host = getenv("HTTP_HOST"),
        .fetch_site = getenv("HTTP_SEC_FETCH_SITE"),
    };
    char token[MAX_TOKEN + 1];
    long body_length = 0;
    struct verdict v;
    if (check_request(&r, token, sizeof token, &body_length, &v) != 0) {
        respond_error(v.status, v.reason, v.kind, v.message);
        return 0;
    }
    struct settings st;
    memset(&st, 0, sizeof st);
    if (load_settings(&st) != 0) {
        respond_error(500, "Internal Server Error", "config",
                      "roost-cgi.conf is missing beside roost.cgi");
        return 0;
    }
    /* DSM's check reads the token from the query string (and the header): a token that is
     * not this session's makes it answer that nobody is logged in. */
    char query[MAX_TOKEN + 16];
    snprintf(query, sizeof query, "SynoToken=%s", token);
    setenv("QUERY_STRING", query, 1);
    setenv("HTTP_X_SYNO_TOKEN", token, 1);
    char user[256];
    if (logged_in_user(&st, user, sizeof user) != 0) {
        respond_error(500, "Internal Server Error", "config",
                      "the NAS login check (auth_command) cannot be run");
        return 0;
    }
    if (user[0] == 0) {
        respond_error(401, "Unauthorized", "unauthorized", "log in to the NAS first");
        return 0;
    }
    if (!listed(st.admin_users, user) && !in_group(st.admin_group, user)) {
        respond_error(403, "Forbidden", "forbidden",
                      "only the NAS's administrators may manage the mail server");
        return 0;
    }

    char *body = NULL;
    const char *request = "{\"op\":\"status\"}";
    if (body_length > 0) {
        const char *problem = NULL;
        body = read_body(body_length, &problem);
        if (!body) {
            respond_error(400, "Bad Request", "invalid", problem);
            return 0;
        }
        request = body;
    }

    RoostHandle *h = NULL;
    RoostCode code = roost_open(st.config[0] ? st.config : NULL, st.data[0] ? st.data : NULL, &h);
    if (code != ROOST_CODE_OK) {
        respond_error(500, "Internal Server Error", "config", roost_last_error());
        free(body);
        return 0;
    }
    char *reply = NULL;
    code = roost_request(h, request, &reply);
    const char *reason = "OK";
    int status = http_status(code, &reason);
    if (reply) {
        respond(status, reason, reply);
        roost_string_free(reply);
    } else {
        respond_error(status, reason, "internal", roost_last_error());
    }
    roost_close(h);
    free(body);
    return 0;
}
#endif
