/*
 * PostgreSQL's side of the server's insert, one form against another: the
 * same rows (the catalogue's messages without system.network_state, cycled)
 * go into tetcore_logs of a migrated database, one batch per statement
 * and transaction, with binary parameters as the server sends them. Only
 * the statements are timed; the client waits for each, so the time is the
 * backend's (and its commits'). Forms, alternated in every round:
 *
 *   unnest    the server's statement (BatchWriter.insertStatement),
 *             prepared, with three binary arrays
 *   unprepared  the same statement sent unprepared (PQexecParams), as the
 *             server did before it prepared it
 *   values    the same with `VALUES ($3, $4, $5), …` instead of unnest,
 *             prepared, one binary parameter per value
 *   copy      COPY … FROM STDIN (text), one COPY per batch
 *   copy-all  one COPY of every row (what benchmarks/ingest.py's limit does
 *             in each of its sessions)
 *
 *   cc -O2 benchmarks/insert_forms.c $(pkg-config --cflags --libs jansson) \
 *      -I$(pg_config --includedir) -lpq -o /tmp/insert_forms
 *   createdb forms && DATABASE_URL=…/forms tetcore-analytics migrate
 *   /tmp/insert_forms telemetry_messages.json postgres://…/forms 409600 1024 5
 *
 * Arguments: catalogue, conninfo, rows, rows per batch, rounds. Prints each
 * form's time per row for every round, then the medians.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MESSAGES 64
#define FORMS 5

static const char *form_names[FORMS] = {"unnest", "values", "copy", "copy-all", "unprepared"};

static const char *unnest_sql =
    "WITH marker AS (INSERT INTO ingest_batches (id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id) "
    "INSERT INTO tetcore_logs (peer_connection_id, created_at, logs, audit, peerset_hashes) "
    "SELECT rows.peer_connection_id, rows.created_at, rows.logs, $5::bool, "
    "CASE WHEN rows.logs->>'msg' = 'system.network_state' THEN tetcore_peerset_hashes(rows.logs) END "
    "FROM unnest($2::int4[], $3::timestamp[], $4::jsonb[]) AS rows (peer_connection_id, created_at, logs) "
    "WHERE EXISTS (SELECT 1 FROM marker)";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

static void check(PGconn *conn, PGresult *res, ExecStatusType want, const char *what)
{
    if (PQresultStatus(res) != want) {
        fprintf(stderr, "%s: %s", what, PQerrorMessage(conn));
        exit(1);
    }
    PQclear(res);
}

static void exec(PGconn *conn, const char *sql)
{
    check(conn, PQexec(conn, sql), PGRES_COMMAND_OK, sql);
}

/* The messages as jsonb binary values (version byte 1, then the text). */
struct catalogue {
    size_t count;
    char *text[MAX_MESSAGES];
    size_t length[MAX_MESSAGES];
};

/* One batch's three binary arrays (array_recv's format). */
static size_t build_arrays(const struct catalogue *c, size_t first, size_t rows, int64_t micros,
                           unsigned char *ids, unsigned char *times, unsigned char *docs, size_t *ids_len,
                           size_t *times_len)
{
    unsigned char *bufs[3] = {ids, times, docs};
    uint32_t oids[3] = {23, 1114, 3802};
    for (int a = 0; a < 3; a++) {
        put_u32(bufs[a], 1); put_u32(bufs[a] + 4, 0); put_u32(bufs[a] + 8, oids[a]);
        put_u32(bufs[a] + 12, (uint32_t)rows); put_u32(bufs[a] + 16, 1);
    }
    size_t i_off = 20, t_off = 20, d_off = 20;
    for (size_t r = 0; r < rows; r++) {
        size_t m = (first + r) % c->count;
        put_u32(ids + i_off, 4); put_u32(ids + i_off + 4, 1); i_off += 8;
        put_u32(times + t_off, 8); put_u64(times + t_off + 4, (uint64_t)(micros + (int64_t)(first + r))); t_off += 12;
        put_u32(docs + d_off, (uint32_t)(c->length[m] + 1));
        docs[d_off + 4] = 1;
        memcpy(docs + d_off + 5, c->text[m], c->length[m]);
        d_off += 5 + c->length[m];
    }
    *ids_len = i_off;
    *times_len = t_off;
    return d_off;
}

