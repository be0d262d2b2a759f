"""The executor in a real Odoo server's cron workers, as ``make run`` runs it: deleting
users while their runs execute, locks held elsewhere, churn of users while both lanes
work, PostgreSQL restarted under it, and a stop with one SIGTERM while a run holds a lane.

A run that waits at a known point is the ``hold`` kind of the tests' own addon
(``tests/odoo_addons/ipai_ops_test_hold``): it writes its environment, so its
transaction holds that row like a real operation's, and waits while a token file exists.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
from cluster import restart_cluster
from odoo_server import OdooServer, drop_database, odoo_source, websocket_handshake

DATABASE = f"ipai_exec_{os.getpid()}"
PASSWORD = "a long password for tests"  # users of a throwaway database
DELETION_BOUND = 5.0  # seconds a user's deletion (or its refusal) may take
REQUEST_BOUND = 10.0  # seconds any request may take under churn
CHURN_SECONDS = 120
RESTART_TO_QUEUE = 20  # seconds between PostgreSQL's restart and the next run queued
AFTER_RESTART_BOUND = 60  # seconds that run may take to complete


@pytest.fixture(scope="module")
def odoo(tmp_path_factory):
    src = odoo_source()
    if src is None:
        pytest.skip("!!!!! EXECUTOR SERVER TESTS SKIPPED: no Odoo 19 configured !!!!!")
    work = tmp_path_factory.mktemp("odoo-server")
    server = OdooServer(src, DATABASE, work)
    server.install("ipai_ops_core,ipai_ops_test_hold")
    server.start()
    try:
        yield Setup(server, work / "holds")
    finally:
        server.stop()
        drop_database(DATABASE)


class Setup:
    """A project with a development environment on the test cluster, made over RPC by
    an administrator; its environment made by an operations administrator of its own."""

    def __init__(self, server: OdooServer, holds):
        self.server, self.holds = server, holds
        holds.mkdir()
        self.admin = admin = server.client("admin", "admin")
        admin("ir.config_parameter", "set_param", "ipai_ops_test_hold.dir", str(holds))
        self.groups = {
            name: admin("ir.model.data", "search_read",
                        [("module", "=", "ipai_ops_core"), ("name", "=", name)],
                        fields=["res_id"])[0]["res_id"]
            for name in ("group_ops_user", "group_ops_admin")
        }  # fmt: skip
        server_id = admin("ipai.ops.db.server", "create", [{
            "name": "Test cluster", "host": os.environ.get("PGHOST") or False,
            "port": int(os.environ.get("PGPORT", "5432")), "login": os.environ.get("PGUSER"),
            "password": os.environ.get("PGPASSWORD") or False, "sslmode": "disable",
        }])[0]  # fmt: skip
        self.project = admin("ipai.ops.project", "create", [{"name": "Hold", "code": "hold"}])[0]
        self.maker = self.user("env_maker", "group_ops_admin")
        # two: a hold on each keeps both lanes busy without one waiting for the other's row
        self.envs = self.server.client("env_maker", PASSWORD)(
            "ipai.ops.environment", "create", [{
                "name": f"Hold dev {n}", "project_id": self.project, "stage": "development",
                "server_id": server_id, "database_name": f"{DATABASE}_target{n}",
            } for n in (1, 2)],
        )  # fmt: skip

    def user(self, login: str, group: str = "group_ops_user", role: str | None = None) -> int:
        uid = self.admin("res.users", "create", [{
            "name": login.replace("_", " ").title(), "login": login, "password": PASSWORD,
            "group_ids": [(6, 0, [self.groups[group]])],
        }])[0]  # fmt: skip
        if role:
            self.admin("ipai.ops.project.member", "create",
                       [{"project_id": self.project, "user_id": uid, "role": role}])  # fmt: skip
        return uid

    def developer(self, login: str):
        self.user(login, role="developer")
        return self.server.client(login, PASSWORD)

    def hold(self, client, token: str = "", seconds: float = 0.0, on: int = 0) -> int:
        if token:
            (self.holds / token).write_text("")
        environment = self.envs[on]
        return client("ipai.ops.environment", "action_run_hold", [environment], token, seconds)

    def reached(self, token: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not (self.holds / f"{token}.reached").exists():
            assert time.monotonic() < deadline, f"the run holding {token} never started:\n" + (
                self.server.tail()
            )
            time.sleep(0.1)

    def release(self, *tokens: str) -> None:
        for token in tokens:
            (self.holds / token).unlink(missing_ok=True)

    def runs(self, ids: list[int]) -> dict[int, dict]:
        found = self.admin("ipai.ops.run", "read", ids,
                           ["state", "requester_name", "error", "event_ids"])  # fmt: skip
        return {run["id"]: run for run in found}

    def wait_finished(self, ids: list[int], timeout: float = 120) -> dict[int, dict]:
        deadline = time.monotonic() + timeout
        while True:
            runs = self.runs(ids)
            if all(run["state"] in ("done", "failed", "cancelled") for run in runs.values()):
                return runs
            assert time.monotonic() < deadline, f"runs still going: {runs}\n{self.server.tail()}"
            time.sleep(0.5)


class Probe(threading.Thread):
    """Logs in every 0.3 s (a request that reads res_users) and keeps how long each took."""

    def __init__(self, setup: Setup):
        super().__init__(daemon=True)
        self.setup, self.waits, self.failures = setup, [], []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            started = time.monotonic()
            try:
                self.setup.server.client("admin", "admin", timeout=REQUEST_BOUND + 5)
            except Exception as exc:  # noqa: BLE001 - any failure is what the test reports
                self.failures.append(repr(exc))
            self.waits.append(time.monotonic() - started)
            self.done.wait(0.3)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join()


def timed(call, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result or the Fault raised)."""
    started = time.monotonic()
    try:
        result = call(*args, **kwargs)
    except xmlrpc.client.Fault as fault:
        result = fault
    return time.monotonic() - started, result


