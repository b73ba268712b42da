/* The WAN's namespaces, made with iproute2's `ip` (one command per step, so a failure names the
 * step). Host i is namespace <name>-<host> with its service address 10.77.0.(i+1) on lo. Link k
 * between hosts a and b is namespace <name>-l<k> joined to each end by a veth pair, created
 * directly inside the namespaces (no name ever appears in the root namespace, so parallel WANs
 * cannot clash):
 *
 *   <name>-<a>  to-<b> 10.78.k.1/30 <-> a 10.78.k.2/30  <name>-l<k>  b 10.78.k.5/30
 * <-> 10.78.k.6/30 to-<a>  <name>-<b>
 *
 * The link namespace holds both service addresses on its lo, and each end routes the other's
 * service address into it, where the relay listens; it does not forward IP, so the only way
 * across is through the relay. */
#include "wan/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

extern char **environ;

#define NETNS_DIR "/run/netns"

void rx_wan__link_netns(const rx_wan_config *c, int link, char *buf, size_t size)
{
    snprintf(buf, size, "%s-l%d", c->name, link);
}

uint32_t rx_wan__veth_addr(int link, int which)
{
    static const uint32_t last[4] = {1, 2, 5, 6};
    return 0x0a4e0000u | ((uint32_t)link << 8) | last[which]; /* host order */
}

static void addr_str(uint32_t host_order, int prefix, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u/%d", host_order >> 24, (host_order >> 16) & 255,
             (host_order >> 8) & 255, host_order & 255, prefix);
}

/* Runs `ip args...` (NULL-terminated); a failure carries the command and ip's first error line. */
static rx_status run_ip(const char *const *args)
{
    char *argv[24];
    int n = 0;
    argv[n++] = "ip";
    for (; args[n - 1] && n < 23; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return rx_error(RX_ERR_IO, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "ip", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return rx_error(RX_ERR_UNSUPPORTED, "cannot run 'ip' (iproute2): %s", strerror(rc));
    }
    char err[512];
    rx_wan__read_all(fds[0], err, sizeof err);
    close(fds[0]);
    err[strcspn(err, "\n")] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return RX_OK;
    char cmd[256] = "ip";
    for (int i = 1; argv[i]; i++)
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s", argv[i]);
    return rx_error(RX_ERR_IO, "'%s' failed: %s", cmd, err[0] ? err : "no message");
}

#define IP(...) run_ip((const char *const[]){__VA_ARGS__, NULL})

int rx_wan__netns_open(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, NETNS_DIR "/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) rx_error(RX_ERR_NOT_FOUND, "network namespace '%s' is missing", name);
    return fd;
}

static bool netns_exists(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, NETNS_DIR "/%s", name);
    return access(path, F_OK) == 0;
}

/* A new namespace copies the root's ip_forward; ours must not route around the relay. */
static rx_status forwarding_off(const char *ns)
{
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd = rx_wan__netns_open(ns);
    rx_status s = RX_OK;
    if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        s = rx_error(RX_ERR_IO, "cannot enter namespace '%s': %s", ns, strerror(errno));
    } else {
        int f = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
        if (f < 0 || write(f, "0\n", 2) != 2)
            s = rx_error(RX_ERR_IO, "cannot turn off ip_forward in '%s': %s", ns, strerror(errno));
        if (f >= 0) close(f);
        if (setns(self, CLONE_NEWNET) != 0)
            s = rx_error(RX_ERR_IO, "cannot return to the root namespace: %s", strerror(errno));
    }
    if (fd >= 0) close(fd);
    if (self >= 0) close(self);
    return s;
}

static rx_status make_host(const rx_wan_config *c, int h)
{
    char ns[64], addr[32];
    rx_wan_host_netns(c, h, ns, sizeof ns);
    addr_str(ntohl(rx_wan_service_addr(h)), 32, addr, sizeof addr);
    rx_status s = IP("netns", "add", ns);
    if (s == RX_OK) s = IP("-n", ns, "link", "set", "dev", "lo", "up");
    if (s == RX_OK) s = IP("-n", ns, "addr", "add", addr, "dev", "lo");
    if (s == RX_OK) s = forwarding_off(ns);
    return s;
}

