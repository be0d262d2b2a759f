import { registry } from "@web/core/registry";

/** Fill a many2one by typing and choosing the suggestion. */
function pick(field, text) {
    return [
        { trigger: `.o_field_widget[name=${field}] input`, run: `edit ${text}` },
        { trigger: `.o-autocomplete--dropdown-item:contains(${text})`, run: "click" },
    ];
}

/** Choose a value of a selection field (a drop-down menu, not a native select). */
function choose(scope, field, label) {
    return [
        { trigger: `${scope} .o_field_widget[name=${field}] .o_select_menu_toggler`, run: "click" },
        { trigger: `.o_select_menu_item:contains(${label})`, run: "click" },
    ];
}

function menu(xmlid) {
    return { trigger: `[data-menu-xmlid="${xmlid}"]`, run: "click" };
}

/**
 * From an empty control plane to a first backup, as a new operations administrator does
 * it: the home says the order (server, storage target, project, environment), and each
 * step is one screen.
 */
registry.category("web_tour.tours").add("ipai_ops_first_hour_tour", {
    steps: () => [
        {
            content: "The home is Operations, and with nothing set up it lists the steps",
            trigger: ".o_view_nocontent:contains(Database servers):contains(Storage targets)",
        },
        menu("ipai_ops_core.menu_ipai_ops_config"),
        menu("ipai_ops_core.menu_ipai_ops_db_servers"),
        { trigger: ".o_list_button_add", run: "click" },
        { trigger: ".o_field_widget[name=name] input", run: "edit First server" },
        { trigger: ".o_field_widget[name=password_ref] input", run: "edit env:PGPASSWORD" },
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: "button[name=action_test_connection]", run: "click" },
        {
            content: "The connection works: the server's version is shown",
            trigger: ".o_field_widget[name=server_version]:contains(1)",
        },
        menu("ipai_ops_core.menu_ipai_ops_config"),
        menu("ipai_ops_backup.menu_ipai_ops_backup_targets"),
        { trigger: ".o_list_button_add", run: "click" },
        { trigger: ".o_selected_row .o_field_widget[name=name] input", run: "edit First target" },
        {
            trigger: ".o_selected_row .o_field_widget[name=path] input",
            run: "edit /tmp/ipai-ops-first-hour",
        },
        { trigger: ".o_list_button_save", run: "click" },
        { trigger: ".o_data_row:contains(First target)" },
        menu("ipai_ops_core.menu_ipai_ops_projects"),
        { trigger: ".o-kanban-button-new", run: "click" },
        { trigger: ".o_field_widget[name=name] input", run: "edit First project" },
        { trigger: ".o_field_widget[name=code] input", run: "edit first" },
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: ".o_breadcrumb .active:contains(First project)" },
        {
            content: "Add a developer: membership is all the access they need",
            trigger: "a.nav-link:contains(Members)",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=member_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=member_ids] .o_selected_row [name=user_id] input",
            run: "edit First Member",
        },
        { trigger: ".o-autocomplete--dropdown-item:contains(First Member)", run: "click" },
        ...choose(".o_field_widget[name=member_ids] .o_selected_row", "role", "Developer"),
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: ".o_form_saved" },
        menu("ipai_ops_core.menu_ipai_ops_environments"),
        { trigger: ".o_list_button_add", run: "click" },
        { trigger: ".o_field_widget[name=name] input", run: "edit First production" },
        ...pick("project_id", "First project"),
        ...choose(".o_form_view", "stage", "Production"),
        { trigger: ".o_field_widget[name=database_name] input", run: "edit ipai_ops_first_hour" },
        {
            content: "The only server and the only storage target are chosen already",
            trigger: ".o_field_widget[name=backup_target_id] input:value(First target)",
        },
        { trigger: ".o_field_widget[name=server_id] input:value(First server)" },
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: ".o_breadcrumb .active:contains(First production)" },
        { trigger: "button[name=action_backup_now]", run: "click" },
        {
            content: "The backup is queued, and listed",
            trigger: ".o_data_row:contains(First production) td[name=kind_label]:contains(Backup)",
        },
    ],
});

/** A user just added to a project logs in: they land on it, with nothing else to ask for. */
registry.category("web_tour.tours").add("ipai_ops_new_member_tour", {
    steps: () => [
        {
            content: "The new member's home is their projects, and the project is there",
            trigger: ".o_kanban_record:contains(First project):contains(Developer)",
        },
        { trigger: ".o_kanban_record:contains(First project)", run: "click" },
        { trigger: ".o_breadcrumb .active:contains(First project)" },
    ],
});