def test_users_deleted_while_their_runs_execute_or_wait_hang_nothing(odoo):
    """Both lanes hold a run (their transactions hold their environment's row); a third
    run waits in the queue. Deleting its requesters is refused at once (they are archived
    instead: the trail keeps their name); deleting the user who made the environment meets
    the row a run holds and is refused within the bound; a user who asked for nothing is
    deleted. The server answers throughout, and every run finishes once released."""
    running = odoo.developer("dev_running")
    waiting = odoo.developer("dev_waiting")
    helper = odoo.developer("dev_helper")
    bystander = odoo.user("bystander")
    held = [odoo.hold(running, "t1"), odoo.hold(helper, "t2", on=1)]
    odoo.reached("t1")
    odoo.reached("t2")
    queued = odoo.hold(waiting)
    assert odoo.runs([queued])[queued]["state"] == "queued"
    with Probe(odoo) as probe:
        outcomes = {
            login: timed(odoo.admin, "res.users", "unlink", [uid])
            for login, uid in (
                ("dev_running", running.uid), ("dev_waiting", waiting.uid),
                ("env_maker", odoo.maker), ("bystander", bystander),
            )
        }  # fmt: skip
        archived = timed(
            odoo.admin, "res.users", "write", [running.uid, waiting.uid], {"active": False}
        )
    for login, (seconds, _) in outcomes.items():
        assert seconds < DELETION_BOUND, f"deleting {login} took {seconds:.1f} s"
    for login in ("dev_running", "dev_waiting"):
        assert isinstance(outcomes[login][1], xmlrpc.client.Fault)
        assert "archive these users" in outcomes[login][1].faultString
    maker = outcomes["env_maker"][1]
    assert isinstance(maker, xmlrpc.client.Fault), "the environment's row is the run's"
    assert "An operation running now holds records" in maker.faultString
    assert outcomes["bystander"][1] is True
    assert archived[0] < DELETION_BOUND and archived[1] is True
    assert not probe.failures, probe.failures
    assert max(probe.waits) < DELETION_BOUND, f"a login took {max(probe.waits):.1f} s"

    odoo.release("t1", "t2")
    runs = odoo.wait_finished([*held, queued])
    assert {run["state"] for run in runs.values()} == {"done"}, runs
    assert runs[held[0]]["requester_name"] == "Dev Running"
    seconds, deleted = timed(odoo.admin, "res.users", "unlink", [odoo.maker])
    assert deleted is True and seconds < DELETION_BOUND, "once the runs ended, it goes"


def _lock_waits(dbname: str) -> float:
    """The longest any backend of ``dbname`` has been waiting for a lock, in seconds."""
    with psycopg2.connect(dbname="postgres") as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0)"
            "  FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (dbname,),
        )
        return float(cur.fetchone()[0])
    # (psycopg2's "with conn" ends the transaction only: the connection closes on exit)


def test_a_lock_held_elsewhere_past_the_timeout_is_given_up_and_the_run_retried(odoo):
    """Another transaction holds the environment's row for longer than the executor's
    lock_timeout: the run's write gives up after it (no backend waits much longer),
    the run goes to retrying with one event saying why, and finishes once the lock is
    released."""
    developer = odoo.developer("dev_locked")
    blocker = psycopg2.connect(dbname=DATABASE)
    longest = 0.0
    try:
        with blocker.cursor() as cur:
            # the lock an UPDATE of the row takes (a run of another worker writing it)
            cur.execute(
                "SELECT 1 FROM ipai_ops_environment WHERE id = %s FOR NO KEY UPDATE",
                (odoo.envs[0],),
            )
        run = odoo.hold(developer)
        deadline = time.monotonic() + 30
        while odoo.runs([run])[run]["state"] != "retrying":
            assert time.monotonic() < deadline, f"never gave up: {odoo.runs([run])}"
            longest = max(longest, _lock_waits(DATABASE))
            time.sleep(0.2)
    finally:
        blocker.rollback()
        blocker.close()
    assert longest < 7, f"a backend waited {longest:.1f} s for the lock"
    events = odoo.admin("ipai.ops.run.event", "search_read", [("run_id", "=", run)],
                        fields=["message", "level"])  # fmt: skip
    retries = [e for e in events if "lock timeout" in e["message"]]
    assert len(retries) == 1 and retries[0]["level"] == "warning", events
    assert odoo.wait_finished([run], timeout=90)[run]["state"] == "done"


