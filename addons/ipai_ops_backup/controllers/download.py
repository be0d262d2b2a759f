import contextlib
import io
import logging
import queue
import threading

from werkzeug.exceptions import Conflict, NotFound

from odoo import http
from odoo.http import request

from ipai_ops.errors import BackupNotFound, OpsError
from ipai_ops.odoo_zip import export_zip
from ipai_ops.verify import verify_set

_logger = logging.getLogger(__name__)

QUEUE_CHUNKS = 16  # chunks buffered between the zip writer and the socket (bounded memory)
PUT_WAIT = 1.0  # seconds the writer waits for room before checking the reader is still there


class DownloadAbandoned(Exception):
    """The client went away: the export stops instead of waiting for it forever."""


class _QueueWriter(io.RawIOBase):
    """A write-only stream handing what it receives to a consumer thread."""

    def __init__(self, chunks: queue.Queue, abandoned: threading.Event):
        super().__init__()
        self.chunks = chunks
        self.abandoned = abandoned

    def writable(self):
        return True

    # a stream, not an Odoo model: there is no parent write to call
    def write(self, data):  # pylint: disable=method-required-super
        _put(self.chunks, bytes(data), self.abandoned)
        return len(data)


def _put(chunks: queue.Queue, item, abandoned: threading.Event) -> None:
    while not abandoned.is_set():
        try:
            chunks.put(item, timeout=PUT_WAIT)
            return
        except queue.Full:
            continue
    raise DownloadAbandoned()


def stream_zip(target, set_id):
    """Yield the Odoo zip of a set as it is produced, without staging it on disk.

    When the client goes away the generator is closed: the producer stops at its next
    write and releases its files and its pg_restore. A failure mid-stream ends the
    response with an error, never with a zip that merely looks complete.
    """
    chunks: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
    done, failed = object(), object()
    abandoned = threading.Event()

    def produce():
        outcome = done
        try:
            export_zip(target, set_id, _QueueWriter(chunks, abandoned))
        except DownloadAbandoned:
            _logger.info("download of backup %s abandoned by the client", set_id)
            return
        except Exception:
            _logger.exception("export of backup %s failed mid-stream", set_id)
            outcome = failed
        with contextlib.suppress(DownloadAbandoned):
            _put(chunks, outcome, abandoned)

    producer = threading.Thread(target=produce, name=f"ipai-ops-zip-{set_id}", daemon=True)
    producer.start()
    try:
        while (chunk := chunks.get()) is not done:
            if chunk is failed:
                raise RuntimeError(f"the export of backup {set_id} failed; see the server log")
            yield chunk
    finally:
        abandoned.set()


class BackupDownload(http.Controller):
    @http.route("/ipai_ops/backup/<int:backup_id>/download", type="http", auth="user")
    def download(self, backup_id):
        """The backup as the zip Odoo's database manager and Odoo.sh import."""
        backup = request.env["ipai.ops.backup"].browse(backup_id)
        backup.check_access("read")
        backup._check_may_download()
        target = backup.target_id._engine_target()
        try:
            verify_set(target, backup.set_id)  # a corrupt set fails here, not halfway through
        except BackupNotFound as exc:
            raise NotFound(str(exc)) from None
        except OpsError as exc:  # corrupt, unreadable: said plainly, not as a server error
            raise Conflict(str(exc)) from None
        filename = f"{backup.set_id}.zip"
        return request.make_response(
            stream_zip(target, backup.set_id),
            headers=[
                ("Content-Type", "application/zip"),
                ("Content-Disposition", f'attachment; filename="{filename}"'),
            ],
        )
