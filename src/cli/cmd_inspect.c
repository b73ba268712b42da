/* reflex inspect MODEL: what a GGUF file holds (metadata, tensor table, totals) and how much
 * memory running it would take. Reads the file through the validating reader only, so it is
 * safe on any input; text from the file is escaped before it reaches the terminal. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "reflex/gguf.h"

static const char *const usage_text =
    "usage: reflex inspect [--help] MODEL.gguf\n"
    "\n"
    "Prints a GGUF file's metadata (key = value; long arrays summarised), its tensor table\n"
    "(name, type, shape, bytes), totals (parameters, bytes per type) and an estimate of the\n"
    "memory a run needs: the weights (mapped from the file) plus, for models whose\n"
    "<arch>.* keys give the shape, an F16 KV cache at the model's context length\n"
    "(2 x n_layer x n_ctx x n_embd_k_gqa x 2 bytes).\n"
    "\n"
    "Exits 0 on success, 1 if the file cannot be read or is malformed, 2 on a usage error.\n";

/* Prints s with control bytes escaped, so names from a hostile file cannot move the cursor or
 * break a line. Bytes >= 0x80 pass through: they are UTF-8 in every real vocabulary. */
static void put_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p == '\\')
            fputs("\\\\", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

static void print_size(uint64_t bytes)
{
    if (bytes >= (1ull << 30))
        printf("%.2f GiB", (double)bytes / (1ull << 30));
    else if (bytes >= (1ull << 20))
        printf("%.2f MiB", (double)bytes / (1ull << 20));
    else
        printf("%.2f KiB", (double)bytes / 1024);
}

static void print_metadata(const rx_gguf *g)
{
    char value[512];
    printf("metadata: %" PRId64 " keys\n", rx_gguf_n_kv(g));
    for (int64_t i = 0; i < rx_gguf_n_kv(g); i++) {
        rx_gguf_kv_format(g, i, value, sizeof value);
        fputs("  ", stdout);
        put_escaped(stdout, rx_gguf_key(g, i));
        fputs(" = ", stdout);
        put_escaped(stdout, value);
        fputc('\n', stdout);
    }
}

static uint64_t n_elements(const rx_gguf_tensor *t)
{
    return (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
}

static void print_tensors(const rx_gguf *g)
{
    printf("\ntensors: %" PRId64 "\n", rx_gguf_n_tensors(g));
    printf("  %-40s %-8s %-24s %12s\n", "name", "type", "shape", "bytes");
    for (int64_t i = 0; i < rx_gguf_n_tensors(g); i++) {
        const rx_gguf_tensor *t = rx_gguf_tensor_at(g, i);
        char shape[96];
        int n = snprintf(shape, sizeof shape, "[%" PRId64, t->ne[0]);
        for (uint32_t d = 1; d < t->n_dims; d++)
            n += snprintf(shape + n, sizeof shape - (size_t)n, ", %" PRId64, t->ne[d]);
        snprintf(shape + n, sizeof shape - (size_t)n, "]");
        fputs("  ", stdout);
        put_escaped(stdout, t->name);
        printf("%*s %-8s %-24s %12zu\n", (int)(strlen(t->name) < 40 ? 40 - strlen(t->name) : 0), "",
               rx_type_name(t->type), shape, t->nbytes);
    }
}

/* Parameter and byte totals, overall and per tensor type; returns the weight bytes. */
static uint64_t print_totals(const rx_gguf *g)
{
    uint64_t count[RX_TYPE_COUNT] = {0}, params[RX_TYPE_COUNT] = {0}, bytes[RX_TYPE_COUNT] = {0};
    uint64_t all_params = 0, all_bytes = 0;
    for (int64_t i = 0; i < rx_gguf_n_tensors(g); i++) {
        const rx_gguf_tensor *t = rx_gguf_tensor_at(g, i);
        count[t->type]++;
        params[t->type] += n_elements(t);
        bytes[t->type] += t->nbytes;
        all_params += n_elements(t);
        all_bytes += t->nbytes;
    }
    printf("\ntotals: %" PRIu64 " parameters (%.3f M), %" PRIu64 " bytes of weights (", all_params,
           (double)all_params / 1e6, all_bytes);
    print_size(all_bytes);
    printf(")\n");
    for (uint32_t t = 0; t < RX_TYPE_COUNT; t++)
        if (count[t]) {
            printf("  %-8s %5" PRIu64 " tensors %14" PRIu64 " parameters %14" PRIu64 " bytes",
                   rx_type_name(t), count[t], params[t], bytes[t]);
            printf("  %.2f bits/weight\n", 8.0 * (double)bytes[t] / (double)params[t]);
        }
    return all_bytes;
}

/* <arch>.<name> as an unsigned integer; false when absent or not an integer. */
static bool arch_u64(const rx_gguf *g, const char *arch, const char *name, uint64_t *out)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, name);
    return rx_gguf_get_u64(g, key, out) == RX_OK;
}

