import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("ipai_ops_staging_tour", {
    steps: () => [
        {
            content: "The production environment's form offers a backup and a copy",
            trigger: ".o_form_view .o_breadcrumb .active:contains(Tour production)",
        },
        {
            trigger: "button[name=action_backup_now]",
            run: "click",
        },
        {
            content: "The queued backup is listed",
            trigger: ".o_list_view .o_data_row td[name=kind_label]:contains(Backup)",
        },
        {
            trigger: ".o_breadcrumb a:contains(Tour production)",
            run: "click",
        },
        {
            trigger: "button[name=action_create_copy]",
            run: "click",
        },
        {
            content: "The wizard says what will happen before anything runs",
            trigger: ".modal .o_field_widget[name=explanation]:contains(Neutralize it)",
        },
        {
            trigger: ".modal .o_field_widget[name=explanation]:contains(Mask personal data)",
        },
        {
            trigger: ".modal button[name=action_confirm]",
            run: "click",
        },
        {
            content: "The copy's run is shown",
            trigger: ".o_form_view .o_field_widget[name=kind_label]:contains(Copy)",
        },
    ],
});
