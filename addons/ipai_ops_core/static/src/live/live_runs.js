import { onWillDestroy } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { useDebounced } from "@web/core/utils/timing";
import { FormController } from "@web/views/form/form_controller";
import { formView } from "@web/views/form/form_view";
import { ListController } from "@web/views/list/list_controller";
import { listView } from "@web/views/list/list_view";

// at most one reload per second, however many runs report at once
const RELOAD_DELAY = 1000;
const CHANGED = "ipai_ops.run/changed";

/**
 * Reload the view when the server says a run changed (``ipai.ops.run._notify_live``) and
 * the view shows it: the notification carries ids and a state only, the reload reads the
 * rest with the user's own rights.
 */
function useLiveRuns(shows, reload) {
    const bus = useService("bus_service");
    const reloadSoon = useDebounced(reload, RELOAD_DELAY);
    const onChange = (payload) => {
        if (shows(payload)) {
            reloadSoon();
        }
    };
    bus.subscribe(CHANGED, onChange);
    onWillDestroy(() => bus.unsubscribe(CHANGED, onChange));
}

export class LiveRunListController extends ListController {
    setup() {
        super.setup();
        useLiveRuns(
            ({ run_id, environment_id, state }) => {
                // the model has no root while it (re)loads: nothing on screen to refresh
                const records = this.model.root?.records || [];
                const resModel = this.props.resModel;
                if (resModel === "ipai.ops.environment") {
                    return records.some((r) => r.resId === environment_id);
                }
                // a new run may belong to the list; a known one changed
                return state === "queued" || records.some((r) => r.resId === run_id);
            },
            () => this.model.load()
        );
    }
}

export class LiveRunFormController extends FormController {
    setup() {
        super.setup();
        useLiveRuns(
            ({ run_id, environment_id }) => {
                const id = this.model.root?.resId;
                if (id === undefined) {
                    return false; // the form is (re)loading: nothing on screen to refresh
                }
                return this.props.resModel === "ipai.ops.run" ? id === run_id : id === environment_id;
            },
            async () => {
                // never overwrite what the user is typing
                const root = this.model.root;
                if (root && !(await root.isDirty())) {
                    await root.load();
                }
            }
        );
    }
}

registry.category("views").add("ipai_ops_live_list", {
    ...listView,
    Controller: LiveRunListController,
});
registry.category("views").add("ipai_ops_live_form", {
    ...formView,
    Controller: LiveRunFormController,
});
