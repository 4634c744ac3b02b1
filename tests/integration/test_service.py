"""The daemon as a systemd Type=notify service, and how systemd rates the unit's hardening.

No systemd runs the daemon here (nor in CI): the test takes the service manager's side of
the sd_notify protocol, as systemd does: it binds the datagram socket that NOTIFY_SOCKET
names, sets WATCHDOG_USEC, and reads what the daemon says. The unit file shipped in
config/ is rated by systemd-analyze itself.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import Daemon, TMP_ROOT

UNIT = os.path.join(os.path.dirname(__file__), "..", "..", "config", "cinevault.service")
EXPOSURE_GOAL = 2.5


class NotifyTest(unittest.TestCase):
    def setUp(self):
        os.makedirs(TMP_ROOT, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="NotifyTest-", dir=TMP_ROOT)
        # A socket path must fit sockaddr_un (108 bytes): a short directory of its own.
        self.socket_dir = tempfile.mkdtemp(prefix="notify-", dir="/tmp")
        self.socket_path = os.path.join(self.socket_dir, "notify")
        self.manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.manager.bind(self.socket_path)
        self.daemon = None

    def tearDown(self):
        if self.daemon and self.daemon.process.poll() is None:
            self.daemon.kill9()
        self.manager.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, **extra_env):
        env = dict(os.environ, NOTIFY_SOCKET=self.socket_path, **extra_env)
        self.daemon = Daemon(os.path.join(self.tmp, "data"), "--pipeline.concurrent_jobs", "0", env=env).start()

    def messages(self, seconds, until=None):
        """What the daemon sent in the next SECONDS (or until a message has the field UNTIL)."""
        found = []
        deadline = time.time() + seconds
        while time.time() < deadline:
            self.manager.settimeout(max(0.01, deadline - time.time()))
            try:
                datagram = self.manager.recv(4096).decode()
            except socket.timeout:
                break
            found.append(dict(line.split("=", 1) for line in datagram.splitlines() if "=" in line))
            if until and until in found[-1]:
                break
        return found

    def test_ready_when_serving_watchdog_while_the_loops_answer_stopping_on_sigterm(self):
        self.start(WATCHDOG_USEC="1000000")  # a ping every 0.5 s
        said = self.messages(10, until="READY")
        ready = [m for m in said if m.get("READY") == "1"]
        self.assertEqual(len(ready), 1, said)
        self.assertEqual(ready[0].get("STATUS"), "serving on port %d" % self.daemon.port)
        status, _, _ = self.daemon.request("GET", "/healthz")  # READY means it answers
        self.assertEqual(status, 200)
        pings = [m for m in self.messages(2.2) if m.get("WATCHDOG") == "1"]
        self.assertGreaterEqual(len(pings), 3, "the watchdog is pinged about every 0.5 s")
        self.daemon.process.send_signal(signal.SIGTERM)
        said = self.messages(10, until="STOPPING")
        self.assertIn("1", [m.get("STOPPING") for m in said], said)
        self.assertEqual(self.daemon.process.wait(30), 0)

    def test_no_watchdog_unless_the_unit_asks_for_one(self):
        self.start()
        said = self.messages(10, until="READY")
        self.assertTrue(any(m.get("READY") == "1" for m in said), said)
        self.assertFalse([m for m in self.messages(1.5) if "WATCHDOG" in m])
        self.assertEqual(self.daemon.stop(), 0)


class UnitFileTest(unittest.TestCase):
    def test_the_unit_is_notify_type_with_a_watchdog(self):
        with open(UNIT) as f:
            text = f.read()
        self.assertRegex(text, r"(?m)^Type=notify$")
        self.assertRegex(text, r"(?m)^WatchdogSec=\d+$")
        self.assertRegex(text, r"(?m)^UMask=0077$")

    def test_systemd_rates_the_units_exposure_at_most_2_5(self):
        analyze = shutil.which("systemd-analyze")
        self.assertIsNotNone(analyze, "systemd-analyze is missing (scripts/install-deps test installs systemd)")
        out = subprocess.run([analyze, "security", "--offline=true", os.path.abspath(UNIT)],
                             capture_output=True, text=True, timeout=60)
        match = re.search(r"Overall exposure level for cinevault\.service: ([0-9.]+)", out.stdout + out.stderr)
        self.assertIsNotNone(match, out.stdout + out.stderr)
        print("\nsystemd-analyze security: exposure %s" % match.group(1))
        self.assertLessEqual(float(match.group(1)), EXPOSURE_GOAL, out.stdout)

    def test_the_units_system_call_filter_lets_the_daemon_start_sandboxed_media_workers(self):
        """The unit's SystemCallFilter lines, applied in order as systemd does (groups expanded by systemd-analyze),
        allow what the daemon needs to start a media worker and the worker to confine itself: a filter the unit
        denied would fail every probe and transcode."""
        analyze = shutil.which("systemd-analyze")
        self.assertIsNotNone(analyze, "systemd-analyze is missing (scripts/install-deps test installs systemd)")
        groups = {}

        def expand(name):
            if not name.startswith("@"):
                return {name}
            if name not in groups:
                out = subprocess.run([analyze, "syscall-filter", name], capture_output=True, text=True, timeout=60)
                members = set()
                for line in out.stdout.splitlines()[1:]:
                    line = line.strip()
                    if line and not line.startswith("#"):
                        members |= expand(line)
                groups[name] = members
            return groups[name]

        with open(UNIT) as f:
            lines = re.findall(r"(?m)^SystemCallFilter=(.*)$", f.read())
        self.assertTrue(lines and not lines[0].startswith("~"), "the filter is an allow list")
        allowed = set()
        for line in lines:
            deny = line.startswith("~")
            names = set().union(*(expand(n) for n in line.lstrip("~").split()))
            allowed = allowed - names if deny else allowed | names
        needed = {"execve", "socketpair", "sendmsg", "recvmsg", "wait4", "kill",  # the daemon: start, talk, reap
                  "close_range", "prctl", "setpgid", "setpriority", "prlimit64", "seccomp",  # the worker: confine
                  "memfd_create", "fcntl"}  # segments as sealed memory files
        self.assertEqual(needed - allowed, set())


if __name__ == "__main__":
    unittest.main()
