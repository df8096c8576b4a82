def post_init_hook(env):
    """Companies that exist at install follow the shipped standard plan by default."""
    standard = env.ref("odoo_addon_relance.plan_standard", raise_if_not_found=False)
    if standard:
        env["res.company"].search([("relance_default_plan_id", "=", False)]).write(
            {"relance_default_plan_id": standard.id}
        )