/* The F16 KV cache at the model's context length, or 0 (with the reason printed) when the
 * metadata does not give the shape. */
static uint64_t kv_cache_bytes(const rx_gguf *g)
{
    rx_str arch_str;
    char arch[64];
    uint64_t n_layer, n_ctx, n_embd, n_head, n_head_kv, key_len;
    if (rx_gguf_get_str(g, "general.architecture", &arch_str) != RX_OK || arch_str.len == 0 ||
        arch_str.len >= sizeof arch || memchr(arch_str.ptr, '\0', arch_str.len)) {
        printf("  KV cache:          n/a (no general.architecture)\n");
        return 0;
    }
    memcpy(arch, arch_str.ptr, arch_str.len);
    arch[arch_str.len] = '\0';
    if (!arch_u64(g, arch, "block_count", &n_layer) ||
        !arch_u64(g, arch, "context_length", &n_ctx) ||
        !arch_u64(g, arch, "embedding_length", &n_embd) ||
        !arch_u64(g, arch, "attention.head_count", &n_head) || n_head == 0) {
        fputs("  KV cache:          n/a (", stdout);
        put_escaped(stdout, arch);
        fputs(".* keys do not give the shape)\n", stdout);
        return 0;
    }
    if (!arch_u64(g, arch, "attention.head_count_kv", &n_head_kv)) n_head_kv = n_head;
    if (!arch_u64(g, arch, "attention.key_length", &key_len)) key_len = n_embd / n_head;
    /* each factor fits 32 bits in any real model; saturate rather than wrap on a hostile one */
    uint64_t embd_k, total = 2 * 2;
    if (__builtin_mul_overflow(key_len, n_head_kv, &embd_k)) embd_k = UINT64_MAX;
    const uint64_t factors[] = {n_layer, n_ctx, embd_k};
    for (int i = 0; i < 3; i++)
        if (__builtin_mul_overflow(total, factors[i], &total)) total = UINT64_MAX;
    printf("  KV cache (F16):    ");
    print_size(total);
    printf("  (2 x %" PRIu64 " layers x %" PRIu64 " ctx x %" PRIu64 " n_embd_k_gqa x 2 bytes)\n",
           n_layer, n_ctx, embd_k);
    return total;
}

static int inspect(const char *path)
{
    rx_gguf *g;
    if (rx_gguf_open(path, &g) != RX_OK) {
        fputs("reflex inspect: ", stderr);
        put_escaped(stderr, rx_last_error()); /* already "<path>: <message>" */
        fputc('\n', stderr);
        return 1;
    }
    printf("file: ");
    put_escaped(stdout, path);
    printf("\nformat: GGUF v%u, alignment %u, data section at byte %zu, %zu bytes (",
           rx_gguf_version(g), rx_gguf_alignment(g), rx_gguf_data_offset(g), rx_gguf_file_size(g));
    print_size(rx_gguf_file_size(g));
    printf(")\n\n");
    print_metadata(g);
    print_tensors(g);
    uint64_t weights = print_totals(g);
    printf("\nmemory estimate:\n  weights (mmap'd):  ");
    print_size(weights);
    printf("\n");
    uint64_t kv = kv_cache_bytes(g);
    printf("  total:             ");
    print_size(weights + kv < weights ? UINT64_MAX : weights + kv);
    printf("\n");
    rx_gguf_close(g);
    return 0;
}

int rx_cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return rx_cli_usage_error("inspect", "unknown option '%s'", argv[i]);
        if (path) return rx_cli_usage_error("inspect", "one model at a time");
        path = argv[i];
    }
    if (!path) return rx_cli_usage_error("inspect", "no model given");
    return inspect(path);
}
