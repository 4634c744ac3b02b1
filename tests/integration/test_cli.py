"""The command line: --help, --version, configuration errors, --print-config, `keys`, `gc`,
and the start-up refusals (data directory in use, port in use)."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from harness import BINARY, TMP_ROOT, Daemon, make_clip, plant_object

SOURCE_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHIPPED_CONFIG = os.path.join(SOURCE_ROOT, "config", "cinevault.json")


def run(*args, timeout=30):
    """Runs the binary to completion; returns CompletedProcess with text stdout and stderr."""
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)


def flatten(document, prefix=""):
    """{"http": {"listen": …}} → {"http.listen": …}"""
    out = {}
    for key, value in document.items():
        name = prefix + key
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def load_json_with_comments(path):
    """The daemon reads its config file with // and /* */ comments allowed; so does this."""
    with open(path) as f:
        text = f.read()
    out, i, in_string = [], 0, False
    while i < len(text):
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        else:
            out.append(c)
        i += 1
    return json.loads("".join(out))


class CliTestCase(unittest.TestCase):
    def setUp(self):
        os.makedirs(TMP_ROOT, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix=type(self).__name__ + "-", dir=TMP_ROOT)
        self.data_dir = os.path.join(self.tmp, "data")
        self.daemons = []

    def tearDown(self):
        failures = []
        for daemon in self.daemons:
            code = daemon.stop()
            if code != 0:
                failures.append("daemon exit code %s; log:\n%s" % (code, daemon.log()[-3000:]))
        shutil.rmtree(self.tmp, ignore_errors=True)
        if failures:
            self.fail("\n".join(failures))

    def start_daemon(self, *extra):
        daemon = Daemon(self.data_dir, *extra)
        self.daemons.append(daemon)
        return daemon.start()

    def stop_daemon(self, daemon):
        self.assertEqual(daemon.stop(), 0, daemon.log()[-3000:])
        self.daemons.remove(daemon)

    def assert_one_line_error(self, result, *needles):
        """Exit non-zero; stderr is exactly one line, naming each needle; nothing on stdout."""
        self.assertNotEqual(result.returncode, 0, result)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, "stderr:\n" + result.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])
        self.assertEqual(result.stdout, "")
        return lines[0]

    def serve(self, *args, timeout=30):
        """`cinevault serve` expected to refuse to start (a timeout means it started: a failure)."""
        return run("serve", "--data", self.data_dir, "--listen", "127.0.0.1:0", *args, timeout=timeout)


