"""Benchmark of the Odoo addon against OCA account_credit_control, inside a real Odoo 18.

Run it with `odoo-bin shell` (the script reads `env` from the shell's namespace); the mode
and its parameters come from environment variables, because `odoo-bin shell` keeps argv:

    BENCH_MODE=generate          1,000 customers and 10,000 posted invoices (BENCH_CUSTOMERS,
                                 BENCH_INVOICES; invoice dates up to BENCH_INVOICED_UNTIL, today)
    BENCH_MODE=relance           one Relance run: BENCH_DAY=0|45 (days after day 0),
                                 BENCH_DRY=1 (dry run, rolled back) or 0 (executing, committed);
                                 BENCH_DOCUMENTS=N also times the PDFs an executing run leaves
                                 to later jobs, on N of them (rolled back); BENCH_PROFILE=FILE
                                 writes a cProfile of the run to FILE; BENCH_ROLLBACK=1 (or a
                                 profile) rolls an executing run back, so it can be repeated
    BENCH_MODE=history           a year of earlier reminders in the addon's journal
                                 (BENCH_HISTORY_DAYS, BENCH_HISTORY_PER_DAY), on a duplicate
    BENCH_MODE=oca               one OCA credit control run (it generates credit lines) on
                                 BENCH_DAY, committed; BENCH_OCA_SEND=N then times OCA's emailing
                                 of N customers' lines (rolled back)

    BENCH_MODE=generate odoo-bin shell -c odoo.conf -d DB --no-http < bench/odoo_run.py

Day 0 is stored in the database (ir.config_parameter `relance_bench.day0`) so that every
measurement on a duplicate uses the same calendar. docs/performance.md has the procedure.
"""

from __future__ import annotations

import cProfile
import os
import random
import time
from datetime import date, timedelta
from typing import Any

DAY0_PARAM = "relance_bench.day0"
N_CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "1000"))
N_INVOICES = int(os.environ.get("BENCH_INVOICES", "10000"))
BATCH = 250
# Only open invoices are generated, so a customer's open invoices span how far behind they
# pay: prompt payers have only recent ones open, late payers half a year of them. That spreads
# the customers over every step of the plans on day 0 (pre-due to escalation). Terms make the
# due dates vary from the invoice date itself to 60 days after it.
PROFILES = ((0.55, 35), (0.30, 70), (0.15, 180))  # (share of customers, days of open invoices)
TERMS_DAYS = (0, 15, 30, 30, 45, 60)
SEED = 20261202
LATER_DAYS = 45


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def business_day(d: date) -> bool:
    import holidays  # a Relance core dependency, installed in the Odoo venv with it

    return d.weekday() < 5 and d not in holidays.France(years=d.year)


def first_day0(generated: date) -> date:
    """Day 0 is the first day from the generation on when both runs fall on business days:
    the shipped plans run on business days only, so a Saturday run plans nothing."""
    day = generated
    while not (business_day(day) and business_day(day + timedelta(days=LATER_DAYS))):
        day += timedelta(days=1)
    return day


def day0(env: Any) -> date:
    value = env["ir.config_parameter"].sudo().get_param(DAY0_PARAM)
    if not value:
        raise SystemExit(f"{DAY0_PARAM} is not set: run BENCH_MODE=generate on this database first")
    return date.fromisoformat(value)


def run_date(env: Any) -> date:
    return day0(env) + timedelta(days=int(os.environ.get("BENCH_DAY", "0")))


def query_count(env: Any) -> int:
    return int(env.cr.sql_log_count)


# --- generate ------------------------------------------------------------------------------


def create_customers(env: Any, rng: random.Random) -> Any:
    france = env.ref("base.fr")
    langs = [lang for lang in ("fr_FR", "en_US") if env["res.lang"]._lang_get(lang)]
    vals = []
    for i in range(1, N_CUSTOMERS + 1):
        vals.append(
            {
                "name": f"Bench Client {i:04d} SARL",
                "is_company": True,
                "email": f"compta.{i:04d}@client-bench.invalid",
                "phone": f"+33 4 72 {i // 100:02d} {i % 100:02d} 00",
                "country_id": france.id,
                "city": "Lyon",
                "zip": "69003",
                "street": f"{i} avenue du Bench",
                "lang": langs[0] if rng.random() < 0.8 else langs[-1],
                "customer_rank": 1,
            }
        )
    return env["res.partner"].create(vals)


