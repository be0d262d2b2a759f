"""Who may run, stop, update and read environments' instances, attacked over JSON-RPC.

The expected cells are written out by hand from the README's role table (not computed
from the code's role functions), so a change of policy shows up here as a failure.
Nothing here needs Docker: the runs are only queued, and the host's endpoint answers
nothing, so an allowed log read ends in the engine's own refusal, not the role's.
"""

from odoo.tests import tagged

from odoo.addons.ipai_ops_core.tests.common import OpsCase
from odoo.addons.ipai_ops_core.tests.rpc import Refused, RpcCase, by_stage

STAGES = ("production", "staging", "development")
ROLES = ("ops_admin", "admin", "tester", "developer", "viewer", "outsider", "other_admin")
HOST = "ipai.ops.runtime.host"
ENVIRONMENT = "ipai.ops.environment"


STAGE_ROLES = by_stage(production="admin", staging="tester", development="developer")
EXPECTED = {
    "deploy": STAGE_ROLES,
    "start": STAGE_ROLES,
    "stop": STAGE_ROLES,
    "restart": STAGE_ROLES,
    "update": STAGE_ROLES,
    "logs": STAGE_ROLES,
    "download_logs": STAGE_ROLES,
    "restart_policy": {(role, stage) for role in ("admin", "ops_admin") for stage in STAGES},
    "place_on_host": {("ops_admin", stage) for stage in STAGES},
    "read_host_field": {("ops_admin", stage) for stage in STAGES},
    "write_instance_url": set(),  # the system's, even for operations administrators
    "own_role": {("ops_admin", "production")},
    "set_limits": {("ops_admin", stage) for stage in STAGES},
    "read_limits": {("ops_admin", stage) for stage in STAGES},
}


ACTIONS = {
    "deploy": "action_instance_deploy",
    "start": "action_instance_start",
    "stop": "action_instance_stop",
    "restart": "action_instance_restart",
}
WRITES = {
    "restart_policy": {"restart_policy": "never"},
    "place_on_host": {"runtime_host_id": None},  # the other host, set by the test
    "write_instance_url": {"instance_url": "http://evil.example"},
    "set_limits": {"instance_memory_mb": 65536, "instance_cpus": 16.0},
}


BAD_TEMPLATES = (
    "https://{project.__class__}.example.com",
    "https://{port!r}.example.com",
    "https://{environment[0]}.example.com",
    "https://{secret}.example.com",
    "https://{port:>9}.example.com",
    "https://{.example.com",
)


