"""A real OpenSSH server on loopback, for the sftp:// off-site tests.

Its own host key, one client key, no password logins, the built-in SFTP server;
it runs as the current user (root in CI), in a private directory, and is stopped
after the tests.
"""

import getpass
import os
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


class SftpServer:
    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.user = getpass.getuser()
        self.client_key = directory / "client"
        self.process = None

    def start(self) -> "SftpServer":
        if not os.access(SSHD, os.X_OK):
            raise RuntimeError(f"{SSHD} is missing: the test command installs openssh-server")
        _keygen(self.directory / "host")
        _keygen(self.client_key)
        (self.directory / "authorized_keys").write_text((self.directory / "client.pub").read_text())
        config = self.directory / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.directory / 'host'}\n"
            f"AuthorizedKeysFile {self.directory / 'authorized_keys'}\n"
            f"PidFile {self.directory / 'sshd.pid'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
            "StrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n"
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # its privilege-separation directory
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self._wait_until_listening()
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd stopped: {self.process.stderr.read().decode()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def url(self, path: Path) -> str:
        return f"sftp://{self.user}@127.0.0.1:{self.port}{path}"

    def options(self) -> dict:
        return {"key_filename": str(self.client_key), "look_for_keys": False, "allow_agent": False}

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
