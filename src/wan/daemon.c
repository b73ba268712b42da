/* `reflex wan up` and `down`: the namespaces, then the relay as a detached daemon. The daemon
 * holds an exclusive lock on <state>/relay.pid for as long as it lives, so "is it up?" is a lock
 * test, never a guess from a pid that may have been reused; `down` signals the pid only while
 * that lock is held, then waits for the lock to be released. */
#include "wan/internal.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STOP_WAIT_MS 5000

static rx_status need_root(void)
{
    if (geteuid() == 0) return RX_OK;
    return rx_error(RX_ERR_UNSUPPORTED, "needs root (it creates network namespaces)");
}

static rx_status make_dirs(const rx_wan_config *c)
{
    char dir[256];
    rx_wan__state_path(c, "", dir, sizeof dir);
    /* the parent, then the WAN's own folder */
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return rx_error(RX_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    *slash = '/';
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return rx_error(RX_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    return RX_OK;
}

/* Opens the pid file; *locked tells whether we now hold its lock (false: a daemon holds it). */
static int open_pid_file(const rx_wan_config *c, bool create, bool *locked)
{
    char path[256];
    rx_wan__state_path(c, "relay.pid", path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    *locked = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
    return fd;
}

static long read_pid(int fd)
{
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    return n > 0 ? strtol(buf, NULL, 10) : 0;
}

static void remove_state(const rx_wan_config *c)
{
    static const char *const files[] = {"control.sock", "relay.pid", "relay.log"};
    char path[256];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        rx_wan__state_path(c, files[i], path, sizeof path);
        unlink(path);
    }
    rx_wan__state_path(c, "", path, sizeof path);
    rmdir(path);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

/* The daemon's life: relay and control socket up, report on ready_fd, serve until SIGTERM. */
static int daemon_main(const rx_wan_config *c, int pid_fd, int ready_fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(pid_fd, 0) != 0 || pwrite(pid_fd, buf, (size_t)n, 0) != n)
        fprintf(stderr, "reflex wan: cannot write the pid file: %s\n", strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    /* the link's timing should not suffer from the load it carries (the servers and clients
     * of a test share the machine): ahead of ordinary processes, never real-time */
    if (setpriority(PRIO_PROCESS, 0, -10) != 0)
        fprintf(stderr, "reflex wan: running at normal priority: %s\n", strerror(errno));
    struct event_config *ec = event_config_new();
    /* timerfd-backed timers: delays are scheduled to the microsecond, not rounded up to 1 ms */
    if (ec) event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    struct event_base *base = ec ? event_base_new_with_config(ec) : NULL;
    if (ec) event_config_free(ec);
    rx_wan_relay *relay = NULL;
    struct evconnlistener *control = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    rx_status s = base ? RX_OK : rx_error(RX_ERR_NOMEM, "cannot create the event loop");
    if (s == RX_OK) s = rx_wan__relay_create(base, c, &relay);
    if (s == RX_OK) s = rx_wan__control_listen(base, c, relay, &control);
    if (s == RX_OK) {
        sigterm = evsignal_new(base, SIGTERM, on_stop_signal, base);
        sigint = evsignal_new(base, SIGINT, on_stop_signal, base);
        if (!sigterm || !sigint || event_add(sigterm, NULL) || event_add(sigint, NULL))
            s = rx_error(RX_ERR_NOMEM, "cannot watch signals");
    }
    const char *msg = s == RX_OK ? "ok" : rx_last_error();
    if (write(ready_fd, msg, strlen(msg)) < 0) s = RX_ERR_IO; /* the CLI is gone */
    close(ready_fd);
    if (s == RX_OK) {
        fprintf(stderr, "reflex wan: relay for '%s' up (pid %ld)\n", c->name, (long)getpid());
        event_base_dispatch(base);
        fprintf(stderr, "reflex wan: relay for '%s' stopping\n", c->name);
    }
    if (sigterm) event_free(sigterm);
    if (sigint) event_free(sigint);
    if (control) evconnlistener_free(control);
    rx_wan__relay_destroy(relay);
    if (base) event_base_free(base);
    return s == RX_OK ? 0 : 1;
}

/* Forks the daemon; returns once it reports ready (RX_OK) or its error. */
static rx_status start_daemon(const rx_wan_config *c, int pid_fd)
{
    char log_path[256];
    rx_wan__state_path(c, "relay.log", log_path, sizeof log_path);
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) return rx_error(RX_ERR_IO, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(ready[0]);
        close(ready[1]);
        return rx_error(RX_ERR_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(ready[0]);
        setsid();
        if (chdir("/") != 0) _exit(1); /* hold no caller's folder busy */
        /* nothing of the caller's stdio stays open: a test reading our output must see EOF */
        int null = open("/dev/null", O_RDONLY);
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (null >= 0) dup2(null, 0);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        if (null > 2) close(null);
        if (log > 2) close(log);
        /* exit, not _exit: under sanitizers the leak check runs and reports to relay.log */
        exit(daemon_main(c, pid_fd, ready[1]));
    }
    close(ready[1]);
    char msg[1024];
    size_t len = rx_wan__read_all(ready[0], msg, sizeof msg);
    close(ready[0]);
    if (strcmp(msg, "ok") == 0) return RX_OK;
    return rx_error(RX_ERR_IO, "the relay did not start: %s", len ? msg : "it exited");
}

rx_status rx_wan_up(const rx_wan_config *c)
{
    rx_status s = need_root();
    if (s == RX_OK) s = make_dirs(c);
    if (s != RX_OK) return s;
    bool locked;
    int pid_fd = open_pid_file(c, true, &locked);
    if (pid_fd < 0) return rx_error(RX_ERR_IO, "cannot open the pid file: %s", strerror(errno));
    if (!locked) {
        long pid = read_pid(pid_fd);
        close(pid_fd);
        return rx_error(RX_ERR_INVALID_ARG,
                        "wan '%s' is already up (relay pid %ld); 'reflex wan down' stops it",
                        c->name, pid);
    }
    s = rx_wan__netns_create(c);
    /* a refusal because a namespace exists leaves that namespace alone */
    bool made = s == RX_OK || s != RX_ERR_INVALID_ARG;
    if (s == RX_OK) s = start_daemon(c, pid_fd);
    close(pid_fd); /* the daemon holds the lock through its own copy */
    if (s != RX_OK && made) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", rx_last_error());
        int found;
        rx_wan__netns_delete(c, &found);
        remove_state(c);
        rx_error(s, "%s", msg);
    }
    return s;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

rx_status rx_wan_down(const rx_wan_config *c, int *was_up)
{
    *was_up = 0;
    rx_status s = need_root();
    if (s != RX_OK) return s;
    bool locked;
    int pid_fd = open_pid_file(c, false, &locked);
    if (pid_fd >= 0 && !locked) {
        *was_up = 1;
        long pid = read_pid(pid_fd);
        if (pid > 1) kill((pid_t)pid, SIGTERM);
        for (int waited = 0; !locked; waited += 10) {
            if (waited == STOP_WAIT_MS && pid > 1) kill((pid_t)pid, SIGKILL);
            if (waited > 2 * STOP_WAIT_MS) {
                close(pid_fd);
                return rx_error(RX_ERR_IO, "the relay (pid %ld) does not stop", pid);
            }
            sleep_ms(10);
            locked = flock(pid_fd, LOCK_EX | LOCK_NB) == 0;
        }
    }
    if (pid_fd >= 0) close(pid_fd);
    int found;
    s = rx_wan__netns_delete(c, &found);
    if (found > 0) *was_up = 1;
    if (s == RX_OK) remove_state(c);
    return s;
}