@tagged("post_install", "-at_install")
class TestRuntimeRolesOverRpc(RpcCase, OpsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {**cls.members_a, "ops_admin": cls.ops_admin, "outsider": cls.outsider,
                     "other_admin": cls.admin_b}  # fmt: skip
        cls.host = cls.env[HOST].create(
            {"name": "Nowhere", "endpoint": "unix:///nonexistent/ipai-ops/docker.sock"}
        )
        cls.other_host = cls.env[HOST].create(
            {"name": "Elsewhere", "endpoint": "unix:///nonexistent/ipai-ops/other.sock"}
        )
        for environment in cls.envs_a.values():
            environment.write({"runtime_host_id": cls.host.id, "backup_before_update": False})
            environment.sudo().write({"instance_state": "running", "instance_port": 18301})

    def _reset(self, environment):
        environment = environment.sudo()
        environment.instance_state = "none"
        environment.write({"runtime_host_id": self.host.id, "restart_policy": "on_failure"})
        environment.instance_state = "running"

    def _runs(self):
        return self.env["ipai.ops.run"].sudo().search_count([])

    def _attempt(self, operation: str, user, stage: str) -> bool:
        environment = self.envs_a[stage]
        if method := ACTIONS.get(operation):
            return self.allowed(user, ENVIRONMENT, method, [environment.id])
        if values := WRITES.get(operation):
            return self._write(user, environment, operation, values)
        return getattr(self, f"_try_{operation}")(user, environment)

    def _write(self, user, environment, operation, values) -> bool:
        if operation != "place_on_host":
            return self.allowed(user, ENVIRONMENT, "write", [environment.id], values)
        environment.sudo().instance_state = "none"  # a running instance must stop first
        try:
            values = {"runtime_host_id": self.other_host.id}
            return self.allowed(user, ENVIRONMENT, "write", [environment.id], values)
        finally:
            environment.sudo().instance_state = "running"

    def _try_update(self, user, environment) -> bool:
        wizard = "ipai.ops.instance.update"
        try:
            ids = self.call(user, wizard, "create", [{"environment_id": environment.id,
                                                      "modules": "sale"}])  # fmt: skip
            self.call(user, wizard, "action_update", ids)
        except Refused:
            return False
        return True

    def _try_logs(self, user, environment) -> bool:
        try:
            self.call(user, ENVIRONMENT, "action_instance_logs", [environment.id])
        except Refused as refused:
            # past the role check, the engine (which is not there) is what refuses
            return "runtime host does not answer" in refused.message
        raise AssertionError("a log was read from an engine that does not exist")

    def _try_download_logs(self, user, environment) -> bool:
        self.login_as(user)
        response = self.url_open(f"/ipai_ops/instance/{environment.id}/log")
        return response.status_code == 503 and "runtime host does not answer" in response.text

    def _try_own_role(self, user, environment) -> bool:
        """Production given its own role: an operations administrator's, behind a backup
        (here, past the role check, the missing storage target is what refuses)."""
        try:
            self.call(user, ENVIRONMENT, "action_instance_own_role", [environment.id])
        except Refused as refused:
            return "needs a storage target" in refused.message
        raise AssertionError("production changed owner without a storage target")

    def _try_read_limits(self, user, environment) -> bool:
        return self.allowed(user, ENVIRONMENT, "read", [environment.id],
                            ["instance_memory_mb", "instance_cpus"])  # fmt: skip

    def _try_read_host_field(self, user, environment) -> bool:
        return self.allowed(user, ENVIRONMENT, "read", [environment.id], ["runtime_host_id"])

    def test_every_cell_of_the_matrix(self):
        """Each role may do exactly what its row says, on each stage; a refusal queues nothing."""
        mismatches = []
        for role in ROLES:
            for operation, cells in EXPECTED.items():
                for stage in STAGES:
                    before = self._runs()
                    done = self._attempt(operation, self.users[role], stage)
                    if done != ((role, stage) in cells):
                        mismatches.append(f"{role} {operation} on {stage}: "
                                          f"{'allowed' if done else 'refused'}")  # fmt: skip
                    if not done and self._runs() != before:
                        mismatches.append(f"{role} {operation} on {stage}: refused, yet queued")
                    self._reset(self.envs_a[stage])
        self.assertEqual(mismatches, [], "\n".join(mismatches))

    def test_a_branch_s_instances_get_the_host_s_limits_for_its_stage(self):
        """Staging and development run a branch's code: by default they get the host's
        smaller limits, production its own; an operations administrator's per-environment
        value wins."""
        self.host.write({"memory_mb": 8192, "cpus": 4.0, "branch_memory_mb": 1024,
                         "branch_cpus": 0.5, "pids_limit": 300})  # fmt: skip
        limits = {stage: env._instance_limits(self.host) for stage, env in self.envs_a.items()}
        self.assertEqual(limits["production"], {"memory_mb": 8192, "cpus": 4.0, "pids": 300})
        self.assertEqual(limits["staging"], {"memory_mb": 1024, "cpus": 0.5, "pids": 300})
        self.envs_a["development"].write({"instance_memory_mb": 3072})
        self.assertEqual(self.envs_a["development"]._instance_limits(self.host)["memory_mb"], 3072)

    def test_hosts_are_the_ops_admins_alone(self):
        """Nobody but operations administrators reads, creates, changes or tests a host."""
        values = {"name": "Mine", "endpoint": "unix:///run/evil.sock"}
        for role in ROLES:
            user = self.users[role]
            with self.subTest(role=role):
                allowed = role == "ops_admin"
                self.assertEqual(self.allowed(user, HOST, "read", [self.host.id], ["endpoint"]),
                                 allowed)  # fmt: skip
                self.assertEqual(self.allowed(user, HOST, "create", [values]), allowed)
                self.assertEqual(
                    self.allowed(user, HOST, "write", [self.host.id], {"base_image": "evil:1"}),
                    allowed,
                )
                self.assertEqual(
                    self.allowed(user, HOST, "action_test_connection", [self.host.id]), allowed
                )
                self.host.sudo().base_image = "odoo:19"

    def test_a_host_s_network_is_the_ops_admins_alone_and_reaches_every_instance(self):
        """Project roles cannot move instances onto another network (the setting is the
        host's); an operations administrator's network reaches every environment's spec,
        and a name Docker could not take is refused."""
        for role in ROLES:
            with self.subTest(role=role):
                allowed = role == "ops_admin"
                values = {"network": "ops-net"}
                self.assertEqual(
                    self.allowed(self.users[role], HOST, "write", [self.host.id], values), allowed
                )
        self.assertEqual(self.envs_a["staging"]._instance_spec().network, "ops-net")
        self.host.network = False
        self.assertEqual(self.envs_a["staging"]._instance_spec().network, "host")
        refused = self.assertRefused(
            self.ops_admin, HOST, "write", [self.host.id], {"network": "net; rm -rf /"}
        )
        self.assertIn("Docker network name", refused.message)

    def test_a_tcp_engine_without_tls_is_refused(self):
        """An engine reachable over TCP without TLS gives root on its machine: refused."""
        refused = self.assertRefused(
            self.ops_admin, HOST, "create", [{"name": "Open", "endpoint": "tcp://10.9.9.9:2375"}]
        )
        self.assertIn("needs TLS", refused.message)

    def test_nothing_a_project_role_writes_reaches_the_image_mounts_or_host(self):
        """A project admin's writable fields leave the code, database and host alone."""
        admin = self.members_a["admin"]
        production = self.envs_a["production"]
        for field, value in (("addons_path", "/etc"), ("database_name", "postgres"),
                             ("runtime_host_id", self.other_host.id),
                             ("instance_image", "evil:1"), ("filestore_path", "/")):  # fmt: skip
            with self.subTest(field=field):
                self.assertRefused(admin, ENVIRONMENT, "write", [production.id], {field: value})
        self.assertEqual(production.sudo().runtime_host_id, self.host)

    def test_a_running_instance_is_not_moved_to_another_host(self):
        """Placing a running environment elsewhere would leave its container behind."""
        refused = self.assertRefused(
            self.ops_admin, ENVIRONMENT, "write", [self.envs_a["staging"].id],
            {"runtime_host_id": self.other_host.id},
        )  # fmt: skip
        self.assertIn("stop it there", refused.message)

    def test_a_copy_is_deployable_where_its_source_runs(self):
        """A copy (staging or restore into a new environment) is placed on its source's
        host, so its form offers Deploy at once to those who may deploy it."""
        source = self.envs_a["development"]
        values = source._copy_values("development", "a_dev_copy", "Copy of dev")
        copy = self.env[ENVIRONMENT].sudo().create({**values, "data_class": "neutralized"})
        seen = copy.with_user(self.members_a["developer"])
        self.assertTrue(seen.has_runtime_host)
        self.assertIn(" instance_deploy ", seen.allowed_kinds)
        self.assertNotIn(
            " instance_deploy ", copy.with_user(self.members_a["viewer"]).allowed_kinds
        )

    def test_the_url_template_takes_plain_fields_only(self):
        """{project.__class__} and the like would be evaluated by str.format: refused."""
        for template in BAD_TEMPLATES:
            with self.subTest(template=template):
                refused = self.assertRefused(
                    self.ops_admin, HOST, "write", [self.host.id], {"url_template": template}
                )
                self.assertIn("may only use", refused.message)
        template = "https://{environment}.{project}.example.com"
        self.call(self.ops_admin, HOST, "write", [self.host.id], {"url_template": template})
        self.assertEqual(self.host._url("a", "env-7", 18069), "https://env-7.a.example.com")