def invoice_plan(customers: Any, start: date, rng: random.Random) -> list[tuple[date, int, int]]:
    """(invoice date, partner id, term days) for every invoice, in chronological order."""
    shares, spans = zip(*PROFILES, strict=True)
    span = {pid: rng.choices(spans, shares)[0] for pid in customers.ids}
    # A few big customers hold many invoices, most hold a handful.
    weights = [rng.paretovariate(1.5) for _ in customers.ids]
    plan = []
    for pid in rng.choices(customers.ids, weights, k=N_INVOICES):
        invoice_date = start - timedelta(days=rng.randrange(span[pid]))
        plan.append((invoice_date, pid, rng.choice(TERMS_DAYS)))
    plan.sort()
    return plan


def invoice_vals(env: Any, item: tuple[date, int, int], rng: random.Random) -> dict[str, Any]:
    invoice_date, partner_id, terms = item
    company = env.company
    tax = company.account_sale_tax_id
    lines = []
    for n in range(rng.choice((1, 1, 2, 3))):
        lines.append(
            (
                0,
                0,
                {
                    "name": f"Prestation {n + 1}",
                    "quantity": rng.choice((1, 1, 2, 5, 10)),
                    "price_unit": round(rng.uniform(40, 4000), 2),
                    "tax_ids": [(6, 0, tax.ids)],
                },
            )
        )
    return {
        "move_type": "out_invoice",
        "partner_id": partner_id,
        "invoice_date": invoice_date,
        "invoice_payment_term_id": False,
        "invoice_date_due": invoice_date + timedelta(days=terms),
        "invoice_line_ids": lines,
    }


def generate(env: Any) -> None:
    if env["ir.config_parameter"].sudo().get_param(DAY0_PARAM):
        raise SystemExit(f"this database already holds the bench data ({DAY0_PARAM} is set)")
    start = date.fromisoformat(os.environ.get("BENCH_INVOICED_UNTIL", date.today().isoformat()))
    rng = random.Random(SEED)
    quiet = env(context=dict(env.context, tracking_disable=True, mail_create_nolog=True))
    began = time.perf_counter()
    customers = create_customers(quiet, rng)
    env.cr.commit()
    print(f"{len(customers)} customers in {time.perf_counter() - began:.1f} s")
    plan = invoice_plan(customers, start, rng)
    began = time.perf_counter()
    for offset in range(0, len(plan), BATCH):
        chunk = plan[offset : offset + BATCH]
        moves = quiet["account.move"].create([invoice_vals(quiet, it, rng) for it in chunk])
        moves.action_post()
        env.cr.commit()
        env.invalidate_all()
        done = offset + len(chunk)
        elapsed = time.perf_counter() - began
        print(f"  {done} invoices posted, {done / elapsed:.0f} invoices/s", flush=True)
    first = first_day0(start)
    env["ir.config_parameter"].sudo().set_param(DAY0_PARAM, first.isoformat())
    env.cr.commit()
    print(f"invoices dated up to {start}; day 0 is {first}")
    summary(env, first)
    print(f"generated in {time.perf_counter() - began:.0f} s; {load()}")


