/* libFuzzer target for the llama2.c checkpoint header and tokenizer.bin checks: the first input
 * byte picks which; the rest is the file. An accepted header must describe exactly the bytes
 * given; a refusal must carry a "llama2c: " / "tokenizer: " message.
 * Run: make fuzz && ./build-fuzz/fuzz_llama2c -max_total_time=60 */
#include <stdlib.h>
#include <string.h>

#include "reflex/llama2c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    bool vocab = data[0] & 1;
    data++;
    size--;
    if (!vocab) {
        rx_llama2c_config c;
        rx_status s = rx_llama2c_parse_header(data, size, &c);
        if (s == RX_OK && (c.weights_bytes != size - 28 || c.vocab_size < 3 || c.dim <= 0)) abort();
        if (s != RX_OK && !strstr(rx_last_error(), "llama2c: ")) abort();
    } else {
        int32_t n_vocab = size >= 2 ? (int32_t)(data[0] | data[1] << 8) : 1;
        rx_status s = rx_llama2c_check_vocab(data, size, n_vocab);
        if (s != RX_OK && (s != RX_ERR_FORMAT || !strstr(rx_last_error(), "tokenizer: "))) abort();
    }
    return 0;
}
