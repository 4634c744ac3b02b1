"""Media work runs in sandboxed `cinevault media-worker` processes, not in the daemon.

What the kernel says about the worker while a job runs (/proc: seccomp mode, no_new_privs,
priority, process group, open descriptors), and what happens when a worker dies: killed
(SIGKILL, as the OOM killer does), crashed (SIGSEGV) or silent (stopped): its job ends as a
classified dead letter naming the signal, the daemon keeps serving, another job completes,
and a published version keeps playing.
"""
import json
import os
import signal
import time
import unittest

from test_pipeline import PIPELINE_ARGS, PipelineTestCase

# Under AddressSanitizer a SIGSEGV is caught and turned into exit status 1; the tests want
# the signal itself, as a Release build dies of it.
# Clips of this size take seconds to transcode (not a fraction of one): time to look at the worker.
LONG_JOB_SIZE = "1280x720"

os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":handle_segv=0:handle_sigbus=0"


def children(pid):
    found = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                found += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            continue
    return found


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except FileNotFoundError:
        return []


def thread_stats(pid):
    """{thread name: [nice value, ...]} of a process's threads, from /proc."""
    values = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()  # from field 3, the state
        values.setdefault(name, []).append(int(fields[16]))  # field 19, nice
    return values


def encoding_worker(daemon_pid, exclude=(), timeout=60):
    """The pid of a media worker of the daemon that has started its rungs (encoding); None if none has in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children(daemon_pid):
            if child in exclude or b"media-worker" not in cmdline(child):
                continue
            try:
                if any(name.startswith("rung ") for name in thread_stats(child)):
                    return child
            except FileNotFoundError:
                continue
        time.sleep(0.02)
    return None


def status_fields(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


class MediaWorkerTestCase(PipelineTestCase):
    def transcoding_worker(self, timeout=60, exclude=()):
        """The pid of a media worker of the daemon that has started its rungs (encoding)."""
        worker = encoding_worker(self.daemon.process.pid, exclude, timeout)
        if worker is None:
            self.fail("no media worker encoding after %s s; log:\n%s" % (timeout, self.daemon.log()[-3000:]))
        return worker

    def dead_letter(self, job_id, timeout=120):
        self.wait_job(job_id, states=("dead",), timeout=timeout)
        return self.daemon.json("GET", "/api/v1/jobs/%d" % job_id, headers=self.daemon.auth())[1]

    def assert_serving(self):
        status, _, body = self.daemon.request("GET", "/healthz")
        self.assertEqual(status, 200, body)


class WorkerSandboxTest(MediaWorkerTestCase):
    def test_a_transcode_runs_in_a_sandboxed_nicer_worker_that_holds_nothing_of_the_daemon(self):
        """While a job runs, its media worker is a child of the daemon in seccomp mode 2 with no_new_privs, in its
        own process group, every thread 10 steps nicer than the daemon (pipeline.nice), and its descriptors are
        standard input/output/error, its channel, the source it was given and memory files: no listening or client
        socket, no database, no other object of the store."""
        _, video = self.upload_clip(seconds=20, size=LONG_JOB_SIZE)
        worker = self.transcoding_worker()
        status = status_fields(worker)
        self.assertEqual(status["Seccomp"], "2", status)
        self.assertEqual(status["NoNewPrivs"], "1", status)
        self.assertEqual(os.getpgid(worker), worker)
        self.assertNotEqual(os.getpgid(worker), os.getpgid(self.daemon.process.pid))

        daemon_threads = thread_stats(self.daemon.process.pid)
        daemon_nice = daemon_threads["cinevault"][0]
        self.assertEqual({n for nices in daemon_threads.values() for n in nices}, {daemon_nice}, daemon_threads)
        worker_threads = thread_stats(worker)
        self.assertIn("media-worker", worker_threads)  # the main thread, and the threads it starts
        self.assertGreater(sum(len(nices) for nices in worker_threads.values()), 2, worker_threads)
        self.assertEqual({n for nices in worker_threads.values() for n in nices}, {min(19, daemon_nice + 10)},
                         worker_threads)

        source = os.path.realpath(self.object_path(video["source"]["sha256"]))
        targets = {}
        for fd in os.listdir("/proc/%d/fd" % worker):
            try:
                targets[int(fd)] = os.readlink("/proc/%d/fd/%s" % (worker, fd))
            except FileNotFoundError:
                continue
        sockets = [fd for fd, target in targets.items() if target.startswith("socket:")]
        self.assertEqual(sockets, [3], targets)  # the channel to the daemon only
        files = {target for fd, target in targets.items() if fd > 3 and not target.startswith("/memfd:")}
        self.assertEqual(files, {source}, targets)
        with open("/proc/%d/fdinfo/%d" % (worker, next(fd for fd, t in targets.items() if t == source))) as f:
            flags = int(next(line for line in f if line.startswith("flags:")).split()[1], 8)
        self.assertEqual(flags & os.O_ACCMODE, os.O_RDONLY, "the source is open read-only")
        self.wait_job(self.job_of(video["id"])["id"], timeout=180)
        self.assertNotIn(worker, children(self.daemon.process.pid), "the job's worker is reaped when it is done")
        idle = [c for c in children(self.daemon.process.pid) if b"media-worker" in cmdline(c)]
        self.assertLessEqual(len(idle), 1, "one worker started ahead for the next probe or job")


class WorkerDeathTest(MediaWorkerTestCase):
    extra_args = PIPELINE_ARGS + ("--pipeline.max_attempts", "1", "--pipeline.concurrent_jobs", "2")

    def test_sigkill_ends_the_job_as_resource_while_another_job_completes(self):
        """A worker killed with SIGKILL (what the OOM killer sends) mid-job: that job is a dead letter of class
        `resource` naming SIGKILL; the daemon answers; a second job, running at the same time, completes and plays."""
        _, first = self.upload_clip("first.mp4", seconds=30, size=LONG_JOB_SIZE)
        worker = self.transcoding_worker()
        _, second = self.upload_clip("second.mp4", seconds=4)
        os.kill(worker, signal.SIGKILL)
        job = self.dead_letter(self.job_of(first["id"])["id"])
        self.assertEqual(job["error"]["class"], "resource", job)
        self.assertIn("SIGKILL", job["error"]["message"], job)
        self.assert_serving()
        self.assertEqual(self.daemon.json("GET", "/api/v1/videos/" + first["id"])[1]["state"], "failed")
        self.wait_job(self.job_of(second["id"])["id"], timeout=180)
        self.assert_playable(second["id"], 4.0)

    def test_sigsegv_in_a_retranscode_is_crashed_and_the_published_version_keeps_playing(self):
        """A worker that dies of SIGSEGV while a published video is transcoded again: the job is a dead letter of
        class `crashed` naming SIGSEGV (not retried: a decoder that crashed on a file does so again), and the
        published version still plays."""
        _, video, _ = self.transcode_to_done(seconds=20, size=LONG_JOB_SIZE)
        status, _, body = self.daemon.request("POST", "/api/v1/videos/%s/transcode" % video["id"],
                                              headers=self.daemon.auth())
        self.assertEqual(status, 202, body)
        job_id = json.loads(body)["id"]
        os.kill(self.transcoding_worker(), signal.SIGSEGV)
        job = self.dead_letter(job_id)
        self.assertEqual(job["error"]["class"], "crashed", job)
        self.assertIn("SIGSEGV", job["error"]["message"], job)
        self.assertEqual(job["attempts"], 1, job)
        self.assert_serving()
        fetched = self.daemon.json("GET", "/api/v1/videos/" + video["id"])[1]
        self.assertEqual(fetched["state"], "ready", fetched)
        self.assertEqual(fetched["playback"]["version"], 1, fetched)
        self.assert_playable(video["id"], 20.0)


class MemoryBudgetTest(MediaWorkerTestCase):
    extra_args = PIPELINE_ARGS + ("--pipeline.max_attempts", "1", "--pipeline.concurrent_jobs", "0")

    def test_a_worker_over_its_memory_budget_is_stopped_and_the_job_is_resource(self):
        """With pipeline.worker_memory_mb far below what a 720p ladder needs, the transcode's worker is stopped
        when its resident memory passes the budget: a dead letter of class `resource` that names the budget; the
        daemon serves on."""
        _, video = self.upload_clip(seconds=20, size=LONG_JOB_SIZE)  # probed under the default budget
        self.restart_daemon(*PIPELINE_ARGS, "--pipeline.max_attempts", "1", "--pipeline.worker_memory_mb", "64")
        job = self.dead_letter(self.job_of(video["id"])["id"])
        self.assertEqual(job["error"]["class"], "resource", job)
        self.assertIn("over its memory budget of 64 MiB", job["error"]["message"], job)
        self.assert_serving()


class SilentWorkerTest(MediaWorkerTestCase):
    extra_args = PIPELINE_ARGS + ("--pipeline.max_attempts", "1", "--pipeline.worker_silence_s", "5")

    def test_a_worker_that_stops_reporting_is_killed_and_the_job_is_resource(self):
        """A worker that sends nothing for pipeline.worker_silence_s (here: stopped with SIGSTOP, as a decoder in
        an endless loop would look) is killed; its job is a dead letter of class `resource`; no worker is left."""
        _, video = self.upload_clip(seconds=20, size=LONG_JOB_SIZE)
        worker = self.transcoding_worker()
        os.kill(worker, signal.SIGSTOP)
        job = self.dead_letter(self.job_of(video["id"])["id"], timeout=60)
        self.assertEqual(job["error"]["class"], "resource", job)
        self.assertIn("sent nothing for 5 s", job["error"]["message"], job)
        self.assertFalse(os.path.exists("/proc/%d" % worker) and b"media-worker" in cmdline(worker),
                         "the silent worker was killed and reaped")
        self.assert_serving()


if __name__ == "__main__":
    unittest.main()
