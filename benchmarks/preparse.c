/*
 * The C pre-parse alone: ts_json_preparse() over the catalogue's messages
 * (telemetry_messages.json, without system.network_state), flat and
 * wrapped, in a loop; prints nanoseconds per message, the best of ROUNDS.
 *
 *   cc -O2 -ICSupport/include benchmarks/preparse.c CSupport/*.c \
 *      $(pkg-config --cflags --libs jansson) -lyajl -lcrypto -o /tmp/preparse
 *   /tmp/preparse telemetry_messages.json
 *
 * To compare with another version of CSupport, build the same file against
 * that version's sources (e.g. `git archive REV CSupport | tar -x -C /tmp/old`
 * and -I/tmp/old/CSupport/include /tmp/old/CSupport/*.c).
 */
#include "ts_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 7
#define PASSES 20000

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double run(char **messages, size_t *lengths, size_t count, char *out, size_t out_cap)
{
    double best = 1e18;
    volatile size_t sink = 0;
    for (int round = 0; round < ROUNDS; round++) {
        double begin = now_ns();
        for (int pass = 0; pass < PASSES; pass++) {
            for (size_t i = 0; i < count; i++) {
                ts_json_message m;
                size_t needed;
                if (ts_json_preparse(messages[i], lengths[i], out, out_cap, &needed, &m) == TS_JSON_OK) {
                    sink += m.row_len;
                    ts_json_message_release(&m);
                }
            }
        }
        double per = (now_ns() - begin) / ((double)PASSES * (double)count);
        if (per < best) best = per;
    }
    (void)sink;
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s telemetry_messages.json\n", argv[0]);
        return 2;
    }
    json_error_t error;
    json_t *catalogue = json_load_file(argv[1], 0, &error);
    if (!json_is_array(catalogue)) {
        fprintf(stderr, "%s: %s\n", argv[1], error.text);
        return 1;
    }
    size_t count = 0, bytes = 0;
    char *flat[64], *wrapped[64];
    size_t flat_len[64], wrapped_len[64];
    for (size_t i = 0; i < json_array_size(catalogue) && count < 64; i++) {
        json_t *message = json_array_get(catalogue, i);
        const char *msg = json_string_value(json_object_get(message, "msg"));
        if (msg == NULL || strcmp(msg, "system.network_state") == 0) continue;
        flat[count] = json_dumps(message, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_t *payload = json_deep_copy(message);
        json_t *ts = json_incref(json_object_get(payload, "ts"));
        json_object_del(payload, "ts");
        json_t *envelope = json_pack("{s:i, s:o, s:o}", "id", 1, "ts", ts, "payload", payload);
        wrapped[count] = json_dumps(envelope, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(envelope);
        flat_len[count] = strlen(flat[count]);
        wrapped_len[count] = strlen(wrapped[count]);
        bytes += flat_len[count];
        count++;
    }
    static char out[1 << 20];
    printf("%zu messages, %.0f bytes each on average\n", count, (double)bytes / (double)count);
    printf("flat:    %.0f ns per message\n", run(flat, flat_len, count, out, sizeof(out)));
    printf("wrapped: %.0f ns per message\n", run(wrapped, wrapped_len, count, out, sizeof(out)));
    return 0;
}
