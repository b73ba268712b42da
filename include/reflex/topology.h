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
    bool fallback;                              /* used only when nothing else is eligible */
} rx_upstream_spec;

/* A per-model traffic split, written as
 *   --split 'MODEL=VERSION_A:90,VERSION_B:10;sticky;shadow=VERSION_C'
 * A request for MODEL goes to one version, picked by weight (sticky: by a hash of the request's
 * user, so a user stays on one version while the split holds); VERSION_x are model ids that
 * upstreams serve. A shadow version gets a copy of each request whose answer is discarded, its
 * latency and errors recorded. A/B is 50:50, a canary 95:5, blue-green a switch from 100:0 to
 * 0:100 in one change. */
#define RX_SPLIT_MAX_VERSIONS 8
typedef struct {
    char model[128];
    int n_versions;
    char version[RX_SPLIT_MAX_VERSIONS][128];
    int weight[RX_SPLIT_MAX_VERSIONS]; /* 0..1000; at least one > 0 */
    bool sticky;
    char shadow[128]; /* "" for none */
} rx_split;

#define RX_TOPO_MAX_SPLITS 16

typedef struct {
    rx_tier tier;
    char region[64], site[64];
    int n_upstreams;
    rx_upstream_spec upstreams[RX_TOPO_MAX_UPSTREAMS];
    int n_splits;
    rx_split splits[RX_TOPO_MAX_SPLITS];
} rx_topology;

/* Parses one --split string. RX_ERR_FORMAT naming the field. */
rx_status rx_split_parse(const char *spec, rx_split *out);
/* The version for a request: by a hash of user when sticky and user is set, else by r, a
 * uniform draw in [0, 1). Returns the version's index. */
int rx_split_pick(const rx_split *s, const char *user, double r);

/* Parses one --upstream string into *out. RX_ERR_FORMAT with a message naming the field. */
rx_status rx_upstream_parse(const char *spec, rx_upstream_spec *out);
rx_status rx_tier_parse(const char *s, rx_tier *out);
const char *rx_tier_name(rx_tier t);

/* Does u serve model (by the client-facing id)? Sets the upstream's id when it does. */
bool rx_upstream_serves(const rx_upstream_spec *u, const char *model, const char **upstream_id);
bool rx_upstream_holds_domain(const rx_upstream_spec *u, const char *domain);

#endif