def summary(env: Any, start: date) -> None:
    env.cr.execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE l.date_maturity < %(d0)s),
               count(*) FILTER (WHERE l.date_maturity < %(d45)s),
               count(DISTINCT l.partner_id),
               sum(l.amount_residual)
          FROM account_move_line l
          JOIN account_account a ON a.id = l.account_id
         WHERE a.account_type = 'asset_receivable' AND l.parent_state = 'posted'
           AND NOT l.reconciled AND l.company_id = %(company)s
        """,
        {"d0": start, "d45": start + timedelta(days=LATER_DAYS), "company": env.company.id},
    )
    lines, late0, late45, partners, residual = env.cr.fetchone()
    print(
        f"open receivable lines: {lines} over {partners} customers, {residual:,.2f} EUR; "
        f"overdue on day 0: {late0}, on day 0 + 45: {late45}"
    )


# --- Relance addon -------------------------------------------------------------------------


def relance(env: Any) -> None:
    if "relance_run" not in dir(env["res.company"]):
        raise SystemExit("odoo_addon_relance is not installed on this database")
    dry = os.environ.get("BENCH_DRY", "1") != "0"
    today = run_date(env)
    company = env.company
    mails_before = env["mail.mail"].search_count([("state", "=", "outgoing")])
    profile_to = os.environ.get("BENCH_PROFILE", "")
    profiler = cProfile.Profile() if profile_to else None
    queries = query_count(env)
    began = time.perf_counter()
    if profiler:
        profiler.enable()
    result = company.relance_run(today=today, dry_run=dry)
    env.flush_all()
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_to)
    rollback = dry or profiler is not None or os.environ.get("BENCH_ROLLBACK", "0") != "0"
    if not rollback:
        env.cr.commit()
    elapsed = time.perf_counter() - began
    queries = query_count(env) - queries
    mails = env["mail.mail"].search_count([("state", "=", "outgoing")]) - mails_before
    kind = "dry run" if dry else "executing run" + (" (profiled)" if profiler else "")
    kind += " (rolled back)" if rollback and not dry else ""
    print(
        f"relance {kind} on {today} (day 0 + {(today - day0(env)).days}): {elapsed:.2f} s, "
        f"{result['actions']} actions {result.get('by_channel', {})}, {mails} emails queued, "
        f"{queries} queries, skipped {result.get('skipped', 0)}"
    )
    print(load())
    if rollback:
        env.cr.rollback()
        return
    states = env["relance.action"].read_group(
        [("date", "=", today)], ["state"], ["channel", "state"], lazy=False
    )
    print("  journaled:", ", ".join(f"{g['channel']} {g['state']} {g['__count']}" for g in states))
    if "relance.kpi" in env and hasattr(env["relance.kpi"], "_cron_refresh"):
        # The job the run triggers when it ends: the day's KPI snapshot.
        began = time.perf_counter()
        env["relance.kpi"]._cron_refresh()
        env.flush_all()
        env.cr.commit()
        print(f"  then the KPI job it triggers: {time.perf_counter() - began:.2f} s")
    sample = int(os.environ.get("BENCH_DOCUMENTS", "0"))
    if sample:
        relance_deferred(env, today, sample)


def relance_deferred(env: Any, today: date, sample: int) -> None:
    """What the run leaves to later jobs, on a sample: letter/formal notice PDFs (the
    documents cron) and the statement PDF each email gets when it leaves the queue."""
    actions = env["relance.action"].search(
        [("date", "=", today), ("state", "=", "queued")], limit=sample
    )
    if actions:
        began = time.perf_counter()
        env["relance.service"]._render_documents(actions)
        env.flush_all()
        per = (time.perf_counter() - began) / len(actions)
        print(f"  deferred: letter/formal notice PDF {per:.2f} s each ({len(actions)} rendered)")
    mails = env["mail.mail"].search(
        [("relance_action_id.date", "=", today), ("state", "=", "outgoing")], limit=sample
    )
    if mails:
        began = time.perf_counter()
        mails._relance_attach_statements()
        env.flush_all()
        per = (time.perf_counter() - began) / len(mails)
        print(f"  deferred: statement PDF at send time {per:.2f} s each ({len(mails)} rendered)")
    env.cr.rollback()


# --- OCA account_credit_control ------------------------------------------------------------


def oca_policy(env: Any) -> Any:
    """OCA's shipped "3 time policy", made to cover the company's receivable account."""
    policy = env.ref("account_credit_control.credit_control_3_time")
    receivable = env.company.partner_id.property_account_receivable_id
    if receivable not in policy.account_ids:
        policy.account_ids = [(4, receivable.id)]
    if env.company.credit_policy_id != policy:
        env.company.credit_policy_id = policy
    return policy


def oca_mark_previous_sent(env: Any) -> int:
    """Lines of earlier runs count as sent: OCA escalates only from non-draft lines."""
    lines = env["credit.control.line"].search([("state", "in", ("draft", "to_be_sent"))])
    lines.write({"state": "sent"})
    return len(lines)


def oca(env: Any) -> None:
    if "credit.control.run" not in env:
        raise SystemExit("account_credit_control is not installed on this database")
    today = run_date(env)
    policy = oca_policy(env)
    sent = oca_mark_previous_sent(env)
    env.cr.commit()
    levels = env["credit.control.line"].read_group([], ["level"], ["level"])
    before = {g["level"]: g["level_count"] for g in levels}
    queries = query_count(env)
    began = time.perf_counter()
    run = env["credit.control.run"].create({"date": today, "policy_ids": [(6, 0, policy.ids)]})
    run.generate_credit_lines()
    env.flush_all()
    env.cr.commit()
    elapsed = time.perf_counter() - began
    queries = query_count(env) - queries
    levels = env["credit.control.line"].read_group([("run_id", "=", run.id)], ["level"], ["level"])
    per_level = {g["level"]: g["level_count"] for g in levels}
    print(
        f"oca credit control run on {today} (day 0 + {(today - day0(env)).days}): "
        f"{elapsed:.2f} s, {len(run.line_ids)} credit lines {per_level}, {queries} queries "
        f"(earlier lines marked sent first: {sent}, by level {before})"
    )
    print(load())
    sample = int(os.environ.get("BENCH_OCA_SEND", "0"))
    if sample:
        oca_send(env, run, sample)


def oca_send(env: Any, run: Any, sample: int) -> None:
    """OCA's second step, what a user does after the run: mark the lines ready and email
    them, for the lines of `sample` customers (one communication and PDF each), rolled back.

    Mail notifications are queued (mail_notify_force_send=False), never sent from here.
    """
    queued = env(context=dict(env.context, mail_notify_force_send=False))
    partners = run.line_ids.filtered(lambda line: line.channel == "email").partner_id[:sample]
    lines = run.line_ids.filtered(lambda line: line.partner_id in partners).with_env(queued)
    mails_before = env["mail.mail"].search_count([])
    began = time.perf_counter()
    lines.write({"state": "to_be_sent"})
    emailer = queued["credit.control.emailer"].create({"line_ids": [(6, 0, lines.ids)]})
    comms = emailer._send_emails()
    env.flush_all()
    elapsed = time.perf_counter() - began
    mails = env["mail.mail"].search_count([]) - mails_before
    print(
        f"  oca emailing of {len(partners)} customers' lines: {elapsed:.2f} s, "
        f"{len(comms)} communications, {mails} mails queued, "
        f"{elapsed / max(len(comms), 1):.2f} s per communication (rolled back)"
    )
    env.cr.rollback()


# --- a journal that has run for a year ------------------------------------------------------


def history(env: Any) -> None:
    """A year of earlier reminders in the addon's journal, as a daily run leaves them:
    BENCH_HISTORY_DAYS (365) days up to 31 days before day 0, BENCH_HISTORY_PER_DAY (150)
    reminders a day to the customers in turn, 1-5 invoices each, at steps 1-3.  The
    invoices they name are gone from the ledger (paid long ago): entries of the database
    with no open receivable line stand for them.  So the day-0 plan is the same as
    without this history (no cooldown reaches 31 days back, no open invoice was named),
    and what the history costs is reading it, and the texts that list it."""
    if "relance.action" not in env:
        raise SystemExit("odoo_addon_relance is not installed on this database")
    days = int(os.environ.get("BENCH_HISTORY_DAYS", "365"))
    per_day = int(os.environ.get("BENCH_HISTORY_PER_DAY", "150"))
    last = day0(env) - timedelta(days=31)
    cr = env.cr
    cr.execute(
        """
        SELECT array_agg(id ORDER BY id) FROM account_move m
         WHERE NOT EXISTS (SELECT 1 FROM account_move_line l
                            JOIN account_account a ON a.id = l.account_id
                           WHERE l.move_id = m.id AND a.account_type = 'asset_receivable'
                             AND NOT l.reconciled)
        """
    )
    (moves,) = cr.fetchone()
    began = time.perf_counter()
    cr.execute(
        """
        INSERT INTO relance_action (company_id, partner_id, date, key, plan, plan_id, step,
                                    channel, template, state, create_uid, create_date,
                                    write_uid, write_date)
        SELECT %(company)s, partners[1 + (n * 7919) %% cardinality(partners)],
               %(last)s::date - (n / %(per_day)s)::int, 'bench-history-' || n, 'standard',
               (SELECT id FROM relance_plan WHERE code = 'standard' LIMIT 1), 1 + n %% 3,
               'email', 'reminder_1', 'done', %(uid)s, now(), %(uid)s, now()
          FROM generate_series(0, %(count)s - 1) AS n,
               (SELECT array_agg(DISTINCT commercial_partner_id ORDER BY commercial_partner_id)
                  AS partners FROM account_move WHERE move_type = 'out_invoice') AS p
        """,
        {"company": env.company.id, "last": last, "per_day": per_day, "uid": env.uid,
         "count": days * per_day},
    )  # fmt: skip
    cr.execute(
        """
        INSERT INTO relance_action_line (action_id, move_id, step)
        SELECT a.id, (%(moves)s::int[])[1 + (a.id * 31 + j) %% %(n)s], a.step
          FROM relance_action a, generate_series(0, a.id %% 5) AS j
         WHERE a.key LIKE 'bench-history-%%'
        """,
        {"moves": moves, "n": len(moves)},
    )
    cr.execute("SELECT count(*), (SELECT count(*) FROM relance_action_line) FROM relance_action")
    actions, lines = cr.fetchone()
    env.cr.commit()
    print(
        f"journal history: {actions} actions, {lines} lines up to {last} "
        f"({len(moves)} closed entries named), in {time.perf_counter() - began:.1f} s"
    )


MODES = {"generate": generate, "relance": relance, "oca": oca, "history": history}

if __name__ == "__main__":
    mode = os.environ.get("BENCH_MODE", "")
    if mode not in MODES:
        raise SystemExit(f"BENCH_MODE must be one of {', '.join(MODES)} (got {mode!r})")
    MODES[mode](globals()["env"])
