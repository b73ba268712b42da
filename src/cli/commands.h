/* Every subcommand of the reflex binary: each lives in cli/cmd_<name>.c, parses its own flags,
 * wires library calls together, and returns the process exit code (0 ok, 1 failure, 2 usage). */
#ifndef RX_CLI_COMMANDS_H
#define RX_CLI_COMMANDS_H

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;
} rx_command;

int rx_cmd_inspect(int argc, char **argv);
int rx_cmd_run(int argc, char **argv);
int rx_cmd_perplexity(int argc, char **argv);
int rx_cmd_bench(int argc, char **argv);
int rx_cmd_bench_serve(int argc, char **argv); /* reflex bench serve (load generator) */
int rx_cmd_bench_plot(int argc, char **argv);  /* reflex bench plot (SVG of its reports) */
int rx_cmd_tokenize(int argc, char **argv);
int rx_cmd_quantize(int argc, char **argv);
int rx_cmd_convert(int argc, char **argv);
int rx_cmd_synth(int argc, char **argv);
int rx_cmd_serve(int argc, char **argv);
int rx_cmd_gateway(int argc, char **argv);
int rx_cmd_up(int argc, char **argv);
int rx_cmd_wan(int argc, char **argv);


#endif
