from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestConfiguration(TransactionCase):
    """Plans and segment rules are checked on save with core's own rules and messages."""

    def test_offsets_must_strictly_increase(self):
        with self.assertRaisesRegex(ValidationError, r"offsets must strictly increase"):
            self.env["relance.plan"].create(
                {
                    "name": "Bad",
                    "code": "bad",
                    "step_ids": [
                        (0, 0, {"sequence": 1, "offset": 10, "channel": "email"}),
                        (0, 0, {"sequence": 2, "offset": 10, "channel": "email"}),
                    ],
                }
            )

    def test_editing_a_step_rechecks_its_plan(self):
        plan = self.env.ref("odoo_addon_relance.plan_standard")
        with self.assertRaisesRegex(ValidationError, r"step 2 \(offset\)"):
            plan.step_ids.sorted("sequence")[1].offset = -10

    def test_segment_condition_is_refused_with_cores_message(self):
        plan = self.env.ref("odoo_addon_relance.plan_standard")
        with self.assertRaisesRegex(ValidationError, r"segment 'vip'.*column"):
            self.env["relance.segment"].create(
                {"name": "vip", "condition": "outstanding.__class__", "plan_id": plan.id}
            )

    def test_valid_segment_condition_is_accepted(self):
        plan = self.env.ref("odoo_addon_relance.plan_gentle")
        rule = self.env["relance.segment"].create(
            {"name": "big", "condition": "outstanding >= 50000", "plan_id": plan.id}
        )
        self.assertTrue(rule.exists())

    def test_shipped_data_is_cores_shipped_configuration(self):
        """Plans and rules shipped as data equal core's defaults (DESIGN §3-4)."""
        from core.config import load_config
        from core.texts import template_ids

        config, _plans = self.env["relance.service"]._build_config(self.env.company)
        shipped = load_config(None, template_ids())
        self.assertEqual(config.plans, shipped.plans)
        self.assertEqual(
            [(r.name, r.condition.text, r.plan) for r in config.segments],
            [(r.name, r.condition.text, r.plan) for r in shipped.segments],
        )
