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
 *   403                         the user is not an administrator
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
#include <unistd.h>

#define MAX_BODY (1024 * 1024)
#define MAX_SETTING 1024

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

static char *read_body(const char **problem) {
    const char *len = getenv("CONTENT_LENGTH");
    long n = len ? strtol(len, NULL, 10) : 0;
    if (n <= 0) {
        *problem = "send the request as a JSON body";
        return NULL;
    }
    if (n > MAX_BODY) {
        *problem = "the request is larger than 1 MiB";
        return NULL;
    }
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

int main(void) {
    struct settings st;
    memset(&st, 0, sizeof st);
    if (load_settings(&st) != 0) {
        respond_error(500, "Internal Server Error", "config",
                      "roost-cgi.conf is missing beside roost.cgi");
        return 0;
    }
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

    const char *method = getenv("REQUEST_METHOD");
    char *body = NULL;
    const char *request = NULL;
    if (method && !strcmp(method, "GET")) {
        request = "{\"op\":\"status\"}";
    } else if (method && !strcmp(method, "POST")) {
        const char *problem = NULL;
        body = read_body(&problem);
        if (!body) {
            respond_error(400, "Bad Request", "invalid", problem);
            return 0;
        }
        request = body;
    } else {
        printf("Status: 405 Method Not Allowed\r\nAllow: GET, POST\r\n"
               "Content-Type: application/json\r\n\r\n"
               "{\"error\":{\"kind\":\"invalid\",\"message\":\"use GET or POST\"}}\n");
        return 0;
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
