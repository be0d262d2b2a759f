import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("ipai_ops_live_runs_tour", {
    steps: () => [
        {
            content: "The queued check is listed",
            trigger: ".o_data_row:contains(Live development) td[name=state]:contains(Queued)",
        },
        {
            content: "Cancel it behind the list's back, as another tab would",
            trigger: ".o_list_view",
            run: async () => {
                const ids = await rpc("/web/dataset/call_kw/ipai.ops.run/search", {
                    model: "ipai.ops.run",
                    method: "search",
                    args: [[["state", "=", "queued"], ["kind", "=", "check"]]],
                    kwargs: {},
                });
                await rpc("/web/dataset/call_kw/ipai.ops.run/action_cancel", {
                    model: "ipai.ops.run",
                    method: "action_cancel",
                    args: [ids],
                    kwargs: {},
                });
            },
        },
        {
            content: "The list shows it cancelled without being reloaded",
            trigger: ".o_data_row:contains(Live development) td[name=state]:contains(Cancelled)",
        },
    ],
});
