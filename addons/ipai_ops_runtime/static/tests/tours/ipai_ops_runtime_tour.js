import { registry } from "@web/core/registry";

/** A developer opens their development environment and deploys it. */
registry.category("web_tour.tours").add("ipai_ops_runtime_deploy_tour", {
    steps: () => [
        {
            content: "Not deployed yet, and placed on a host: Deploy is offered",
            trigger: ".o_field_widget[name=instance_state]:contains(Not deployed)",
        },
        { trigger: "button[name=action_instance_deploy]", run: "click" },
        {
            content: "The deploy is queued as a run of the environment",
            trigger: ".o_data_row:contains(Deploy):contains(Queued)",
        },
    ],
});

/** Once deployed: the environment runs at its URL, and its log is one click away. */
registry.category("web_tour.tours").add("ipai_ops_runtime_running_tour", {
    steps: () => [
        { trigger: ".o_field_widget[name=instance_state]:contains(Running)" },
        {
            content: "The URL of the running instance is shown as a link",
            trigger: ".o_field_widget[name=instance_url] a[href^='http://127.0.0.1:']",
        },
        { trigger: "button[name=action_instance_logs]", run: "click" },
        {
            content: "The log shows Odoo serving",
            trigger: ".modal .o_field_widget[name=text]:contains(HTTP service (werkzeug) running)",
        },
        { trigger: ".modal button[name=action_refresh]", run: "click" },
        { trigger: ".modal .o_field_widget[name=text]:contains(Odoo version 19.0)" },
        { trigger: ".modal button[special=cancel]", run: "click" },
        { trigger: "body:not(:has(.modal))" },
    ],
});
