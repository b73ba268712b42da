/* reflex up: the embedded default, one node and one gateway on localhost in one process tree.
 * Starts `reflex serve` on a free port, then `reflex gateway` in front of it on --port (8080),
 * prints the URL, a curl example and where the metrics are, and on Ctrl-C or SIGTERM stops both
 * (each drains) and exits. With --once it sends one request through the gateway, prints the
 * answer and stops: the README's first command uses that, so it ends by itself. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"

extern char **environ;

static const char usage[] =
    "usage: reflex up [-m MODEL] [--port N] [-np N] [-t N] [--once [PROMPT]]\n"
    "\n"
    "Runs the embedded default: a node (reflex serve) and a gateway (reflex gateway) in front\n"
    "of it, on 127.0.0.1. Ctrl-C stops both cleanly.\n"
    "\n"
    "  -m, --model FILE   GGUF model (default ../shared/models/stories260K.gguf)\n"
    "  --port N           the gateway's port (default 8080); the node takes a free port\n"
    "  -np, --parallel N  node slots (default 4)\n"
    "  -t, --threads N    node threads (default: the node's default)\n"
    "  --once [PROMPT]    send one completion through the gateway, print it, and stop\n"
    "  -h, --help         this help\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Spawns `self args...` with stderr on a pipe; returns the pid, or -1. */
static pid_t spawn(char *const *args, int *err_fd)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    *err_fd = fds[0];
    return pid;
}

/* Reads the child's stderr until "listening on port N" (echoing it); returns N or -1. */
static int wait_port(int fd, const char *who)
{
    char line[4096];
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r <= 0) return -1;
        if (c != '\n' && n + 1 < sizeof line) {
            line[n++] = c;
            continue;
        }
        line[n] = '\0';
        n = 0;
        const char *p = strstr(line, "listening on port ");
        if (p) return atoi(p + 18);
        fprintf(stderr, "[%s] %s\n", who, line);
    }
}

/* After start-up, children's stderr goes straight to ours. */
static void forward_rest(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    char buf[4096];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        if (write(2, buf, (size_t)r) < 0) break;
    }
}

/* One completion through the gateway over a plain socket; prints the JSON answer. */
static int ask(int port, const char *prompt)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        if (s >= 0) close(s);
        return -1;
    }
    char body[1024], req[2048];
    int bl = snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":64,\"temperature\":0}",
                      prompt);
    int rl = snprintf(req, sizeof req,
                      "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      "application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
                      bl, body);
    if (write(s, req, (size_t)rl) != rl) {
        close(s);
        return -1;
    }
    char buf[8192];
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof buf && (r = read(s, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(s);
    const char *json = strstr(buf, "\r\n\r\n");
    printf("%s\n", json ? json + 4 : buf);
    return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
}

static bool has_quote(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) return true;
    return false;
}

