import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("ipai_ops_monitoring_tour", {
    steps: () => [
        {
            trigger: ".o_form_view .o_breadcrumb .active:contains(Watched production)",
        },
        {
            content: "Open the environment's top queries",
            trigger: "button[name=action_top_queries]",
            run: "click",
        },
        {
            content: "The snapshot's statement is listed with its calls",
            trigger: ".o_field_widget[name=line_ids] .o_data_row td[name=query]:contains(pg_sleep)",
        },
        {
            content: "Refreshing recomputes the list",
            trigger: "button[name=action_refresh]",
            run: "click",
        },
        {
            content: "The statement is still there, beside its mean before",
            trigger: ".o_field_widget[name=line_ids] .o_data_row td[name=query]:contains(pg_sleep)",
        },
    ],
});
