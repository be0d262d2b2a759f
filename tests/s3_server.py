"""moto's S3 server on loopback, for the s3:// off-site tests.

moto runs from a virtualenv of its own, which setup/bootstrap.sh makes at
var/s3-venv: its dependencies clash with the Odoo packages pinned in the
project's. The server starts open, is given one IAM user allowed S3 and one
bucket, and from then on checks every request's signature as AWS does, so a
wrong secret is refused. It is stopped after the tests.
"""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import botocore.session
from sftp_server import free_port

S3_VENV = Path(__file__).resolve().parents[1] / "var" / "s3-venv"
REGION = "us-east-1"
BUCKET = "ipai-offsite"
USER = "ipai-ops"
ALLOW_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


class S3Server:
    def __init__(self, directory: Path):
        self.directory = directory
        self.endpoint = f"http://127.0.0.1:{free_port()}"
        self.process = None
        self.key = self.secret = None

    def start(self) -> "S3Server":
        python = S3_VENV / "bin" / "python"
        if not os.access(python, os.X_OK):
            raise RuntimeError(f"{S3_VENV} is missing: setup/bootstrap.sh installs moto there")
        port = self.endpoint.rsplit(":", 1)[1]
        # a log file, not a pipe: moto logs every request and a full pipe would block it
        with open(self.directory / "moto.log", "wb") as log:
            self.process = subprocess.Popen(
                [str(python), "-m", "moto.server", "-H", "127.0.0.1", "-p", port],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self._wait_until_answering()
        self._create_user_and_bucket()
        self._require_signatures()
        return self

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.directory / "moto.log").read_text(errors="replace")
                raise RuntimeError(f"moto's server stopped: {log[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        raise RuntimeError("moto's server did not answer")

    def _client(self, service: str):
        # any credentials do while the server is open, before _require_signatures
        return botocore.session.get_session().create_client(
            service, endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id="setup", aws_secret_access_key="setup",
        )  # fmt: skip

    def _create_user_and_bucket(self) -> None:
        iam = self._client("iam")
        iam.create_user(UserName=USER)
        iam.put_user_policy(UserName=USER, PolicyName="s3", PolicyDocument=json.dumps(ALLOW_S3))
        access_key = iam.create_access_key(UserName=USER)["AccessKey"]
        self.key, self.secret = access_key["AccessKeyId"], access_key["SecretAccessKey"]
        self._client("s3").create_bucket(Bucket=BUCKET)

    def _require_signatures(self) -> None:
        # moto checks nothing by default; after this, only the IAM user's key is accepted
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/reset-auth", data=b"0", method="POST",
            headers={"Content-Type": "text/plain"},  # a form type would hide the body
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10):
            pass

    def url(self, prefix: str) -> str:
        return f"s3://{BUCKET}/{prefix}"

    def options(self, **changes) -> dict:
        """The target's fsspec options (s3fs), with ``changes`` applied."""
        options = {
            "key": self.key,
            "secret": self.secret,
            "endpoint_url": self.endpoint,
            "client_kwargs": {"region_name": REGION},
        }
        return options | changes

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
