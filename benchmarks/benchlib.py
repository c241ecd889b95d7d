"""What the benchmark scripts share: the repository's root, psql, a free port."""
import os, socket, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