static rx_status make_link(const rx_wan_config *c, int k)
{
    const rx_wan_link *l = &c->links[k];
    char ns[64], ns_a[64], ns_b[64], if_a[20], if_b[20];
    char va[32], vla[32], vlb[32], vb[32], sa[32], sb[32], gw_a[32], gw_b[32];
    rx_wan__link_netns(c, k, ns, sizeof ns);
    rx_wan_host_netns(c, l->a, ns_a, sizeof ns_a);
    rx_wan_host_netns(c, l->b, ns_b, sizeof ns_b);
    snprintf(if_a, sizeof if_a, "to-%s", c->hosts[l->b].name); /* in a, towards b */
    snprintf(if_b, sizeof if_b, "to-%s", c->hosts[l->a].name); /* in b, towards a */
    addr_str(rx_wan__veth_addr(k, 0), 30, va, sizeof va);
    addr_str(rx_wan__veth_addr(k, 1), 30, vla, sizeof vla);
    addr_str(rx_wan__veth_addr(k, 2), 30, vlb, sizeof vlb);
    addr_str(rx_wan__veth_addr(k, 3), 30, vb, sizeof vb);
    addr_str(ntohl(rx_wan_service_addr(l->a)), 32, sa, sizeof sa);
    addr_str(ntohl(rx_wan_service_addr(l->b)), 32, sb, sizeof sb);
    addr_str(rx_wan__veth_addr(k, 1), 32, gw_a, sizeof gw_a);
    addr_str(rx_wan__veth_addr(k, 2), 32, gw_b, sizeof gw_b);
    gw_a[strcspn(gw_a, "/")] = '\0';
    gw_b[strcspn(gw_b, "/")] = '\0';

    rx_status s = IP("netns", "add", ns);
    if (s == RX_OK) s = forwarding_off(ns);
    if (s == RX_OK) s = IP("-n", ns, "link", "set", "dev", "lo", "up");
    if (s == RX_OK)
        s = IP("link", "add", "name", if_a, "netns", ns_a, "type", "veth", "peer", "name", "a",
               "netns", ns);
    if (s == RX_OK)
        s = IP("link", "add", "name", if_b, "netns", ns_b, "type", "veth", "peer", "name", "b",
               "netns", ns);
    if (s == RX_OK) s = IP("-n", ns_a, "addr", "add", va, "dev", if_a);
    if (s == RX_OK) s = IP("-n", ns, "addr", "add", vla, "dev", "a");
    if (s == RX_OK) s = IP("-n", ns, "addr", "add", vlb, "dev", "b");
    if (s == RX_OK) s = IP("-n", ns_b, "addr", "add", vb, "dev", if_b);
    if (s == RX_OK) s = IP("-n", ns, "addr", "add", sa, "dev", "lo");
    if (s == RX_OK) s = IP("-n", ns, "addr", "add", sb, "dev", "lo");
    if (s == RX_OK) s = IP("-n", ns_a, "link", "set", "dev", if_a, "up");
    if (s == RX_OK) s = IP("-n", ns, "link", "set", "dev", "a", "up");
    if (s == RX_OK) s = IP("-n", ns, "link", "set", "dev", "b", "up");
    if (s == RX_OK) s = IP("-n", ns_b, "link", "set", "dev", if_b, "up");
    if (s == RX_OK) s = IP("-n", ns_a, "route", "add", sb, "via", gw_a);
    if (s == RX_OK) s = IP("-n", ns_b, "route", "add", sa, "via", gw_b);
    return s;
}

rx_status rx_wan__netns_create(const rx_wan_config *c)
{
    char ns[64];
    for (int i = 0; i < c->n_hosts + c->n_links; i++) {
        if (i < c->n_hosts)
            rx_wan_host_netns(c, i, ns, sizeof ns);
        else
            rx_wan__link_netns(c, i - c->n_hosts, ns, sizeof ns);
        if (netns_exists(ns))
            return rx_error(RX_ERR_INVALID_ARG,
                            "network namespace '%s' exists already (left by an earlier run? "
                            "'reflex wan down' removes it)",
                            ns);
    }
    rx_status s = RX_OK;
    for (int h = 0; s == RX_OK && h < c->n_hosts; h++)
        s = make_host(c, h);
    for (int k = 0; s == RX_OK && k < c->n_links; k++)
        s = make_link(c, k);
    return s;
}

rx_status rx_wan__netns_delete(const rx_wan_config *c, int *found)
{
    char ns[64];
    rx_status first = RX_OK;
    *found = 0;
    /* links first: deleting a namespace takes its veth ends, and so the pairs, with it */
    for (int i = c->n_links + c->n_hosts - 1; i >= 0; i--) {
        if (i >= c->n_hosts)
            rx_wan__link_netns(c, i - c->n_hosts, ns, sizeof ns);
        else
            rx_wan_host_netns(c, i, ns, sizeof ns);
        if (!netns_exists(ns)) continue;
        (*found)++;
        rx_status s = IP("netns", "del", ns);
        if (s != RX_OK && first == RX_OK) first = s;
    }
    return first;
}
