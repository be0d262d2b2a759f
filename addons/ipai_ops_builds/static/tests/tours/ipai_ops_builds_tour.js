import { registry } from "@web/core/registry";

const openProject = [
    {
        content: "The project's card opens its dashboard",
        trigger: ".o_kanban_record:contains(Project A)",
        run: "click",
    },
    { trigger: ".o_breadcrumb .active:contains(Project A)" },
];

/** A commit was just pushed: its build shows on the development card, queued. */
registry.category("web_tour.tours").add("ipai_ops_builds_queued_tour", {
    steps: () => [
        ...openProject,
        {
            content: "The development card names the pushed commit, queued",
            trigger:
                ".o_kanban_group:contains(Development) .o_kanban_record:contains(Shop: prices):contains(Queued)",
        },
    ],
});

/** The build ran: the card says the tests failed and the environment runs; the build's
 * failed test, its traceback and its logs open from there. */
registry.category("web_tour.tours").add("ipai_ops_builds_done_tour", {
    steps: () => [
        ...openProject,
        {
            content: "The card: tests failed, the environment running at its URL",
            trigger:
                ".o_kanban_record:contains(Shop: prices):contains(Tests failed):contains(Running) a[href^='http://127.0.0.1:']",
        },
        {
            trigger: ".o_kanban_record:contains(Shop: prices) button[name=action_open_last_build]",
            run: "click",
        },
        {
            content: "The failed test is listed in the build",
            trigger: ".o_data_row:contains(TestShop.test_prices_round_half_up) button[name=action_open]",
            run: "click",
        },
        {
            content: "Its traceback opens",
            trigger: ".modal .o_field_widget[name=traceback]:contains(prices must round half up)",
        },
        { trigger: ".modal-header .btn-close", run: "click" },
        { trigger: "body:not(:has(.modal))" },
        { trigger: "button[name=action_open_logs]", run: "click" },
        {
            content: "The build's logs open: the tests as Odoo ran them",
            trigger: ".modal .o_field_widget[name=text]:contains(Starting TestShop.test_prices_round_half_up)",
        },
        { trigger: ".modal button[special=cancel]", run: "click" },
        { trigger: "body:not(:has(.modal))" },
    ],
});

/** The dashboard's header buttons, as a browser clicks them. */
registry.category("web_tour.tours").add("ipai_ops_builds_header_tour", {
    steps: () => [
        ...openProject,
        {
            trigger: ".o_control_panel button[name=action_new_branch]",
            run: "click",
        },
        {
            content: "The branch wizard opens, for this project",
            trigger: ".modal .o_field_widget[name=branch] input",
        },
        { trigger: ".modal .btn-close, .modal button.o_form_button_cancel", run: "click" },
        { trigger: "body:not(:has(.modal))" },
        {
            trigger: ".o_control_panel button[name=action_open_project_settings]",
            run: "click",
        },
        {
            content: "The project's own form opens",
            trigger: ".o_form_view .o_field_widget[name=repository_url]",
        },
    ],
});