int rx_cmd_up(int argc, char **argv)
{
    const char *model = "../shared/models/stories260K.gguf", *np = "4", *threads = NULL;
    const char *once = NULL;
    int64_t port = 8080, v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--once") == 0) {
            once = i + 1 < argc && argv[i + 1][0] != '-' ? argv[++i] : "Once upon a time";
            if (has_quote(once))
                return rx_cli_usage_error("up", "--once: keep the prompt to plain text");
            continue;
        }
        if (i + 1 >= argc)
            return rx_cli_usage_error("up", "unknown option or missing value '%s'", a);
        const char *val = argv[++i];
        if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0)
            model = val;
        else if (strcmp(a, "--port") == 0) {
            if (!rx_cli_int("up", a, val, 0, 65535, &port)) return 2;
        } else if (strcmp(a, "-np") == 0 || strcmp(a, "--parallel") == 0) {
            if (!rx_cli_int("up", a, val, 1, 256, &v)) return 2;
            np = val;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            if (!rx_cli_int("up", a, val, 1, 256, &v)) return 2;
            threads = val;
        } else
            return rx_cli_usage_error("up", "unknown option '%s'", a);
    }
    if (access(model, R_OK) != 0)
        return rx_cli_fail("up", "cannot read the model '%s' (give one with -m)", model);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char *node_args[16] = {"reflex", "serve", "-m",       (char *)model, "--port",
                           "0",      "-np",   (char *)np, "--quiet"};
    int na = 9;
    if (threads) {
        node_args[na++] = "-t";
        node_args[na++] = (char *)threads;
    }
    node_args[na] = NULL;
    int node_err = -1, gw_err = -1;
    pid_t node = spawn(node_args, &node_err);
    int node_port = node > 0 ? wait_port(node_err, "node") : -1;
    if (node_port <= 0) {
        if (node > 0) kill(node, SIGTERM), waitpid(node, NULL, 0);
        return rx_cli_fail("up", "the node did not start (see above)");
    }
    char upstream[256], port_s[16];
    snprintf(upstream, sizeof upstream, "http://127.0.0.1:%d;tier=access;site=local;name=node-1",
             node_port);
    snprintf(port_s, sizeof port_s, "%d", (int)port);
    char *gw_args[] = {"reflex", "gateway", "--upstream", upstream,  "--port",
                       port_s,   "--site",  "local",      "--quiet", NULL};
    pid_t gw = spawn(gw_args, &gw_err);
    int gw_port = gw > 0 ? wait_port(gw_err, "gateway") : -1;
    int rc = 0;
    if (gw_port <= 0) {
        rx_cli_fail("up", "the gateway did not start on port %d (see above)", (int)port);
        rc = 1;
        stop_requested = 1;
    } else {
        printf("reflex is up: node on 127.0.0.1:%d, gateway on http://127.0.0.1:%d\n"
               "  try:     curl -s http://127.0.0.1:%d/v1/completions -H 'Content-Type: "
               "application/json' -d '{\"prompt\":\"Once upon a time\",\"max_tokens\":32}'\n"
               "  metrics: http://127.0.0.1:%d/metrics (gateway), http://127.0.0.1:%d/metrics "
               "(node)\n"
               "  stop:    Ctrl-C\n",
               node_port, gw_port, gw_port, gw_port, node_port);
        fflush(stdout);
    }
    if (once && !stop_requested) {
        /* the gateway polls the node before its first request; one retry covers a cold start */
        int tries = 0;
        while (ask(gw_port, once) != 0 && ++tries < 3)
            usleep(200000);
        if (tries == 3) rc = 1;
        stop_requested = 1;
    }
    int node_status = 0, gw_status = 0;
    bool node_alive = true, gw_alive = gw > 0;
    while (!stop_requested && node_alive && gw_alive) {
        forward_rest(node_err);
        forward_rest(gw_err);
        if (waitpid(node, &node_status, WNOHANG) == node) node_alive = false;
        if (gw > 0 && waitpid(gw, &gw_status, WNOHANG) == gw) gw_alive = false;
        usleep(100000);
    }
    /* the gateway first (it drains its clients), then the node */
    if (gw_alive) {
        kill(gw, SIGTERM);
        waitpid(gw, &gw_status, 0);
    }
    if (node_alive) {
        kill(node, SIGTERM);
        waitpid(node, &node_status, 0);
    }
    forward_rest(node_err);
    if (gw_err >= 0) forward_rest(gw_err);
    close(node_err);
    if (gw_err >= 0) close(gw_err);
    if (rc == 0 && (!WIFEXITED(node_status) || WEXITSTATUS(node_status) != 0 ||
                    (gw > 0 && (!WIFEXITED(gw_status) || WEXITSTATUS(gw_status) != 0))))
        rc = rx_cli_fail("up", "a child did not stop cleanly");
    if (rc == 0) fprintf(stderr, "reflex up: stopped\n");
    return rc;
}
