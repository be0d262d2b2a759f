import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

registry.category("web_tour.tours").add("ipai_ops_core_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Operations app",
            trigger: '.o_app[data-menu-xmlid="ipai_ops_core.menu_ipai_ops_root"]',
            run: "click",
        },
        {
            content: "Create a project",
            trigger: ".o-kanban-button-new",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=name] input",
            run: "edit Tour project",
        },
        {
            trigger: ".o_field_widget[name=code] input",
            run: "edit tour",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The project is saved",
            trigger: ".o_breadcrumb .active:contains(Tour project)",
        },
        {
            content: "Open its environments",
            trigger: "button[name=action_open_environments]",
            run: "click",
        },
        {
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=name] input",
            run: "edit Tour development",
        },
        {
            trigger: ".o_field_widget[name=database_name] input",
            run: "edit ipai_ops_tour_target",
        },
        {
            content: "The project and the only server are filled in already",
            trigger: ".o_field_widget[name=server_id] input:value(Tour server)",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The environment is saved",
            trigger: ".o_breadcrumb .active:contains(Tour development)",
        },
        {
            content: "Run a check",
            trigger: "button[name=action_run_check]",
            run: "click",
        },
        {
            content: "The queued run is listed",
            trigger: ".o_list_view .o_data_row td[name=kind_label]:contains(Check)",
        },
    ],
});