def test_twenty_users_churning_while_both_lanes_work_keep_every_request_short(odoo):
    """For two minutes, in two threads: users are created, made developers, queue runs
    (which both cron lanes execute) and are deleted — refused and archived when they asked
    for runs, deleted when not. No request takes longer than the bound and no run is left
    running."""
    durations, runs, errors = [], [], []
    stop_at = time.monotonic() + CHURN_SECONDS
    counter = itertools.count()

    def churn(lane: int) -> None:
        for slot in itertools.cycle(range(lane, 20, 2)):
            if time.monotonic() > stop_at:
                return
            n = next(counter)
            try:
                started = time.monotonic()
                user = odoo.developer(f"churn{slot}_{n}")
                runs.append(odoo.hold(user, seconds=0.3 + (n % 5) * 0.3, on=lane))
                refused = timed(odoo.admin, "res.users", "unlink", [user.uid])
                assert isinstance(refused[1], xmlrpc.client.Fault), refused
                odoo.admin("res.users", "write", [user.uid], {"active": False})
                passerby = odoo.user(f"passerby{slot}_{n}", role="viewer")
                assert timed(odoo.admin, "res.users", "unlink", [passerby])[1] is True
                durations.append(time.monotonic() - started)
            except Exception as exc:  # noqa: BLE001 - reported below, with the others
                errors.append(repr(exc))
                return

    with Probe(odoo) as probe, ThreadPoolExecutor(2) as pool:
        list(pool.map(churn, range(2)))
    assert not errors, errors[:5]
    assert not probe.failures, probe.failures[:5]
    assert len(durations) >= 20, f"only {len(durations)} rounds in {CHURN_SECONDS} s"
    # one round is six requests: each of them is under the bound
    assert max(probe.waits) < REQUEST_BOUND, f"a login took {max(probe.waits):.1f} s"
    assert max(durations) < 6 * REQUEST_BOUND, f"a round took {max(durations):.1f} s"
    finished = odoo.wait_finished(runs, timeout=180)
    states = {run["state"] for run in finished.values()}
    assert states == {"done"}, {s: sum(r["state"] == s for r in finished.values()) for s in states}


def test_the_web_client_s_bus_opens_on_the_server_s_one_address(odoo):
    """The live run views need the bus: its websocket opens on the address the browser
    uses (the front sends it to the evented server), not only on the evented port."""
    assert websocket_handshake(odoo.server.url).startswith("HTTP/1.1 101"), odoo.server.tail()
    workers = f"http://127.0.0.1:{odoo.server.odoo_port}"
    assert not websocket_handshake(workers).startswith("HTTP/1.1 101"), "what the front is for"


def test_a_run_queued_after_postgresql_restarts_completes_within_a_minute(odoo):
    """PostgreSQL restarts under the server (``pg_ctl -m fast restart``); a run queued 20 s
    later completes within a minute, Odoo untouched: its cron workers came back."""
    restart_cluster()
    time.sleep(RESTART_TO_QUEUE)
    developer = odoo.developer("dev_after_restart")
    started = time.monotonic()
    run = odoo.hold(developer)
    finished = odoo.wait_finished([run], timeout=AFTER_RESTART_BOUND)[run]
    assert finished["state"] == "done", finished
    assert time.monotonic() - started < AFTER_RESTART_BOUND


def test_a_run_the_restart_cut_off_is_retried_and_completes(odoo):
    """A run executing when PostgreSQL restarts loses its transaction: it is attempted
    again (a transient failure, said in its events), never left running, and completes."""
    developer = odoo.developer("dev_cut_off")
    run = odoo.hold(developer, "cut")
    odoo.reached("cut")
    restart_cluster()
    odoo.release("cut")  # the run returns to a database that is gone
    finished = odoo.wait_finished([run], timeout=AFTER_RESTART_BOUND * 2)[run]
    assert finished["state"] == "done", finished
    events = odoo.admin("ipai.ops.run.event", "read", finished["event_ids"], ["message"])
    said = " ".join(event["message"] for event in events)
    assert "Attempt 1 of" in said and "connection to the control plane's database was lost" in said
    assert odoo.admin("ipai.ops.run", "read", [run], ["attempt"])[0]["attempt"] == 2


def test_one_sigterm_stops_the_server_while_a_run_holds_a_lane(odoo):
    """A run holds a cron lane that will not let go; one SIGTERM stops the server all the
    same, within the supervisor's grace (Odoo would otherwise wait for the thread)."""
    developer = odoo.developer("dev_stuck")
    odoo.hold(developer, "stuck")
    odoo.reached("stuck")
    seconds = odoo.server.stop()
    assert odoo.server.process.poll() is not None
    assert seconds < 15 + 5, f"stopping took {seconds:.1f} s"
    with pytest.raises(OSError):
        odoo.server.client("admin", "admin", timeout=3)
    odoo.release("stuck")
