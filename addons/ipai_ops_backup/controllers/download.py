import io
import logging
import queue
import threading

from odoo import http
from odoo.http import request

from ipai_ops.odoo_zip import export_zip
from ipai_ops.verify import verify_set

_logger = logging.getLogger(__name__)

QUEUE_CHUNKS = 16  # chunks buffered between the zip writer and the socket (bounded memory)


class _QueueWriter(io.RawIOBase):
    """A write-only stream handing what it receives to a consumer thread."""

    def __init__(self, chunks: queue.Queue):
        super().__init__()
        self.chunks = chunks

    def writable(self):
        return True

    # a stream, not an Odoo model: there is no parent write to call
    def write(self, data):  # pylint: disable=method-required-super
        self.chunks.put(bytes(data))
        return len(data)


def stream_zip(target, set_id):
    """Yield the Odoo zip of a set as it is produced, without staging it on disk."""
    chunks: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
    done = object()

    def produce():
        try:
            export_zip(target, set_id, _QueueWriter(chunks))
        except Exception:  # reported; the truncated zip then fails to open
            _logger.exception("export of backup %s failed mid-stream", set_id)
        finally:
            chunks.put(done)

    threading.Thread(target=produce, name=f"ipai-ops-zip-{set_id}", daemon=True).start()
    while (chunk := chunks.get()) is not done:
        yield chunk


class BackupDownload(http.Controller):
    @http.route("/ipai_ops/backup/<int:backup_id>/download", type="http", auth="user")
    def download(self, backup_id):
        """The backup as the zip Odoo's database manager and Odoo.sh import."""
        backup = request.env["ipai.ops.backup"].browse(backup_id)
        backup.check_access("read")
        backup._check_may_download()
        target = backup.target_id._engine_target()
        verify_set(target, backup.set_id)  # a corrupt set fails here, not halfway through
        filename = f"{backup.set_id}.zip"
        return request.make_response(
            stream_zip(target, backup.set_id),
            headers=[
                ("Content-Type", "application/zip"),
                ("Content-Disposition", f'attachment; filename="{filename}"'),
            ],
        )