class HelpAndConfigTest(CliTestCase):
    def print_config(self, *args):
        result = run("--print-config", *args)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def help_keys(self):
        result = run("--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        text = result.stdout
        self.assertIn("configuration keys", text)
        listed = {}
        for line in text.split("configuration keys", 1)[1].splitlines():
            match = re.match(r"^  (\S+) \((.*)\)$", line)
            if match:
                listed[match.group(1)] = json.loads(match.group(2))
        return text, listed

    def test_help_lists_every_config_key_with_its_default(self):
        """--help exits 0 and lists every key of --print-config (and of config/cinevault.json), each with
        its default value."""
        text, listed = self.help_keys()
        effective = flatten(self.print_config())
        self.assertEqual(sorted(listed), sorted(effective))
        for key, value in effective.items():
            self.assertEqual(listed[key], value, key)
        if os.path.exists(SHIPPED_CONFIG):
            for key in flatten(load_json_with_comments(SHIPPED_CONFIG)):
                self.assertIn(key, listed)
        for command in ("keys create", "keys list", "keys revoke", "users add", "users list", "users passwd",
                        "users remove", "gc", "--version", "--print-config"):
            self.assertIn(command, text)

    def test_h_is_help(self):
        """-h is --help."""
        self.assertEqual(run("-h").stdout, run("--help").stdout)

    def test_version(self):
        """--version prints 'cinevault X.Y.Z' and exits 0."""
        result = run("--version")
        self.assertEqual(result.returncode, 0)
        self.assertRegex(result.stdout, r"^cinevault \d+\.\d+\.\d+\n$")
        self.assertEqual(result.stderr, "")

    def test_print_config_equals_the_shipped_config_file(self):
        """--print-config (the compiled-in defaults) equals config/cinevault.json: the file documents the defaults."""
        self.assertTrue(os.path.exists(SHIPPED_CONFIG), SHIPPED_CONFIG + " is missing")
        self.assertEqual(self.print_config(), load_json_with_comments(SHIPPED_CONFIG))

    def test_shipped_config_file_is_accepted_and_changes_nothing(self):
        """--config config/cinevault.json is accepted, and --print-config is the same with it."""
        self.assertTrue(os.path.exists(SHIPPED_CONFIG), SHIPPED_CONFIG + " is missing")
        self.assertEqual(self.print_config("--config", SHIPPED_CONFIG), self.print_config())

    def test_flags_and_file_override_defaults(self):
        """A config file overrides a default, a --section.key flag overrides the file."""
        path = os.path.join(self.tmp, "c.json")
        with open(path, "w") as f:
            json.dump({"http": {"max_connections": 7, "idle_timeout_s": 9}}, f)
        config = flatten(self.print_config("--config", path, "--http.max_connections", "11"))
        self.assertEqual((config["http.max_connections"], config["http.idle_timeout_s"]), (11, 9))

    def test_unknown_key_in_config_file(self):
        """An unknown key in a --config file: exit non-zero, one line on stderr naming the key."""
        path = os.path.join(self.tmp, "bad.json")
        with open(path, "w") as f:
            json.dump({"http": {"max_conections": 5}}, f)
        self.assert_one_line_error(self.serve("--config", path), "http.max_conections")

    def test_unknown_top_level_key_in_config_file(self):
        """The same for an unknown section."""
        path = os.path.join(self.tmp, "bad.json")
        with open(path, "w") as f:
            json.dump({"htp": {"listen": "127.0.0.1:0"}}, f)
        self.assert_one_line_error(self.serve("--config", path), "htp")

    def test_unknown_flag(self):
        """An unknown --section.key flag: one line naming it."""
        self.assert_one_line_error(self.serve("--http.no_such_key", "1"), "http.no_such_key")

    def test_non_integer_value(self):
        """--http.io_threads zero: one line naming http.io_threads."""
        self.assert_one_line_error(self.serve("--http.io_threads", "zero"), "http.io_threads")

    def test_out_of_range_value(self):
        """--http.io_threads 257 (above its maximum): one line naming http.io_threads."""
        self.assert_one_line_error(self.serve("--http.io_threads", "257"), "http.io_threads")

    def test_bad_listen_address(self):
        """--http.listen nonsense: one line naming http.listen."""
        self.assert_one_line_error(self.serve("--http.listen", "nonsense"), "http.listen")

    def test_bad_listen_port(self):
        """--listen 127.0.0.1:99999: one line naming http.listen."""
        self.assert_one_line_error(run("serve", "--data", self.data_dir, "--listen", "127.0.0.1:99999"), "http.listen")

    def test_wrong_type_in_config_file(self):
        """A string where a number belongs, in the file: one line naming the key."""
        path = os.path.join(self.tmp, "bad.json")
        with open(path, "w") as f:
            json.dump({"http": {"max_connections": "many"}}, f)
        self.assert_one_line_error(self.serve("--config", path), "http.max_connections")

    def test_config_file_that_is_not_json(self):
        """A config file that is not JSON: one line naming the file."""
        path = os.path.join(self.tmp, "bad.json")
        with open(path, "w") as f:
            f.write("{ http: ")
        self.assert_one_line_error(self.serve("--config", path), path)

    def test_unknown_command(self):
        """An unknown command: exit non-zero, one line naming it."""
        self.assert_one_line_error(run("frobnicate", "--data", self.data_dir), "frobnicate")


class KeysTest(CliTestCase):
    def setUp(self):
        super().setUp()
        os.makedirs(self.data_dir)

    def keys(self, *args):
        return run("keys", *args, "--data", self.data_dir)

    def create(self, name):
        result = self.keys("create", name)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^cv_[0-9a-f]{64}\n$")
        key_id = re.search(r"created key (\S+)", result.stderr).group(1)
        return key_id, result.stdout.strip()

    def listed(self):
        result = self.keys("list")
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = {}
        for line in result.stdout.splitlines()[1:]:
            fields = line.split()
            rows[fields[0]] = fields
        return result.stdout, rows

    def test_create_list_revoke(self):
        """keys create NAME prints a cv_ secret on stdout (only there); keys list shows the key, live;
        keys revoke ID revokes it, and keys list then shows it revoked."""
        key_id, secret = self.create("laptop")
        text, rows = self.listed()
        self.assertIn(key_id, rows)
        self.assertEqual(rows[key_id][1], "laptop")
        self.assertEqual(rows[key_id][-1], "-", text)
        self.assertNotIn(secret, text)

        result = self.keys("revoke", key_id)
        self.assertEqual(result.returncode, 0, result.stderr)
        text, rows = self.listed()
        self.assertRegex(rows[key_id][-1], r"^\d+$", text)

    def test_revoke_unknown_id_fails(self):
        """keys revoke with an id that does not exist: non-zero, a message naming the id."""
        self.create("one")
        result = self.keys("revoke", "deadbeef")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("deadbeef", result.stderr)

    def test_revoke_twice_fails(self):
        """Revoking a key that is already revoked fails the second time."""
        key_id, _ = self.create("one")
        self.assertEqual(self.keys("revoke", key_id).returncode, 0)
        self.assertNotEqual(self.keys("revoke", key_id).returncode, 0)

    def test_keys_without_subcommand_is_usage_error(self):
        """`keys` alone or with a wrong subcommand: non-zero and a usage line, whatever the data directory."""
        for data_dir in (self.data_dir, os.path.join(self.tmp, "missing")):
            for args in ((), ("destroy",), ("revoke",)):
                result = run("keys", *args, "--data", data_dir)
                self.assertNotEqual(result.returncode, 0, args)
                self.assertIn("usage", result.stderr, (data_dir, args))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "missing")))

    def test_create_on_a_data_dir_that_does_not_exist_yet(self):
        """keys create before the first start: the data directory is created, as `serve` and `gc` do."""
        shutil.rmtree(self.data_dir)
        self.create("first")
        self.assertEqual(len(self.listed()[1]), 1)

    def test_created_key_works_and_revocation_takes_effect_at_once(self):
        """A key made with `keys create` authorises requests to the running daemon; after
        `keys revoke` the next request with it is 401."""
        daemon = self.start_daemon()
        key_id, secret = self.create("ci")
        headers = {"Authorization": "Bearer " + secret}
        status, _, body = daemon.request("POST", "/api/v1/admin/gc", headers=headers)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.keys("revoke", key_id).returncode, 0)
        status, _, body = daemon.request("POST", "/api/v1/admin/gc", headers=headers)
        self.assertEqual(status, 401, body)
        # The admin key is untouched.
        status, _, _ = daemon.request("POST", "/api/v1/admin/gc", headers=daemon.auth())
        self.assertEqual(status, 200)


