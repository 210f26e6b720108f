"""Two real Syncthing instances on loopback keeping two folders in step (for the live Syncthing
test and benchmarks/bench_syncthing.py).

Each node has its own home (keys, config), listens on 127.0.0.1 only, with discovery, relays, NAT
traversal, usage reporting and upgrades off; the folder is set up the way a user does it in
Syncthing (``.stfolder`` first, watcher on). Control is through Syncthing's REST API.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

FOLDER_ID = "labeldesk-share"


def syncthing_available() -> tuple[bool, str]:
    """(usable, why not): installs Debian's package when apt-get is there and we are root."""
    if shutil.which("syncthing"):
        return True, ""
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "--no-install-recommends", "syncthing"]
        try:
            ok = subprocess.run(cmd, env=env, capture_output=True, timeout=900).returncode == 0
            if not ok:
                subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=900)
                subprocess.run(cmd, env=env, capture_output=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if shutil.which("syncthing"):
            return True, ""
        return False, "syncthing is not installed and `apt-get install syncthing` failed"
    return False, "syncthing is not installed (Debian/Ubuntu: apt-get install syncthing)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, name: str, home: Path, folder: Path) -> None:
        self.name, self.home, self.folder = name, home, folder
        self.gui_port, self.listen_port = free_port(), free_port()
        self.apikey = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        home.mkdir(parents=True, exist_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".stfolder").mkdir(exist_ok=True)          # what Syncthing's "Add Folder" creates
        subprocess.run(["syncthing", "generate", f"--home={home}", "--no-default-folder", "--skip-port-probing"],
                       check=True, capture_output=True, timeout=120)
        self.device_id = ET.parse(home / "config.xml").getroot().find("device").get("id")

    def configure(self, peer: "Node", watcher_delay_s: int = 1) -> None:
        cfg = self.home / "config.xml"
        root = ET.parse(cfg).getroot()
        for el in root.findall("folder"):
            root.remove(el)
        own = root.find("device")
        own.set("name", self.name)
        for el in own.findall("address"):
            el.text = "dynamic"
        dev = ET.SubElement(root, "device", id=peer.device_id, name=peer.name, compression="metadata",
                            introducer="false", skipIntroductionRemovals="false", introducedBy="")
        ET.SubElement(dev, "address").text = f"tcp://127.0.0.1:{peer.listen_port}"
        ET.SubElement(dev, "paused").text = "false"
        folder = ET.Element("folder", id=FOLDER_ID, label="labeldesk share", path=str(self.folder),
                            type="sendreceive", rescanIntervalS="60", fsWatcherEnabled="true",
                            fsWatcherDelayS=str(watcher_delay_s), ignorePerms="false", autoNormalize="true")
        for d in (self.device_id, peer.device_id):
            ET.SubElement(folder, "device", id=d, introducedBy="")
        ET.SubElement(folder, "minDiskFree", unit="%").text = "0"
        root.insert(0, folder)
        gui = root.find("gui")
        gui.set("enabled", "true")
        gui.set("tls", "false")
        gui.find("address").text = f"127.0.0.1:{self.gui_port}"
        key = gui.find("apikey")
        if key is None:
            key = ET.SubElement(gui, "apikey")
        key.text = self.apikey
        opts = root.find("options")
        settings = {"listenAddress": f"tcp://127.0.0.1:{self.listen_port}", "globalAnnounceEnabled": "false",
                    "localAnnounceEnabled": "false", "relaysEnabled": "false", "natEnabled": "false",
                    "startBrowser": "false", "urAccepted": "-1", "autoUpgradeIntervalH": "0",
                    "crashReportingEnabled": "false", "reconnectionIntervalS": "1"}
        for k, v in settings.items():
            for el in opts.findall(k):
                opts.remove(el)
            ET.SubElement(opts, k).text = v
        for el in opts.findall("minHomeDiskFree"):
            el.text = "0"
        ET.ElementTree(root).write(cfg)

    # ---- process ------------------------------------------------------------------------------
    def start(self) -> None:
        env = dict(os.environ, STNODEFAULTFOLDER="1", STNOUPGRADE="1", STNORESTART="1", STMONITORED="1")
        log = open(self.home / "syncthing.log", "ab")
        self.proc = subprocess.Popen(["syncthing", "serve", f"--home={self.home}", "--no-browser", "--no-restart",
                                      "--no-upgrade", "--logfile=-"], stdout=log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.api("GET", "/rest/system/ping").get("ping") == "pong":
                    return
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"syncthing {self.name} exited: {self.log_tail()}")
            time.sleep(0.2)
        raise RuntimeError(f"syncthing {self.name} did not start: {self.log_tail()}")

    def kill9(self) -> None:
        """kill -9, as a crash or a power cut does it (nothing is flushed, no goodbye to the peer)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.api("POST", "/rest/system/shutdown")
                self.proc.wait(timeout=20)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self.kill9()

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join((self.home / "syncthing.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    # ---- REST ---------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: object | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.gui_port}{path}", data=data, method=method,
                                     headers={"X-API-Key": self.apikey})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode() or "{}"
        return json.loads(text)

    def connected(self, peer: "Node") -> bool:
        try:
            return bool(self.api("GET", "/rest/system/connections")["connections"][peer.device_id]["connected"])
        except (OSError, ValueError, KeyError):
            return False

    def pause(self, peer: "Node") -> None:
        self.api("POST", f"/rest/system/pause?device={peer.device_id}")

    def resume(self, peer: "Node") -> None:
        self.api("POST", f"/rest/system/resume?device={peer.device_id}")

    def scan(self) -> None:
        """Ask for a scan now (the watcher would notice within its delay anyway)."""
        try:
            self.api("POST", f"/rest/db/scan?folder={FOLDER_ID}")
        except (OSError, ValueError):
            pass


class Pair:
    def __init__(self, root: Path, watcher_delay_s: int = 1) -> None:
        self.a = Node("alpha", root / "st-a", root / "Sync-a" / "liver")
        self.b = Node("beta", root / "st-b", root / "Sync-b" / "liver")
        self.a.configure(self.b, watcher_delay_s)
        self.b.configure(self.a, watcher_delay_s)

    def start(self, timeout: float = 90) -> None:
        self.a.start()
        self.b.start()
        self.wait(lambda: self.a.connected(self.b) and self.b.connected(self.a), timeout, "the two nodes to connect")

    @staticmethod
    def wait(cond, timeout: float, what: str, step: float = 0.2) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(step)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")

    def stop(self) -> None:
        for n in (self.a, self.b):
            n.stop()
