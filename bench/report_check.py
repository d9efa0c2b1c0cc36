#!/usr/bin/env python3
"""Loads a `phalanx report` page in headless Chromium and fails on any console error.

    python3 bench/report_check.py runs/fashion-lenet [--screenshot docs/report-lenet.png]

RUN is a run directory (its report.html is loaded) or an HTML file. Chromium (Debian's
`chromium`; installed with apt-get when missing and this runs as root) is driven over
its DevTools protocol, with a WebSocket client written here on plain sockets, so the
check needs nothing from PyPI. It fails (exit 1) on a console message of level error or
assert, an uncaught exception, a log entry of level error (a resource that failed to
load), an image that did not decode, or a request for anything but file: and data: URLs
(the page must open offline); it prints the page's title, sections, images and height,
and with --screenshot saves the whole page as PNG (1280 CSS pixels wide). Exit 2 when
Chromium cannot be found or started.
"""
import argparse
import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time


class WebSocket:
    """Just enough of RFC 6455 for DevTools: text frames, client masking, no extensions."""

    def __init__(self, url):
        m = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {m.group(3)} HTTP/1.1\r\nHost: {m.group(1)}:{m.group(2)}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            response += chunk
        head, self.buffer = response.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(f"WebSocket handshake refused: {head.decode(errors='replace')}")

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, text):
        data = text.encode()
        header = bytearray([0x81])
        if len(data) < 126:
            header.append(0x80 | len(data))
        elif len(data) < 1 << 16:
            header += bytes([0x80 | 126]) + len(data).to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + len(data).to_bytes(8, "big")
        mask = os.urandom(4)
        self.sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def receive(self):
        """The next text message (fragments joined; pings answered)."""
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._read(2), "big")
            elif n == 127:
                n = int.from_bytes(self._read(8), "big")
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 8:
                raise ConnectionError("DevTools closed the WebSocket")
            if opcode == 9:  # ping: answer with a pong carrying the same payload
                self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()


class DevTools:
    """Commands with ids, events kept in order."""

    def __init__(self, url):
        self.ws, self.next_id, self.events = WebSocket(url), 0, []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event, timeout):
        deadline = time.time() + timeout
        self.ws.sock.settimeout(timeout)
        while time.time() < deadline:
            if any(e["method"] == event for e in self.events):
                return True
            message = json.loads(self.ws.receive())
            if "method" in message:
                self.events.append(message)
        return False

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("chromium is not installed; installing Debian's chromium with apt-get (for this check only)")
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], check=False,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        return shutil.which("chromium")
    return None


def start_chromium(binary, profile):
    process = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--disable-background-networking", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        m = re.search(r"DevTools listening on ws://([^:/]+):(\d+)/", line)
        if m:
            return process, m.group(1), int(m.group(2))
    process.kill()
    raise RuntimeError("chromium did not report a DevTools port")


def page_target(host, port):
    for _ in range(50):
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", "/json/list")
        targets = json.loads(conn.getresponse().read())
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise RuntimeError("chromium has no page target")


def problems_in(events):
    """Console errors, exceptions, error log entries and requests that leave the file."""
    problems = []
    for e in events:
        method, p = e["method"], e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            problems.append(f"console.{p['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = p.get("exceptionDetails", {})
            problems.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            problems.append(f"log error ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:")):
                problems.append(f"requests {url} (the page must open offline)")
        elif method == "Network.loadingFailed":
            problems.append(f"failed to load: {p.get('errorText')}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("page", help="a run directory (its report.html) or an HTML file")
    parser.add_argument("--screenshot", help="write a PNG of the whole page here")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    path = os.path.join(args.page, "report.html") if os.path.isdir(args.page) else args.page
    if not os.path.isfile(path):
        print(f"{path}: no such file (run `phalanx report RUN` first)")
        sys.exit(1)
    binary = find_chromium()
    if not binary:
        print("chromium not found: apt-get install chromium")
        sys.exit(2)
    profile = tempfile.mkdtemp(prefix="phalanx-report-check-")
    process = None
    try:
        process, host, port = start_chromium(binary, profile)
        tools = DevTools(page_target(host, port))
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.call(f"{domain}.enable")
        tools.call("Emulation.setDeviceMetricsOverride", width=args.width, height=900, deviceScaleFactor=1, mobile=False)
        tools.call("Emulation.setScrollbarsHidden", hidden=True)
        url = "file://" + os.path.abspath(path)
        tools.call("Page.navigate", url=url)
        if not tools.wait_for("Page.loadEventFired", 60):
            print(f"{path}: the page did not finish loading in 60 s")
            sys.exit(1)
        time.sleep(0.5)
        broken = tools.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                                ".map(i => i.alt || i.src.slice(0, 40))")
        info = tools.evaluate("({title: document.title, sections: Array.from(document.querySelectorAll('section'))"
                              ".map(s => s.id), images: document.images.length, height: document.documentElement.scrollHeight})")
        problems = problems_in(tools.events) + [f"image did not decode: {b}" for b in broken]
        print(f"{path}: '{info['title']}', {info['images']} images, sections {', '.join(info['sections'])}, "
              f"{info['height']} px tall at {args.width} px wide ({os.path.getsize(path)} bytes)")
        if args.screenshot:
            height = min(int(info["height"]), 16000)
            tools.call("Emulation.setDeviceMetricsOverride", width=args.width, height=height, deviceScaleFactor=1,
                       mobile=False)
            time.sleep(0.3)
            shot = tools.call("Page.captureScreenshot", format="png",
                              clip={"x": 0, "y": 0, "width": args.width, "height": height, "scale": 1})
            with open(args.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            print(f"wrote {args.screenshot} ({args.width}×{height})")
        if problems:
            print(f"FAILED: {len(problems)} problem(s) loading {url}")
            for p in problems:
                print("  " + p)
            sys.exit(1)
        print("OK: loaded with no console errors, exceptions, failed loads or requests outside the file")
    except (OSError, RuntimeError) as e:
        print(f"chromium: {e}")
        sys.exit(2)
    finally:
        if process:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
