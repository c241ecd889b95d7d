#!/usr/bin/env python3
"""Opens a page in headless Chromium and reports what a person would see.

Usage: dashboard_check.py URL SCREENSHOT.png [READY_JS [TIMEOUT_S [WIDTH,HEIGHT]]]

Drives Chromium through the DevTools protocol: loads URL, waits until the
JavaScript expression READY_JS is true (or TIMEOUT_S pass), then prints one
JSON object (the window is WIDTH x HEIGHT CSS pixels, 1280,900 by
default; 390,844 is a phone; with DASHBOARD_COLOR_SCHEME=dark in the
environment the page is told the system prefers a dark theme): {"ready": bool, "dom": outer HTML, "errors": [console errors,
uncaught exceptions, failed loads, and every HTTP answer of 400 or more, the
page's own included]} and writes a screenshot. An error page (a 404 of the
page, a script, a stylesheet or an endpoint) is an error, however the page
then looks.

Only the standard library: the DevTools WebSocket is spoken by the small
client below, so the test needs nothing beyond Debian's chromium.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


class DevToolsSocket:
    """A minimal WebSocket client (RFC 6455) for ws://127.0.0.1 URLs."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._read()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"DevTools upgrade refused: {head[:80]!r}")

    def _read(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("DevTools connection closed")
        return chunk

    def _take(self, count):
        while len(self.buffer) < count:
            self.buffer += self._read()
        taken, self.buffer = self.buffer[:count], self.buffer[count:]
        return taken

    def send(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x81, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def recv(self, timeout):
        """The next text message; TimeoutError when none comes in time."""
        self.sock.settimeout(timeout)
        try:
            message = b""
            while True:
                first, second = self._take(2)
                length = second & 0x7F
                if length == 126:
                    length = struct.unpack("!H", self._take(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", self._take(8))[0]
                payload = self._take(length)
                opcode = first & 0x0F
                if opcode in (0x1, 0x0):
                    message += payload
                    if first & 0x80:
                        return message.decode()
                elif opcode == 0x8:
                    raise RuntimeError("DevTools connection closed")
        except socket.timeout as error:
            raise TimeoutError from error
        finally:
            self.sock.settimeout(30)

    def close(self):
        self.sock.close()


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("chromium not found: install the Debian package 'chromium'")


class Page:
    def __init__(self, devtools):
        self.socket = devtools
        self.next_id = 0
        self.errors = []
        self.urls = {}

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.note(message)

    def note(self, event):
        """Keeps the errors among DevTools events."""
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log: {entry.get('text', '')} {entry.get('url', '')}".strip())
        elif method == "Network.responseReceived" and params.get("response", {}).get("status", 0) >= 400:
            response = params["response"]
            self.errors.append(f"http: {response['status']} {params.get('type', '')} {response.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            self.urls[params.get("requestId")] = params.get("request", {}).get("url", "")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            url = self.urls.get(params.get("requestId"), "")
            self.errors.append(f"failed: {params.get('type', '')} {params.get('errorText', '')} {url}")

    def drain(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                self.note(json.loads(self.socket.recv(timeout=max(0.01, deadline - time.time()))))
            except TimeoutError:
                return

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


def main():
    url, screenshot = sys.argv[1], sys.argv[2]
    ready = sys.argv[3] if len(sys.argv) > 3 else "true"
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 20
    size = sys.argv[5] if len(sys.argv) > 5 else "1280,900"
    profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
    browser = subprocess.Popen([
        chromium_binary(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--remote-debugging-port=0", f"--user-data-dir={profile}", f"--window-size={size}", "about:blank",
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if time.time() > deadline:
                sys.exit("chromium did not start")
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page_target = next(target for target in targets if target["type"] == "page")
        devtools = DevToolsSocket(page_target["webSocketDebuggerUrl"])
        try:
            page = Page(devtools)
            for domain in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
                page.call(domain)
            scheme = os.environ.get("DASHBOARD_COLOR_SCHEME")
            if scheme:
                page.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}])
            page.call("Page.navigate", url=url)
            deadline = time.time() + timeout
            is_ready = False
            while time.time() < deadline:
                page.drain(0.25)
                if page.evaluate(f"Boolean({ready})"):
                    is_ready = True
                    break
            page.drain(0.5)  # late errors, e.g. of requests the page made last
            dom = page.evaluate("document.documentElement.outerHTML")
            # The whole page: the viewport is made as tall as the content
            # first, and the page given time to lay out and redraw its
            # canvases for it (capturing beyond the viewport instead resizes
            # them during the capture, which can catch them blank).
            metrics = page.call("Page.getLayoutMetrics")
            content = metrics.get("cssContentSize") or metrics["contentSize"]
            width = int(size.split(",")[0])
            page.call("Emulation.setDeviceMetricsOverride", width=width, height=int(content["height"]) + 1,
                      deviceScaleFactor=1, mobile=False)
            page.drain(0.5)
            shot = page.call("Page.captureScreenshot", format="png")
            with open(screenshot, "wb") as out:
                out.write(base64.b64decode(shot["data"]))
            print(json.dumps({"ready": is_ready, "dom": dom, "errors": page.errors}))
        finally:
            devtools.close()
    finally:
        browser.terminate()
        browser.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