class UsersTest(CliTestCase):
    def setUp(self):
        super().setUp()
        os.makedirs(self.data_dir)

    def users(self, *args, password=None):
        return subprocess.run([BINARY, "users", *args, "--data", self.data_dir], input=password, capture_output=True,
                              text=True, timeout=60)

    def listed(self):
        result = self.users("list")
        self.assertEqual(result.returncode, 0, result.stderr)
        return {fields[0]: fields for fields in (line.split() for line in result.stdout.splitlines()[1:])}

    def stored_hash(self, name):
        """The password column, read with the sqlite3 tool rather than our code."""
        out = subprocess.run(["sqlite3", os.path.join(self.data_dir, "cinevault.db"),
                              "SELECT password_hash FROM users WHERE name = '%s'" % name],
                             capture_output=True, text=True, check=True).stdout.strip()
        return out

    def test_add_list_passwd_remove(self):
        """users add NAME --role ROLE --password-stdin stores an Argon2id hash (never the password);
        users list shows names and roles; passwd replaces the hash; remove deletes the user."""
        result = self.users("add", "alice", "--role", "admin", "--password-stdin", password="a long secret\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("alice", result.stderr)
        self.assertEqual(self.users("add", "bob", "--role=viewer", "--password-stdin",
                                    password="another secret").returncode, 0)
        rows = self.listed()
        self.assertEqual(rows["alice"][1], "admin")
        self.assertEqual(rows["bob"][1], "viewer")
        first = self.stored_hash("alice")
        self.assertTrue(first.startswith("$argon2id$"), first)
        self.assertNotIn("a long secret", first)
        with open(os.path.join(self.data_dir, "cinevault.db"), "rb") as db:
            self.assertNotIn(b"a long secret", db.read())

        result = self.users("passwd", "alice", "--password-stdin", password="a newer secret\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        second = self.stored_hash("alice")
        self.assertTrue(second.startswith("$argon2id$"), second)
        self.assertNotEqual(first, second)

        self.assertEqual(self.users("remove", "bob").returncode, 0)
        self.assertNotIn("bob", self.listed())
        self.assert_one_line_error(self.users("remove", "bob"), "bob")

    def passwd_on_a_terminal(self, name, first, second):
        """`users passwd NAME` with a terminal as its standard input: answers each prompt as it comes
        (the prompt flushes what was typed ahead); returns (exit code, stderr)."""
        master, slave = os.openpty()
        process = subprocess.Popen([BINARY, "users", "passwd", name, "--data", self.data_dir], stdin=slave,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(slave)
        seen = b""
        try:
            for prompt, answer in ((b"password: ", first), (b"again: ", second)):
                while prompt not in seen:
                    chunk = os.read(process.stderr.fileno(), 256)
                    self.assertTrue(chunk, seen)
                    seen += chunk
                time.sleep(0.2)  # the echo is off once the prompt is out; let the flush pass
                os.write(master, answer.encode() + b"\n")
            rest = process.stderr.read()
            process.wait(timeout=60)
        finally:
            os.close(master)
            if process.poll() is None:
                process.kill()
        return process.returncode, (seen + rest).decode()

    def test_passwd_asks_twice_on_a_terminal(self):
        """Without --password-stdin on a terminal, passwd asks twice: two different answers change
        nothing; the same one twice replaces the hash."""
        self.assertEqual(self.users("add", "alice", "--role", "viewer", "--password-stdin",
                                    password="a long secret").returncode, 0)
        before = self.stored_hash("alice")
        code, err = self.passwd_on_a_terminal("alice", "first answer", "second answer")
        self.assertNotEqual(code, 0, err)
        self.assertIn("differ", err)
        self.assertEqual(self.stored_hash("alice"), before)
        code, err = self.passwd_on_a_terminal("alice", "the same answer", "the same answer")
        self.assertEqual(code, 0, err)
        self.assertNotEqual(self.stored_hash("alice"), before)

    def test_refusals_are_one_line_and_change_nothing(self):
        """A taken name (in any case), a role that does not exist, a bad name, a short or missing password,
        passwd of a user that does not exist: non-zero, one line, and the users are as they were."""
        self.assertEqual(self.users("add", "alice", "--role", "uploader", "--password-stdin",
                                    password="a long secret").returncode, 0)
        before = self.stored_hash("alice")
        self.assert_one_line_error(self.users("add", "ALICE", "--role", "viewer", "--password-stdin",
                                              password="a long secret"), "exists")
        self.assert_one_line_error(self.users("add", "carol", "--role", "root", "--password-stdin",
                                              password="a long secret"), "admin, uploader or viewer")
        self.assert_one_line_error(self.users("add", "../etc", "--role", "viewer", "--password-stdin",
                                              password="a long secret"), "user name")
        self.assert_one_line_error(self.users("add", "carol", "--role", "viewer", "--password-stdin",
                                              password="short\n"), "at least 8")
        self.assert_one_line_error(self.users("add", "carol", "--role", "viewer", "--password-stdin", password=""),
                                   "no password")
        # Without --password-stdin the password is only read from a terminal.
        self.assert_one_line_error(self.users("add", "carol", "--role", "viewer", password="a long secret\n"),
                                   "--password-stdin")
        self.assert_one_line_error(self.users("passwd", "dave", "--password-stdin", password="a long secret"),
                                   "dave")
        for args in ((), ("add", "erin"), ("list", "extra"), ("remove",), ("destroy", "alice")):
            result = self.users(*args)
            self.assertNotEqual(result.returncode, 0, args)
            self.assertIn("usage", result.stderr, args)
        # "admin" is the schema's own first admin, made without a password.
        self.assertEqual(sorted(self.listed()), ["admin", "alice"])
        self.assertEqual(self.listed()["alice"][1], "uploader")
        self.assertEqual(self.stored_hash("alice"), before)


class GcTest(CliTestCase):
    def test_gc_refuses_while_the_daemon_runs(self):
        """`cinevault gc` while a daemon holds the data directory: non-zero, with a message saying so."""
        self.start_daemon()
        result = run("gc", "--data", self.data_dir)
        self.assertNotEqual(result.returncode, 0)
        self.assertRegex(result.stdout + result.stderr, r"another cinevault process|in use|running")
        self.assertIn(self.data_dir, result.stdout + result.stderr)

    def test_gc_removes_an_unreferenced_object_and_keeps_referenced_ones(self):
        """On a stopped data directory, `gc` removes a planted unreferenced object, reports it, and
        keeps the source object of an uploaded video."""
        daemon = self.start_daemon()
        clip = make_clip(os.path.join(self.tmp, "clip.mp4"))
        with open(clip, "rb") as f:
            status, _, body = daemon.request("PUT", "/api/v1/videos?title=keep", body=f.read(), headers=daemon.auth())
        self.assertEqual(status, 201, body)
        kept = json.loads(body)["source"]["sha256"]
        self.stop_daemon(daemon)

        content = os.urandom(1000)
        planted = plant_object(self.data_dir, content)
        result = run("gc", "--data", self.data_dir)
        self.assertEqual(result.returncode, 0, result.stderr)
        # The planted object, and any the upload's job left when the daemon stopped it.
        removed = re.search(r"removed (\d+) object\(s\), (\d+) bytes", result.stdout)
        self.assertIsNotNone(removed, result.stdout)
        self.assertGreaterEqual(int(removed.group(1)), 1, result.stdout)
        self.assertGreaterEqual(int(removed.group(2)), 1000, result.stdout)
        self.assertFalse(os.path.exists(planted))
        self.assertTrue(os.path.exists(os.path.join(self.data_dir, "objects", kept[:2], kept[2:4], kept)))

        again = run("gc", "--data", self.data_dir)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertRegex(again.stdout, r"removed 0 object\(s\)")

    def test_gc_removes_leftover_temp_files(self):
        """`gc` also removes files a crash left in data/tmp."""
        self.stop_daemon(self.start_daemon())
        with open(os.path.join(self.data_dir, "tmp", "upload-leftover"), "wb") as f:
            f.write(b"x" * 10)
        result = run("gc", "--data", self.data_dir)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"1 temp file\(s\)")
        self.assertEqual(os.listdir(os.path.join(self.data_dir, "tmp")), [])


class StartupRefusalTest(CliTestCase):
    def test_second_daemon_on_the_same_data_dir_refuses(self):
        """A second daemon on a data directory in use exits non-zero at once, saying another process uses it;
        the first one keeps serving."""
        first = self.start_daemon()
        start = time.monotonic()
        result = self.serve()
        self.assertLess(time.monotonic() - start, 15)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("another cinevault process is using", result.stderr)
        self.assertIn(self.data_dir, result.stderr)
        self.assertEqual(first.json("GET", "/healthz"), (200, {"status": "ok"}))

    def test_port_in_use(self):
        """A listen address already taken: exit non-zero with a message naming the address."""
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        self.addCleanup(holder.close)
        address = "127.0.0.1:%d" % holder.getsockname()[1]
        result = run("serve", "--data", self.data_dir, "--listen", address, timeout=30)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(address, result.stderr)
        self.assertRegex(result.stderr, r"(?i)in use")


if __name__ == "__main__":
    unittest.main()
