#!/usr/bin/env python3
"""The overview page's figures (issue 16), in headless Chromium through the
DevTools protocol: page weight, time to the first full render of the node
table with 1,000 and 20,000 nodes, and the main-thread work of a live
update of every row.

Each run creates a fresh database from ADMIN_DATABASE_URL, fills NODES node
rows of one chain by SQL (as benchmarks/network.py does), starts the
release server, opens /dashboard/?chain=… and reads what the page records:

  first full render   the page's performance mark "first-full-render" (set
                      in the frame after the subscription's whole node list
                      is drawn), in ms since navigation start;
  page weight         transferred bytes of the document and every resource
                      (performance entries; the WebSocket is not included);
  live update         every node row's best height raised in one SQL
                      statement: the server sends all NODES as changes
                      (500 a message). Reported: the page's "table-render"
                      measures (one per animation frame: sort + changed
                      cells of the rows in view) and the longest main-thread
                      tasks (PerformanceObserver "longtask", over 50 ms),
                      which include parsing the WebSocket messages.

    swift build -c release --product tetcore-analytics
    export ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
    benchmarks/dashboard.py --nodes 1000 20000
"""
import argparse, json, os, subprocess, sys, tempfile, shutil, time, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "lib"))
from benchlib import psql  # noqa: E402
from network import GENESIS, fill_nodes, get, migrate, start_server  # noqa: E402
from dashboard_check import DevToolsSocket, Page, chromium_binary  # noqa: E402


def open_browser():
    profile = tempfile.mkdtemp(prefix="dashboard-bench-")
    browser = subprocess.Popen([chromium_binary(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1600,1000",
                                "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(profile, "DevToolsActivePort")
    while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
        time.sleep(0.1)
    port = open(port_file).read().split()[0]
    target = next(t for t in json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list")) if t["type"] == "page")
    page = Page(DevToolsSocket(target["webSocketDebuggerUrl"]))
    for domain in ("Runtime.enable", "Page.enable"):
        page.call(domain)
    return browser, profile, page


def wait_for(page, expression, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        page.drain(0.05)
    raise TimeoutError(expression)


def run(nodes, db_url):
    migrate(db_url)
    fill_nodes(db_url, nodes)
    server, port = start_server(db_url)
    browser, profile, page = open_browser()
    try:
        while True:
            status, body, _ = get(port, f"/chains/{GENESIS}")
            if status == 200 and json.loads(body)["nodes_total"] == nodes:
                break
            time.sleep(0.2)
        page.call("Page.navigate", url=f"http://127.0.0.1:{port}/dashboard/?chain={GENESIS}")
        render = wait_for(page, "performance.getEntriesByName('first-full-render')[0]?.startTime")
        rows = page.evaluate("document.querySelector('table.nodes').dataset.total")
        weight = page.evaluate("[...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]"
                               ".reduce((sum, e) => sum + e.transferSize, 0)")
        page.evaluate("window.__long = []; new PerformanceObserver((list) => window.__long.push(...list.getEntries()"
                      ".map((e) => e.duration))).observe({ type: 'longtask' }); performance.clearMeasures('table-render');"
                      "window.__updated = 0")
        # Every row's best height raised: the page must show the new height on the first row.
        psql(db_url, "UPDATE network_nodes SET best_height = best_height + 1000, best_at = now() AT TIME ZONE 'utc', "
                     "last_message_at = now() AT TIME ZONE 'utc', change_xid = pg_current_xact_id()")
        wait_for(page, "Number(document.querySelector('table.nodes tr.node td[data-column=\"best_height\"]')"
                       ".textContent.replace(/,/g, '')) > 23811042")
        page.drain(3)  # the remaining messages and frames of the update
        renders = page.evaluate("performance.getEntriesByName('table-render').map((m) => m.duration)")
        long_tasks = page.evaluate("window.__long")
        print(f"{nodes:>6} nodes: first full render {render:7.0f} ms, page weight {weight / 1000:6.0f} kB "
              f"(table rows {rows}); live update of every row: {len(renders)} frames, table-render "
              f"max {max(renders):5.1f} ms, median {sorted(renders)[len(renders) // 2]:5.1f} ms; "
              f"long tasks {len(long_tasks)} (max {max(long_tasks, default=0):5.0f} ms)", flush=True)
    finally:
        page.socket.close()
        browser.terminate()
        browser.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
        server.terminate()
        server.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1000, 20000])
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL (a database to create the benchmark database from)")
    for nodes in args.nodes:
        name = f"dashboard_bench_{os.getpid()}_{nodes}"
        db_url = admin.rsplit("/", 1)[0] + "/" + name
        psql(admin, f"CREATE DATABASE {name}")
        try:
            run(nodes, db_url)
        finally:
            psql(admin, f"DROP DATABASE {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
