"""What the benchmark scripts share: the repository's root, psql, a free
port, migrated databases, and COPY in parallel sessions timed on the
server's clock."""
import os, socket, subprocess, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_BINARY = os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics"))
# The server's tetcore_create_log_partitions call (Storage/PartitionMaker.swift).
PARTITION_DAYS_AHEAD = 3


def psql(url, sql, stdin=None):
    """Runs SQL through psql, stopping at the first error; returns the
    output (unaligned, tuples only) without surrounding white space."""
    out = subprocess.run(["psql", "-qtAX", "-v", "ON_ERROR_STOP=1", url, "-c", sql], input=stdin, capture_output=True)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.decode().strip()}")
    return out.stdout.decode().strip()


def free_port():
    """A TCP port nothing listens on right now (the kernel's choice)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def database_url(admin, name):
    return admin.rsplit("/", 1)[0] + "/" + name


def migrated_database(admin, name, binary=SERVER_BINARY, extra_sql=None, migrations=None):
    """Creates database `name` with the project's own migrations applied by
    the server binary (`tetcore-analytics migrate`; from the directory
    `migrations` instead of Migrations/ when given) and the daily partitions
    the server makes ahead at start; then runs extra_sql, if any. Returns
    its URL."""
    psql(admin, f"CREATE DATABASE {name}")
    url = database_url(admin, name)
    env = dict(os.environ, DATABASE_URL=url, LOG_LEVEL="warning")
    if migrations:
        env["MIGRATIONS_PATH"] = migrations
    subprocess.run([binary, "migrate"], cwd=ROOT, check=True, env=env)
    psql(url, f"SELECT tetcore_create_log_partitions({PARTITION_DAYS_AHEAD})")
    if extra_sql:
        psql(url, extra_sql)
    return url


def export_rows(url, where, path):
    """Writes the tetcore_logs rows matching `where` in id order to `path`
    in COPY's text format, as (peer_connection_id, created_at, logs, audit)."""
    with open(path, "wb") as out:
        subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", url, "-c",
                        f"COPY (SELECT peer_connection_id, created_at, logs, audit FROM tetcore_logs WHERE {where} "
                        "ORDER BY id) TO STDOUT"], stdout=out, check=True)


def split_lines(path, parts):
    """Splits a COPY text file into `parts` files of consecutive lines (as
    the server's write connections each get consecutive batches); returns
    their paths."""
    lines = open(path, "rb").read().splitlines(keepends=True)
    size = (len(lines) + parts - 1) // parts
    paths = []
    for i in range(parts):
        part = f"{path}.{i}"
        with open(part, "wb") as out:
            out.writelines(lines[i * size:(i + 1) * size])
        paths.append(part)
    return paths


def parallel_copy(url, paths, table="tetcore_logs", columns="peer_connection_id, created_at, logs, audit"):
    """COPYs each file into `table` in its own session, all sessions at
    once, and returns the seconds from the first COPY's start to the last
    one's end on the database server's clock: process start-up and
    connecting are not timed. The sessions connect first and wait on an
    advisory lock that this process holds until all of them are waiting."""
    lock_key = 0x7e7c0c09
    holder = subprocess.Popen(["psql", "-qtAX", "-v", "ON_ERROR_STOP=1", url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    holder.stdin.write(f"SELECT pg_advisory_lock({lock_key});\n")
    holder.stdin.flush()
    while psql(url, f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {lock_key} "
                    "AND mode = 'ExclusiveLock' AND granted") != "1":
        time.sleep(0.01)
    sessions = []
    for path in paths:
        script = (f"SELECT pg_advisory_lock_shared({lock_key});\n"
                  "SELECT extract(epoch FROM clock_timestamp());\n"
                  f"\\copy {table} ({columns}) FROM '{path}'\n"
                  "SELECT extract(epoch FROM clock_timestamp());\n")
        sessions.append(subprocess.Popen(["psql", "-qtAX", "-v", "ON_ERROR_STOP=1", url], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        sessions[-1].stdin.write(script)
        sessions[-1].stdin.close()
    # Wait until every session waits for the lock, then start them all.
    while int(psql(url, f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {lock_key} "
                        "AND mode = 'ShareLock' AND NOT granted")) < len(paths):
        time.sleep(0.01)
    holder.stdin.write(f"SELECT pg_advisory_unlock({lock_key});\n")
    holder.stdin.close()
    starts, ends = [], []
    for session in sessions:
        out, err = session.stdout.read(), session.stderr.read()
        session.wait()
        if session.returncode != 0:
            raise RuntimeError(f"COPY session failed: {err.strip()}")
        values = [float(v) for v in out.split()]
        starts.append(values[0])
        ends.append(values[1])
    holder.wait()
    return max(ends) - min(starts)


def parse_metrics(text):
    """Prometheus text → {"name{labels}": value}."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                values[name] = float(value)
            except ValueError:
                pass
    return values