static char *values_sql(size_t rows)
{
    size_t cap = 512 + rows * 64;
    char *sql = malloc(cap);
    size_t n = (size_t)snprintf(sql, cap,
        "WITH marker AS (INSERT INTO ingest_batches (id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id) "
        "INSERT INTO tetcore_logs (peer_connection_id, created_at, logs, audit, peerset_hashes) "
        "SELECT v.peer_connection_id, v.created_at, v.logs, $2::bool, "
        "CASE WHEN v.logs->>'msg' = 'system.network_state' THEN tetcore_peerset_hashes(v.logs) END "
        "FROM (VALUES ");
    for (size_t r = 0; r < rows; r++) {
        size_t p = 3 + 3 * r;
        n += (size_t)snprintf(sql + n, cap - n, r == 0 ? "($%zu::int4, $%zu::timestamp, $%zu::jsonb)"
                                                       : ", ($%zu, $%zu, $%zu)", p, p + 1, p + 2);
    }
    snprintf(sql + n, cap - n, ") AS v (peer_connection_id, created_at, logs) WHERE EXISTS (SELECT 1 FROM marker)");
    return sql;
}

/* Inserts `total` rows in batches of `batch` with one form; seconds taken by the statements. */
static double run_form(PGconn *conn, int form, const struct catalogue *c, size_t total, size_t batch, int round)
{
    if (form == 3) batch = total; /* one COPY, one transaction */
    size_t doc_cap = 20 + batch * 5;
    for (size_t m = 0; m < c->count; m++) doc_cap += c->length[m] * (batch / c->count + 1);
    unsigned char *ids = malloc(20 + batch * 8), *times = malloc(20 + batch * 12), *docs = malloc(doc_cap);
    size_t params_cap = 2 + 3 * batch;
    const char **values = malloc(params_cap * sizeof *values);
    int *lengths = malloc(params_cap * sizeof *lengths), *formats = malloc(params_cap * sizeof *formats);
    char *copy_buf = malloc(doc_cap * 2 + batch * 64);
    /* Now, in microseconds since 2000-01-01: rows go to today's partition. */
    int64_t micros = ((int64_t)time(NULL) - 946684800) * 1000000;
    double spent = 0;
    char id[64];
    unsigned char audit = 0;
    for (size_t first = 0; first < total; first += batch) {
        size_t rows = total - first < batch ? total - first : batch;
        size_t ids_len, times_len;
        size_t docs_len = build_arrays(c, first, rows, micros, ids, times, docs, &ids_len, &times_len);
        snprintf(id, sizeof id, "forms-%d-%d-%zu", round, form, first);
        double begin = now_s();
        if (form == 0 || form == 4) {
            const char *v[5] = {id, (char *)ids, (char *)times, (char *)docs, (char *)&audit};
            int l[5] = {0, (int)ids_len, (int)times_len, (int)docs_len, 1}, f[5] = {0, 1, 1, 1, 1};
            Oid t[5] = {0, 1007, 1115, 3807, 16};
            PGresult *res = form == 0 ? PQexecPrepared(conn, "unnest", 5, v, l, f, 0)
                                      : PQexecParams(conn, unnest_sql, 5, t, v, l, f, 0);
            check(conn, res, PGRES_COMMAND_OK, form_names[form]);
        } else if (form == 1 && rows == batch) {
            values[0] = id; lengths[0] = 0; formats[0] = 0;
            values[1] = (char *)&audit; lengths[1] = 1; formats[1] = 1;
            size_t d = 20;
            for (size_t r = 0; r < rows; r++) {
                size_t p = 2 + 3 * r;
                values[p] = (char *)ids + 20 + r * 8 + 4; lengths[p] = 4; formats[p] = 1;
                values[p + 1] = (char *)times + 20 + r * 12 + 4; lengths[p + 1] = 8; formats[p + 1] = 1;
                uint32_t len = ((uint32_t)docs[d] << 24) | ((uint32_t)docs[d + 1] << 16)
                             | ((uint32_t)docs[d + 2] << 8) | docs[d + 3];
                values[p + 2] = (char *)docs + d + 4; lengths[p + 2] = (int)len; formats[p + 2] = 1;
                d += 4 + len;
            }
            check(conn, PQexecPrepared(conn, "values", (int)(2 + 3 * rows), values, lengths, formats, 0),
                  PGRES_COMMAND_OK, "values");
        } else if (form == 1) {
            fprintf(stderr, "rows must be a multiple of the batch size\n");
            exit(2);
        } else {
            /* COPY text: JSON needs its backslashes doubled; the catalogue has no tabs or newlines. */
            size_t n = 0;
            for (size_t r = 0; r < rows; r++) {
                size_t m = (first + r) % c->count;
                int64_t t = micros + (int64_t)(first + r);
                time_t seconds = (time_t)(t / 1000000 + 946684800);
                struct tm tm;
                gmtime_r(&seconds, &tm);
                n += strftime(copy_buf + n, 32, "1\t%Y-%m-%d %H:%M:%S", &tm);
                n += (size_t)sprintf(copy_buf + n, ".%06d\t", (int)(t % 1000000));
                for (size_t k = 0; k < c->length[m]; k++) {
                    if (c->text[m][k] == '\\') copy_buf[n++] = '\\';
                    copy_buf[n++] = c->text[m][k];
                }
                copy_buf[n++] = '\n';
            }
            begin = now_s();
            check(conn, PQexec(conn, "COPY tetcore_logs (peer_connection_id, created_at, logs) FROM STDIN"),
                  PGRES_COPY_IN, "COPY");
            if (PQputCopyData(conn, copy_buf, (int)n) != 1 || PQputCopyEnd(conn, NULL) != 1) {
                fprintf(stderr, "COPY data: %s", PQerrorMessage(conn));
                exit(1);
            }
            check(conn, PQgetResult(conn), PGRES_COMMAND_OK, "COPY end");
        }
        spent += now_s() - begin;
    }
    free(ids); free(times); free(docs); free(values); free(lengths); free(formats); free(copy_buf);
    return spent;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s telemetry_messages.json CONNINFO ROWS BATCH ROUNDS\n", argv[0]);
        return 2;
    }
    size_t total = strtoul(argv[3], NULL, 10), batch = strtoul(argv[4], NULL, 10);
    int rounds = atoi(argv[5]);
    if (batch == 0 || batch > 21000 || total % batch != 0 || rounds < 1 || rounds > 99) {
        fprintf(stderr, "BATCH must be 1 to 21000 and divide ROWS; ROUNDS 1 to 99\n");
        return 2;
    }
    json_error_t error;
    json_t *messages = json_load_file(argv[1], 0, &error);
    if (!json_is_array(messages)) {
        fprintf(stderr, "%s: %s\n", argv[1], error.text);
        return 1;
    }
    struct catalogue c = {0};
    size_t bytes = 0;
    for (size_t i = 0; i < json_array_size(messages) && c.count < MAX_MESSAGES; i++) {
        json_t *message = json_array_get(messages, i);
        const char *msg = json_string_value(json_object_get(message, "msg"));
        if (msg == NULL || strcmp(msg, "system.network_state") == 0) continue;
        c.text[c.count] = json_dumps(message, JSON_COMPACT | JSON_PRESERVE_ORDER);
        c.length[c.count] = strlen(c.text[c.count]);
        bytes += c.length[c.count];
        c.count++;
    }
    PGconn *conn = PQconnectdb(argv[2]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "%s", PQerrorMessage(conn));
        return 1;
    }
    check(conn, PQexec(conn, "SELECT tetcore_create_log_partitions(2)"), PGRES_TUPLES_OK, "partitions");
    check(conn, PQprepare(conn, "unnest", unnest_sql, 0, NULL), PGRES_COMMAND_OK, "prepare unnest");
    char *sql = values_sql(batch);
    Oid *types = calloc(2 + 3 * batch, sizeof *types);
    for (size_t r = 0; r < batch; r++) {
        types[2 + 3 * r] = 23; types[3 + 3 * r] = 1114; types[4 + 3 * r] = 3802;
    }
    types[1] = 16;
    check(conn, PQprepare(conn, "values", sql, (int)(2 + 3 * batch), types), PGRES_COMMAND_OK, "prepare values");
    printf("%zu rows of %zu messages (%.0f B of JSON on average), batches of %zu, %d rounds\n",
           total, c.count, (double)bytes / (double)c.count, batch, rounds);
    double per_row[FORMS][99];
    for (int round = 0; round < rounds; round++) {
        printf("round %d:", round + 1);
        for (int k = 0; k < FORMS; k++) {
            /* Each round starts the forms at a different one. */
            int form = (round + k) % FORMS;
            exec(conn, "TRUNCATE tetcore_logs, ingest_batches");
            exec(conn, "CHECKPOINT");
            double seconds = run_form(conn, form, &c, total, batch, round);
            per_row[form][round] = seconds * 1e6 / (double)total;
            printf(" %s %.2f us/row", form_names[form], per_row[form][round]);
            fflush(stdout);
        }
        printf("\n");
    }
    printf("medians:");
    for (int form = 0; form < FORMS; form++) {
        qsort(per_row[form], (size_t)rounds, sizeof(double), compare_doubles);
        printf(" %s %.2f us/row", form_names[form], per_row[form][rounds / 2]);
    }
    printf("\n");
    PQfinish(conn);
    return 0;
}
