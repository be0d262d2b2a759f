"""The audit trail is append-only in PostgreSQL itself, not only in the ORM.

ORM overrides are a friendly message, not a guarantee: ``_write()``, a server
action or an ACL line an administrator adds would go around them. These triggers
refuse, whoever asks:

* any change to or deletion of a run event;
* the deletion of a run, any change to a finished (done, failed, cancelled) run,
  and any change to the columns that say what was asked, where, when and by whom.

One exception, the retention policy: a transaction that sets ``ipai_ops.retention``
may delete *finished* runs and their events (``ipai.ops.run.retention``).
The ORM cannot set it; SQL access to the database can — as it can drop a trigger.

Installed (again) by the two models' ``init()`` on every module install and update.
"""

RUN_AUDIT_COLUMNS = (
    "name", "kind", "kind_label", "environment_id", "project_id", "stage", "requester_id",
    "requester_name", "params", "queued_at", "after_run_id", "create_uid", "create_date",
)  # fmt: skip
FINISHED_STATES = ("done", "failed", "cancelled")

_RUN_FUNCTION_TEMPLATE = """
CREATE OR REPLACE FUNCTION ipai_ops_run_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('ipai_ops.retention', true) = 'on' AND OLD.state IN ({finished}) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'ipai-ops: run % is part of the audit trail and cannot be deleted',
            OLD.name USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.state IN ({finished}) THEN
        RAISE EXCEPTION 'ipai-ops: run % is finished (%); its record cannot be changed',
            OLD.name, OLD.state USING ERRCODE = 'restrict_violation';
    END IF;
    IF ({new_columns}) IS DISTINCT FROM ({old_columns}) THEN
        RAISE EXCEPTION 'ipai-ops: what run % asked for, where and by whom cannot be changed',
            OLD.name USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$
"""

_RUN_FUNCTION = _RUN_FUNCTION_TEMPLATE.format(
    finished=", ".join(f"'{state}'" for state in FINISHED_STATES),
    new_columns=", ".join(f"NEW.{column}" for column in RUN_AUDIT_COLUMNS),
    old_columns=", ".join(f"OLD.{column}" for column in RUN_AUDIT_COLUMNS),
)

_EVENT_FUNCTION = """
CREATE OR REPLACE FUNCTION ipai_ops_run_event_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('ipai_ops.retention', true) = 'on' THEN
        RETURN OLD;  -- the run it belongs to is checked by the runs' trigger
    END IF;
    RAISE EXCEPTION 'ipai-ops: run events are an audit trail: they cannot be changed or deleted'
        USING ERRCODE = 'restrict_violation';
END
$$
"""

_RUN_TRIGGER = """
DROP TRIGGER IF EXISTS ipai_ops_run_append_only ON ipai_ops_run;
CREATE TRIGGER ipai_ops_run_append_only BEFORE UPDATE OR DELETE ON ipai_ops_run
    FOR EACH ROW EXECUTE FUNCTION ipai_ops_run_append_only();
"""

_EVENT_TRIGGER = """
DROP TRIGGER IF EXISTS ipai_ops_run_event_append_only ON ipai_ops_run_event;
CREATE TRIGGER ipai_ops_run_event_append_only BEFORE UPDATE OR DELETE ON ipai_ops_run_event
    FOR EACH ROW EXECUTE FUNCTION ipai_ops_run_event_append_only();
"""


def install_run_trigger(cr) -> None:
    """(Re)create the runs' trigger (constant SQL, no input)."""
    cr.execute(_RUN_FUNCTION)
    cr.execute(_RUN_TRIGGER)


def install_event_trigger(cr) -> None:
    """(Re)create the run events' trigger (constant SQL, no input)."""
    cr.execute(_EVENT_FUNCTION)
    cr.execute(_EVENT_TRIGGER)
