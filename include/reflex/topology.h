/* The gateway's view of the fleet: its own place (tier, region, site) and its upstreams, each an
 * OpenAI-compatible node with a tier, region, site, the models it serves (with aliases), the
 * data domains it may hold and a weight. Written on the command line as
 *
 *   --upstream
 * 'http://127.0.0.1:8081;tier=access;site=s1;region=r1;domains=public,d1;models=m1,m2=alias;weight=1'
 *
 * (or the same strings as an `upstream:` list in the YAML config file). Parsing is strict: one
 * clear error per mistake, naming the upstream and the field. */
#ifndef REFLEX_TOPOLOGY_H
#define REFLEX_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#include "reflex/status.h"

#define RX_TOPO_MAX_UPSTREAMS 64
#define RX_TOPO_MAX_LIST 16

typedef enum { RX_TIER_ACCESS = 0, RX_TIER_REGIONAL = 1, RX_TIER_CENTRAL = 2 } rx_tier;

typedef struct {
    char name[160]; /* "name=" or host:port */
    char host[128];
    int port;
    rx_tier tier;
    char region[64], site[64];
    int n_domains;
    char domains[RX_TOPO_MAX_LIST][64];         /* "public" when none given */
    int n_models;                               /* 0: serves whatever it reports (any model) */
    char models[RX_TOPO_MAX_LIST][128];         /* the id the gateway's clients use */
    char model_upstream[RX_TOPO_MAX_LIST][128]; /* the id sent upstream (alias target) */
    int weight;                                 /* 1..1000, default 1 */
} rx_upstream_spec;

typedef struct {
    rx_tier tier;
    char region[64], site[64];
    int n_upstreams;
    rx_upstream_spec upstreams[RX_TOPO_MAX_UPSTREAMS];
} rx_topology;

/* Parses one --upstream string into *out. RX_ERR_FORMAT with a message naming the field. */
rx_status rx_upstream_parse(const char *spec, rx_upstream_spec *out);
rx_status rx_tier_parse(const char *s, rx_tier *out);
const char *rx_tier_name(rx_tier t);

/* Does u serve model (by the client-facing id)? Sets the upstream's id when it does. */
bool rx_upstream_serves(const rx_upstream_spec *u, const char *model, const char **upstream_id);
bool rx_upstream_holds_domain(const rx_upstream_spec *u, const char *domain);

#endif
