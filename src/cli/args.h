/* Small helpers shared by the subcommands: strict number parsing and one-line errors. */
#ifndef RX_CLI_ARGS_H
#define RX_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

/* Print "reflex <cmd>: <message>" on stderr; returns the exit code to use (1 or 2). */
int rx_cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rx_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse the whole of s as a number within [lo, hi]; false (with a usage error printed naming
 * flag) otherwise. */
bool rx_cli_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi,
                int64_t *out);
bool rx_cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi,
                  double *out);

/* True when argv[i] is flag and a value follows; prints a usage error if it is missing. */
bool rx_cli_is_flag(const char *cmd, int argc, char **argv, int i, const char *flag,
                    bool *missing);

#endif
