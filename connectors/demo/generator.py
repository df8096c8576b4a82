"""A deterministic, realistic demo ledger for a French SME (DESIGN.md sections 2-6).

``generate_ledger(today, customers=..., invoices=..., seed=..., months=...)``
builds customers, invoices and a reminder journal straight into the core model.
The same arguments always give the same ledger: every random draw comes from
one ``random.Random(seed)``, in a fixed order, and nothing reads the clock or
iterates a set.

It is also the benchmark's data source (100,000 customers, 1,000,000 invoices),
so the invoice loop works on day ordinals and integer cents, shares date and
string objects, and builds each model object exactly once.

How the data is made:

* Customers get a behaviour profile (on time, slightly late, chronic late
  payer, key account, stopped paying), payment terms, an activity weight and,
  for export customers, a currency (USD or CHF).
* Invoices are spread over the business days of the last ``months`` months in
  issue order, so numbers run ``FA-2026-000001``, ``FA-2026-000002``, ...
  per year (credit notes ``AV-...``).  Whether and when an invoice is paid
  follows its customer's profile (money comes in on business days);
  ``paid_date`` is set iff nothing is open.
* Disputes, promises to pay and factoring are then drawn from the invoices
  they make sense for (open ones, overdue ones, paid ones).
* The journal replays the shipped plans since the tool was "adopted" 60 days
  ago: its first run catches up at once with the steps reached before; then
  each step fires on the first business day on or after ``due + offset``, one
  reminder per customer, currency and run, at least ``cooldown_days`` apart,
  listing each invoice at the step it had reached (catch-up: skipped steps
  never fire).  The journal of most customers runs up to yesterday, some lag
  behind, some have none, so today's plan mixes first reminders, follow-ups
  and catch-ups.  An invoice listed at an escalation step is ``escalated`` (as
  executing that action would make it); more long overdue invoices are, by
  hand, until about 1% of the invoices are open and escalated.
"""

from __future__ import annotations

import gc
import os
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from itertools import repeat
from math import exp, log1p
from operator import attrgetter
from random import Random
from statistics import NormalDist
from typing import Any, TypeVar

import orjson

from core.calendar import is_business_day
from core.model import Customer, Dispute, Invoice, Ledger, Reminder, ReminderLine
from core.plans import Plan, shipped_plans

__all__ = [
    "LEDGER_FORMAT",
    "generate_ledger",
    "ledger_to_json",
    "write_ledger_json",
]

_T = TypeVar("_T")

# --------------------------------------------------------------------------- words


def _words(text: str) -> tuple[str, ...]:
    """A word list written as comma-separated text (keeps the lists compact)."""
    return tuple(" ".join(item.split()) for item in text.split(",") if item.strip())


_SURNAMES = _words("""
    Martin, Bernard, Thomas, Petit, Robert, Richard, Durand, Dubois, Moreau, Laurent, Simon,
    Michel, Lefèvre, Leroy, Roux, David, Bertrand, Morel, Fournier, Girard, Bonnet, Dupont,
    Lambert, Fontaine, Rousseau, Vincent, Muller, Lefebvre, Faure, André, Mercier, Blanc,
    Guérin, Boyer, Garnier, Chevalier, François, Legrand, Gauthier, Garcia, Perrin, Robin,
    Clément, Morin, Nicolas, Henry, Roussel, Mathieu, Gautier, Masson, Marchand, Duval, Denis,
    Dumont, Lemaire, Noël, Meyer, Dufour, Meunier, Brun, Blanchard, Giraud, Joly, Rivière,
    Lucas, Brunet, Gaillard, Barbier, Arnaud, Gérard, Roche, Renard, Schmitt, Roy, Leroux,
    Colin, Vidal, Caron, Picard, Fabre, Aubert, Lemoine, Renaud, Dumas, Lacroix, Olivier,
    Bourgeois, Benoît, Rey, Leclerc, Payet, Rolland, Guillaume, Lecomte, Dupuy, Guillot, Hubert,
    Berger, Carpentier, Dupuis, Moulin, Deschamps, Huet, Vasseur, Boucher, Fleury, Royer, Klein,
    Jacquet, Poirier, Marty, Aubry, Guyot, Carré, Renault, Charpentier, Ménard, Maillard, Baron,
    Bertin, Bailly, Hervé, Schneider, Le Gall, Collet, Léger, Bouvier, Prévost, Millet, Perrot,
    Le Roux, Germain, Breton, Besson, Langlois, Rémy, Le Goff, Pelletier, Lévêque, Perrier,
    Leblanc, Lebrun, Marchal, Weber, Hamon, Monnier, Michaud, Guichard, Gillet, Poulain,
    Tessier, Chauvin, Bouchet, Lemaître, Maréchal, Humbert, Reynaud, Barthélemy, Cordier,
    Pichon, Lejeune, Delaunay, Pasquier, Carlier, Laporte
""")
_FIRST_NAMES_M = _words("""
    Jean, Pierre, Michel, Philippe, Alain, Nicolas, Christophe, Laurent, Frédéric, Stéphane,
    Julien, Sébastien, Thomas, Antoine, Olivier, Éric, François, Hugo, Louis, Mathieu, Yannick,
    Gérard, Bruno, Cédric
""")
_FIRST_NAMES_F = _words("""
    Marie, Nathalie, Isabelle, Sylvie, Catherine, Sophie, Claire, Valérie, Céline, Aurélie,
    Julie, Camille, Émilie, Sandrine, Hélène, Anne, Chloé, Léa, Manon, Élodie, Christine,
    Martine, Véronique, Laure
""")
_TRADES = _words("""
    Boulangerie, Boucherie, Transports, Garage, Menuiserie, Plomberie, Électricité, Imprimerie,
    Pharmacie, Librairie, Charpente, Maçonnerie, Peinture, Traiteur, Fromagerie, Carrosserie,
    Serrurerie, Couverture, Jardinerie, Quincaillerie, Brasserie, Hôtel, Restaurant, Cabinet,
    Atelier, Laboratoire, Pépinières, Vignobles, Scierie, Ambulances, Nettoyage, Chauffage,
    Informatique, Logistique, Distribution, Négoce, Mécanique, Métallerie, Tôlerie, Usinage,
    Emballages, Matériaux, Terrassement, Électronique, Textiles, Optique, Sécurité, Froid
    Industriel, Bureautique
""")
_LARGE_TRADES = _words("""
    Transports, Logistique, Distribution, Négoce, Matériaux, Mécanique, Métallerie, Emballages,
    Travaux Publics, Agroalimentaire, Hypermarchés, Laboratoires
""")
_PLACES = _words("""
    du Val de Loire, de l'Ouest, du Sud-Ouest, de Provence, du Rhône, d'Alsace, de Bretagne, du
    Nord, de Normandie, des Alpes, du Littoral, du Centre, de Savoie, de l'Atlantique, du
    Lyonnais, de Gascogne, du Vexin, du Périgord, du Limousin, de Bourgogne, de Champagne, du
    Jura, des Vosges, du Morvan, de Picardie, d'Auvergne, du Languedoc, du Béarn, de la Côte
    d'Opale, du Quercy
""")
_COINED_HEADS = _words("""
    Techno, Agri, Indus, Méca, Élec, Bati, Info, Euro, Atlan, Norma, Provi, Alpi, Médi, Hydro,
    Sud, Nord, Ouest, Armor, Loire, Garonne
""")
_COINED_TAILS = _words("""
    mat, val, tec, com, pro, sys, fi, log, nov, plast, met, concept, services, data, bat, flux,
    energie, pack
""")
_CITIES = _words("""
    Lyon, Nantes, Rennes, Tours, Angers, Dijon, Annecy, Brest, Quimper, Niort, Poitiers,
    Limoges, Chambéry, Grenoble, Valence, Nîmes, Montpellier, Perpignan, Pau, Bayonne, Agen,
    Albi, Rodez, Metz, Nancy, Reims, Troyes, Amiens, Lille, Arras, Rouen, Caen, Le Mans, Laval,
    Vannes, Lorient, Saint-Malo, Colmar, Mulhouse, Besançon, Orléans, Blois, Bourges, Auxerre,
    Mâcon, Clermont-Ferrand, Aurillac, Périgueux, Bordeaux, Toulouse
""")
_PUBLIC_PATTERNS = _words("""
    Mairie {of_city}, Commune {of_city}, Centre hospitalier {of_city}, Office de tourisme
    {of_city}, Syndicat des eaux {of_city}, CCAS {of_city}, Communauté de communes {place},
    Lycée {person}, Collège {person}
""")
_FAMOUS = _words("""
    Jean Moulin, Victor Hugo, Jules Ferry, Marie Curie, Louis Pasteur, Simone Veil, Jean Jaurès,
    Albert Camus, Colette, Condorcet
""")
_USD_HEADS = _words("""
    Atlantic, Pacific, Summit, Liberty, Pioneer, Evergreen, Keystone, Redwood, Hudson, Lakeside,
    Silverline, Northstar, Granite, Bluewater
""")
_USD_TAILS = _words("""
    Industries Inc., Supply LLC, Trading Corp., Foods Inc., Logistics LLC
""")
_CHF_HEADS = _words("""
    Helvetia, Alpina, Léman, Zürichsee, Matterhorn, Bernina, Säntis, Gotthard, Rhône, Lavaux
""")
_ROMANDIE = frozenset({"Léman", "Lavaux", "Rhône"})
_CHF_TAILS = _words("""
    Trading AG, Technik AG, Distribution SA, Logistik GmbH, Horlogerie SA
""")
_EU_NAMES = _words("""
    Van Dijk Logistics BV, Schneider Maschinenbau GmbH, García Distribución SL, Rossi Forniture
    SRL, O'Brien Supplies Ltd, Peeters & Janssens NV, Kowalski Transport S.A., Fischer
    Elektrotechnik GmbH, Ferreira Têxteis Lda, Nielsen Emballage ApS, Bianchi Meccanica SpA, De
    Smet Bouw BV
""")
# Legal forms, as often as they occur among French SMEs (roughly).
_FORMS = ("SARL",) * 38 + ("SAS",) * 36 + ("SA",) * 10 + ("EURL",) * 10 + ("SASU",) * 6
_COMPANY_MAILBOXES = ("compta", "comptabilite", "factures", "fournisseurs", "contact", "admin")
_EXPORT_MAILBOXES = ("accounts.payable", "ap", "invoices", "finance")
_PERSONAL_DOMAINS = ("gmail.com", "orange.fr", "free.fr", "laposte.net", "wanadoo.fr", "sfr.fr")

_DISPUTES = (
    (
        "Livraison incomplète",
        (
            "Il manque {n} colis sur le bon de livraison BL-{ref}.",
            "Livraison partielle : reliquat non reçu à ce jour.",
            "",
        ),
    ),
    (
        "Prix contesté",
        (
            "Remise de {n} % prévue au contrat non appliquée.",
            "Écart avec le devis DE-{ref} accepté par le client.",
            "",
        ),
    ),
    (
        "Marchandise endommagée",
        (
            "{n} cartons abîmés à la réception, réserves portées sur le BL-{ref}.",
            "Photos des dégâts envoyées par le client.",
            "",
        ),
    ),
    ("Facture en double", ("Le client indique avoir déjà réglé cette prestation.", "")),
    ("Prestation non conforme", ("Intervention à reprendre selon le client.", "")),
    ("Bon de commande manquant", ("Numéro de bon de commande exigé pour la mise en paiement.",)),
    ("Erreur de quantité", ("Quantité facturée supérieure à la quantité livrée ({n} unités).",)),
)

_CREDIT_LIMITS = (5_000, 10_000, 15_000, 20_000, 30_000, 50_000, 75_000, 100_000)
_KEY_CREDIT_LIMITS = (150_000, 250_000, 400_000, 600_000)

# --------------------------------------------------------------------------- profiles

_ON_TIME, _SLIGHT, _CHRONIC, _KEY, _STOPPED = range(5)
# Customer groups (disjoint).
_COMPANY, _INDIVIDUAL, _PUBLIC, _KEY_ACCOUNT, _EXPORT = range(5)
_EOM45 = -1  # payment terms "45 jours fin de mois" (the only negative terms); others: days

_NEVER = 1 << 30  # the "paid on" ordinal of an invoice that is still open
_HISTORY_DAYS = 60  # the journal starts when the tool was "adopted", at most this long ago
_COOLDOWN = 5  # the shipped plans' default cooldown_days
_PLAN_NAMES = ("standard", "gentle", "strict")

_DELAY_TABLE_SIZE = 1024
_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_MASK32 = (1 << 32) - 1


@lru_cache(maxsize=1)
def _normal_quantiles() -> tuple[float, ...]:
    """Quantiles of the standard normal law: a log-normal draw is then one table look-up."""
    size = 1 << 14
    normal = NormalDist()
    return tuple(normal.inv_cdf((k + 0.5) / size) for k in range(size))


@lru_cache(maxsize=1)
def _delay_tables() -> tuple[tuple[int, ...], ...]:
    """Per behaviour profile, payment delays (days after the due date) by quantile.

    A chronic late payer's own typical delay is added to its table.
    """
    quantiles = [(k + 0.5) / _DELAY_TABLE_SIZE for k in range(_DELAY_TABLE_SIZE)]

    def on_time(u: float) -> int:
        if u < 0.2:  # early
            return -int(u * 60)
        if u < 0.85:  # around the due date
            return int(u * 10) - 4
        return 3 + int((u - 0.85) / 0.15 * 14)  # a little late

    def slightly_late(u: float) -> int:
        if u < 0.96:
            return 1 + int(-9.0 * log1p(-u))
        return 25 + int((u - 0.96) / 0.04 * 25)

    tables = {
        _ON_TIME: [on_time(u) for u in quantiles],
        _SLIGHT: [slightly_late(u) for u in quantiles],
        _CHRONIC: [int(u * 36) for u in quantiles],
        _KEY: [10 + int(u * 21) for u in quantiles],
        _STOPPED: [20 + int(u * 40) for u in quantiles],
    }
    return tuple(tuple(tables[profile]) for profile in range(5))


def _money(cents: int) -> Decimal:
    return Decimal(cents) * _CENT


_SLUG_TABLE = str.maketrans(
    "àâäáãåçéèêëíìîïñóòôöõúùûüýÿœæÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŒÆß&'.,/()",
    "aaaaaaceeeeiiiinooooouuuuyyoeAAAAAACEEEEIIIINOOOOOUUUUYOAs       ",
)


@lru_cache(maxsize=1 << 16)
def _slug(text: str) -> str:
    """An ASCII web-domain label: "Transports Lefèvre" -> "transports-lefevre"."""
    folded = unicodedata.normalize("NFKD", text.translate(_SLUG_TABLE).lower())
    ascii_text = folded.encode("ascii", "ignore").decode()
    return "-".join(ascii_text.replace("-", " ").split()) or "client"


def _count(share: float, total: int) -> int:
    """How many of ``total`` get a feature of this share; at least one in a set of 20+."""
    wanted = round(share * total)
    return max(wanted, 1) if total >= 20 else wanted


class _Generator:
    """One generation run: the random stream, calendar tables, and what is built so far."""

    def __init__(self, today: date, customers: int, invoices: int, seed: int, months: int):
        self.rng = Random(seed)
        self.t = t = today.toordinal()
        self.n_customers = customers
        self.n_invoices = invoices
        # Issue dates: the last `months` months (12 months: the last 365 days, today included).
        self.start = t - max(1, months * 365 // 12) + 1
        self.adoption = t - _HISTORY_DAYS
        # Day tables from `lo` to `hi`: one shared date object per day, the next business
        # day on or after it, and the end of the month 45 days later.
        self.lo = lo = min(self.start, self.adoption) - 10
        self.hi = hi = t + 250  # beyond the latest due date plus the longest delay
        self.days = [date.fromordinal(o) for o in range(lo, hi + 1)]
        next_bd = [0] * len(self.days)
        following = hi + 1
        for k in range(len(self.days) - 1, -1, -1):
            if is_business_day(self.days[k]):
                following = lo + k
            next_bd[k] = following
        self.next_bd = next_bd
        eom45 = []
        for o in range(lo, t + 1):
            d = date.fromordinal(o + 45)
            first_next = date(d.year + d.month // 12, d.month % 12 + 1, 1)
            eom45.append(first_next.toordinal() - 1)
        self.eom45 = eom45
        plans = shipped_plans()
        self.plans: list[Plan] = [plans[name] for name in _PLAN_NAMES]

    def day(self, ordinal: int) -> date:
        if self.lo <= ordinal <= self.hi:
            return self.days[ordinal - self.lo]
        return date.fromordinal(ordinal)

    # ------------------------------------------------------------------ customers

    def plan_customers(self) -> None:
        """Everything about the customers the invoices depend on (the records come last)."""
        rng = self.rng
        rand = rng.random
        n = self.n_customers
        t = self.t
        width = max(6, len(str(n)))
        self.customer_ids = [f"C{c + 1:0{width}d}" for c in range(n)]

        order = list(range(n))
        rng.shuffle(order)
        group = [_COMPANY] * n
        pos = 0
        for g, share in (
            (_INDIVIDUAL, 0.04),
            (_PUBLIC, 0.04),
            (_KEY_ACCOUNT, 0.05),
            (_EXPORT, 0.07),
        ):
            size = _count(share, n)
            for c in order[pos : pos + size]:
                group[c] = g
            pos += size
        self.group = group

        # Behaviour profiles: key accounts are their own; the others by shares.
        others = [c for c in range(n) if group[c] != _KEY_ACCOUNT]
        rng.shuffle(others)
        profile = [_KEY if g == _KEY_ACCOUNT else _ON_TIME for g in group]
        m = len(others)
        pos = 0
        for prof, size in (
            (_STOPPED, _count(0.03, m)),
            (_CHRONIC, round(0.21 * m)),
            (_SLIGHT, round(0.27 * m)),
        ):
            for c in others[pos : pos + size]:
                profile[c] = prof
            pos += size
        self.profile = profile

        excluded = [False] * n
        for c in rng.sample(range(n), _count(0.02, n)):
            excluded[c] = True
        self.excluded = excluded
        self.manual: list[str | None] = [None] * n
        not_excluded = [c for c in range(n) if not excluded[c]]
        for c in rng.sample(not_excluded, min(len(not_excluded), _count(0.03, n))):
            self.manual[c] = "gentle" if rand() < 0.4 else "strict"

        # What the invoice loop reads per customer.
        self.currency = ["EUR"] * n
        self.due_days = [30] * n  # payment terms: days after issue, or _EOM45
        self.base_cents = [0.0] * n  # median invoice amount, in cents
        self.delay_base = [0] * n  # chronic late payers' own typical delay
        self.stop = [_NEVER] * n  # stopped payers: nothing due from this day on gets paid
        span = t - self.start + 1
        weights = []
        for c in range(n):
            g = group[c]
            r = rand()
            if g == _INDIVIDUAL:
                terms, mu, weight = (0 if r < 0.6 else 30), 6.0, 0.3
            elif g == _PUBLIC:
                terms, mu, weight = 30, 8.1, 1.2
            elif g == _KEY_ACCOUNT:
                terms, mu, weight = (60 if r < 0.5 else _EOM45), 9.3, 4.0
            else:
                terms = 30 if r < 0.5 else (_EOM45 if r < 0.8 else 60)
                mu, weight = 7.6, 1.0
            if g == _EXPORT:
                r = rand()
                self.currency[c] = "USD" if r < 0.5 else ("CHF" if r < 0.88 else "EUR")
            self.due_days[c] = terms
            self.base_cents[c] = 100.0 * exp(mu + rng.gauss(0.0, 0.45))
            weights.append(weight * exp(rng.gauss(0.0, 0.7)))
            if profile[c] == _CHRONIC:
                self.delay_base[c] = 10 + int(rand() * 56)
            elif profile[c] == _STOPPED:
                self.stop[c] = t - 45 - int(rand() * max(1, min(240, span - 60)))
        # Who gets the next invoice: a draw from a bag where each customer appears in
        # proportion to their activity (one look-up per invoice, no bisection).
        scale = max(1 << 16, 16 * n) / (sum(weights) or 1.0)
        bag: list[int] = []
        for c, weight in enumerate(weights):
            bag.extend(repeat(c, round(weight * scale)))
        self.bag = bag or list(range(n))

        # Which plan each customer's journal used, and the day it stops (exclusive; 0: none).
        self.hist_plan = [0] * n
        self.hist_end = [0] * n
        for c in range(n):
            manual = self.manual[c]
            if manual is not None:
                plan = _PLAN_NAMES.index(manual)
            elif profile[c] == _KEY:
                plan = 1
            elif profile[c] in (_CHRONIC, _STOPPED):
                plan = 2
            else:
                plan = 0
            if rand() < 0.08:  # the customer changed segment since: the journal used another plan
                plan = (plan + 1 + int(rand() * 2)) % 3
            self.hist_plan[c] = plan
            r = rand()
            if excluded[c]:
                continue
            if r < 0.76:
                self.hist_end[c] = t  # up to date: the last run was yesterday
            elif r < 0.96:
                self.hist_end[c] = t - 2 - int(rand() * 20)  # lagging behind
        self.first_issue = [0] * n

    def build_customers(self) -> list[Customer]:
        rng = self.rng
        rand = rng.random
        out: list[Customer] = []
        start = self.start
        span = self.t - start + 1
        for c in range(self.n_customers):
            g = self.group[c]
            tags: tuple[str, ...] = ()
            kind = "company"
            language = "fr"
            credit: Decimal | None = None
            phone: str | None
            emails: tuple[str, ...]
            if g == _INDIVIDUAL:
                kind = "individual"
                female = rand() < 0.5
                first = _pick(rand, _FIRST_NAMES_F if female else _FIRST_NAMES_M)
                last = _pick(rand, _SURNAMES)
                name = f"{'Mme' if female else 'M.'} {first} {last}"
                box = f"{_slug(first)}.{_slug(last)}"
                if rand() < 0.4:
                    box += str(10 + int(rand() * 89))
                emails = (f"{box}@{_pick(rand, _PERSONAL_DOMAINS)}",)
                phone = self._french_phone(mobile=True)
            elif g == _EXPORT:
                tags = ("export",)
                name, domain, phone = self._export_identity(self.currency[c])
                emails = (f"{_pick(rand, _EXPORT_MAILBOXES)}@{domain}",)
                # French-speaking Switzerland writes in French.
                language = "fr" if name.split()[0] in _ROMANDIE else "en"
            else:
                if g == _PUBLIC:
                    tags = ("public_sector",)
                    city = _pick(rand, _CITIES)
                    name = _pick(rand, _PUBLIC_PATTERNS).format(
                        of_city=("d'" if city[0] in "AEIOUÉ" else "de ") + city,
                        place=_pick(rand, _PLACES),
                        person=_pick(rand, _FAMOUS),
                    )
                    domain = _slug(name) + ".fr"
                else:
                    name, core_name = self._company_name(large=g == _KEY_ACCOUNT)
                    domain = _slug(core_name) + (".com" if rand() < 0.3 else ".fr")
                if g == _KEY_ACCOUNT:
                    tags = ("key_account",)
                    credit = _money(_pick(rand, _KEY_CREDIT_LIMITS) * 100)
                elif g == _COMPANY and rand() < 0.35:
                    credit = _money(_pick(rand, _CREDIT_LIMITS) * 100)
                mailbox = _pick(rand, _COMPANY_MAILBOXES)
                r = rand()
                if r < 0.03:
                    emails = ()
                elif r < 0.2:
                    emails = (f"{mailbox}@{domain}", f"direction@{domain}")
                else:
                    emails = (f"{mailbox}@{domain}",)
                phone = self._french_phone(mobile=g != _PUBLIC and rand() < 0.3)
                if g != _PUBLIC and rand() < 0.05:  # an English-speaking subsidiary or owner
                    language = "en"
            if rand() < 0.07:
                phone = None
            # Created years ago for most, within the window for some; never after the
            # customer's first invoice, never after today.
            if rand() < 0.8:
                created = start - 30 - int(rand() * 3650)
            else:
                created = start + int(rand() * span)
            first_issue = self.first_issue[c]
            if first_issue and first_issue < created:
                created = first_issue
            out.append(
                Customer(
                    self.customer_ids[c],
                    name,
                    kind,
                    emails,
                    phone,
                    language,
                    frozenset(tags),
                    self.excluded[c],
                    self.manual[c],
                    credit,
                    self.day(created),
                )
            )
        return out

    def _company_name(self, *, large: bool = False) -> tuple[str, str]:
        """(name with its legal form, the part its web domain is made of)."""
        rand = self.rng.random
        surname = _pick(rand, _SURNAMES)
        r = rand()
        if large:  # key accounts: groups and industrial firms
            if r < 0.35:
                base = f"Groupe {surname}"
            elif r < 0.7:
                base = f"{_pick(rand, _LARGE_TRADES)} {_pick(rand, _PLACES)}"
            else:
                base = _pick(rand, _COINED_HEADS) + _pick(rand, _COINED_TAILS) + " Industrie"
            return f"{base} {'SA' if rand() < 0.6 else 'SAS'}", base
        form = _pick(rand, _FORMS)
        if r < 0.38:
            base = f"{_pick(rand, _TRADES)} {surname}"
        elif r < 0.45:
            base = f"{_pick(rand, _TRADES)} {surname} & Fils"
        elif r < 0.53:
            base = f"Établissements {surname}"
        elif r < 0.75:
            base = f"{_pick(rand, _TRADES)} {_pick(rand, _PLACES)}"
        elif r < 0.82:
            base = f"{surname}-{_pick(rand, _SURNAMES)} Associés"
        else:
            base = _pick(rand, _COINED_HEADS) + _pick(rand, _COINED_TAILS)
        return f"{base} {form}", base

    def _export_identity(self, currency: str) -> tuple[str, str, str | None]:
        rand = self.rng.random
        n = 100 + int(rand() * 900)
        if currency == "USD":
            head = _pick(rand, _USD_HEADS)
            name = f"{head} {_pick(rand, _USD_TAILS)}"
            domain = _slug(name.split()[0] + " " + name.split()[1]) + ".com"
            return name, domain, f"+1 212 555 01{n % 100:02d}"
        if currency == "CHF":
            head = _pick(rand, _CHF_HEADS)
            name = f"{head} {_pick(rand, _CHF_TAILS)}"
            domain = _slug(name.split()[0] + " " + name.split()[1]) + ".ch"
            return name, domain, f"+41 22 {n} {n % 90 + 10:02d} 00"
        name = _pick(rand, _EU_NAMES)
        return name, _slug(name.rsplit(" ", 1)[0]) + ".eu", None

    def _french_phone(self, *, mobile: bool) -> str:
        rand = self.rng.random
        lead = (6, 7)[int(rand() * 2)] if mobile else (1, 2, 3, 4, 5, 9)[int(rand() * 6)]
        digits = f"{int(rand() * 100_000_000):08d}"
        return f"+33 {lead} {digits[:2]} {digits[2:4]} {digits[4:6]} {digits[6:]}"

    # ------------------------------------------------------------------ invoices

    def build_invoices(self) -> list[Invoice]:
        """The invoices, in issue order; also the journal's raw events and the flag pools."""
        rng = self.rng
        rand = rng.random
        t = self.t
        n = self.n_invoices
        lo = self.lo
        days = self.days
        next_bd = self.next_bd
        eom45 = self.eom45
        adoption = self.adoption
        first_run = next_bd[adoption - lo]
        first_issue = self.first_issue
        span = self.hi - lo + 1
        bag = self.bag
        bag_size = float(len(bag))
        cent = _CENT
        zero = _ZERO
        z = _normal_quantiles()
        nq = float(len(z))
        invoice_factor = [exp(0.85 * x) for x in z]
        credit_factor = [exp(0.7 * x - 1.4) for x in z]
        delay_tables = _delay_tables()
        new_invoice = Invoice  # locals: the loop below runs a million times
        decimal = Decimal
        never = _NEVER
        nt = float(_DELAY_TABLE_SIZE)
        plan_offsets = [tuple(step.offset for step in plan.steps) for plan in self.plans]
        # Everything the loop needs about a customer, in one tuple.
        info = [
            (
                self.customer_ids[c],
                self.currency[c],
                self.base_cents[c],
                self.due_days[c],
                delay_tables[self.profile[c]],
                self.delay_base[c],
                self.stop[c],
                self.hist_end[c],
                plan_offsets[self.hist_plan[c]],
                c * span - lo,  # an event's day d is encoded as this + d
            )
            for c in range(self.n_customers)
        ]

        # The journal's raw material: "invoice i reached step s on day d", one int each
        # ((customer, day), invoice, step), so that one sort puts them in replay order.
        self.events = events = array("q")
        push = events.append
        # Pools the flags are drawn from.
        self.open_pool = open_pool = array("q")  # open invoices
        self.late_pool = late_pool = array("q")  # open and overdue
        self.deep_pool = deep_pool = array("q")  # open and over 45 days overdue
        self.stopped_pool = stopped_pool = array("q")  # same, of customers who stopped paying
        self.pay_o = pay_o = array("q", bytes(8 * n))
        out: list[Invoice] = []
        append = out.append
        if n == 0:
            return out

        # Issue days: the business days of the window, shared out evenly, in order.
        issue_days = [o for o in range(self.start, t + 1) if next_bd[o - lo] == o] or [t]
        nd = len(issue_days)
        year = 0
        fa_format = av_format = ""
        fa_n = av_n = 0
        i = 0
        for k in range(nd):
            issue = issue_days[k]
            issue_date = days[issue - lo]
            if issue_date.year != year:
                year = issue_date.year
                fa_format, av_format = f"FA-{year}-%06d", f"AV-{year}-%06d"
                fa_n = av_n = 0
            eom = eom45[issue - lo]
            last = -(-(k + 1) * n // nd)
            while i < last:
                c = bag[int(rand() * bag_size)]
                cid, currency, base, terms, delays, delay, stop, end, offsets, cbase = info[c]
                if stop + 20 < issue:
                    # A customer who stopped paying gets little new business.
                    for _ in range(3):
                        c = bag[int(rand() * bag_size)]
                        cid, currency, base, terms, delays, delay, stop, end, offsets, cbase = info[
                            c
                        ]
                        if stop + 20 >= issue:
                            break
                if not first_issue[c]:
                    first_issue[c] = issue
                if currency != "EUR" and rand() < 0.1:
                    currency = "EUR"
                r = rand()
                if r < 0.04:
                    # A credit note: smaller, "due" when issued, applied later or still open.
                    amount = decimal(int(base * credit_factor[int(rand() * nq)]) + 1000) * cent
                    applied = issue + int(rand() * 60)
                    av_n += 1
                    ident = av_format % av_n
                    if r < 0.015 or applied > t:
                        append(
                            new_invoice(
                                ident,
                                cid,
                                ident,
                                "credit_note",
                                issue_date,
                                issue_date,
                                amount,
                                amount,
                                currency,
                            )
                        )
                    else:
                        append(
                            new_invoice(
                                ident,
                                cid,
                                ident,
                                "credit_note",
                                issue_date,
                                issue_date,
                                amount,
                                zero,
                                currency,
                                days[applied - lo],
                            )
                        )
                    pay_o[i] = never
                    i += 1
                    continue
                cents = int(base * invoice_factor[int(rand() * nq)])
                if cents < 1500:
                    cents = 1500
                amount = decimal(cents) * cent
                due = eom if terms < 0 else issue + terms
                fa_n += 1
                ident = fa_format % fa_n
                # When it gets paid, from the customer's behaviour.
                pay = due + delay + delays[int(rand() * nt)]
                if pay < issue:
                    pay = issue
                pay = next_bd[pay - lo]  # money comes in on business days
                if pay > t or pay >= stop:
                    pay = never
                    if due < t and rand() < 0.15:
                        open_amount = decimal(1 + int(rand() * (cents - 1))) * cent
                    else:
                        open_amount = amount
                    append(
                        new_invoice(
                            ident,
                            cid,
                            ident,
                            "invoice",
                            issue_date,
                            days[due - lo],
                            amount,
                            open_amount,
                            currency,
                        )
                    )
                    open_pool.append(i)
                    if due < t:
                        late_pool.append(i)
                        if due < t - 45:
                            (stopped_pool if stop <= due else deep_pool).append(i)
                else:
                    append(
                        new_invoice(
                            ident,
                            cid,
                            ident,
                            "invoice",
                            issue_date,
                            days[due - lo],
                            amount,
                            zero,
                            currency,
                            days[pay - lo],
                        )
                    )
                pay_o[i] = pay
                # Journal events for the steps reached while the invoice was open: the
                # tool's first run catches up with the steps reached before it, at once.
                if end:
                    if pay < end:
                        end = pay
                    if end > first_run:
                        # Steps 1..first were reached before adoption.
                        first = bisect_left(offsets, adoption - due)
                        if first:
                            push(((cbase + first_run) << 32 | i) << 4 | first)
                        for s in range(first, bisect_left(offsets, end - due)):
                            d = next_bd[due + offsets[s] - lo]
                            if d >= end:
                                break
                            push(((cbase + d) << 32 | i) << 4 | (s + 1))
                i += 1
        return out

    # ------------------------------------------------------------------ flags

    def _draw(self, pool: array[int], k: int) -> list[int]:
        """k invoices of the pool not yet given a flag."""
        taken = self.taken
        free = [i for i in pool if i not in taken]
        chosen = self.rng.sample(free, min(k, len(free)))
        taken.update(chosen)
        return chosen

    def add_flags(self, invs: list[Invoice]) -> None:
        """Disputes, promises to pay and factoring, on invoices where they make sense.

        Also records when each invoice was on hold (dispute, promise): no reminder then.
        """
        rng = self.rng
        rand = rng.random
        t = self.t
        n = len(invs)
        pay_o = self.pay_o
        day = self.day
        self.taken: set[int] = set()
        taken = self.taken
        self.hold: dict[int, tuple[int, int]] = {}
        hold = self.hold
        draw = self._draw

        def draw_where(k: int, wanted: Callable[[int], bool]) -> list[int]:
            """k invoices drawn from all of them, by rejection: the pool is most invoices."""
            chosen: list[int] = []
            for _ in range(50 * k + 1000):
                if len(chosen) >= k:
                    break
                i = int(rand() * n)
                if i not in taken and wanted(i):
                    taken.add(i)
                    chosen.append(i)
            return chosen

        for i in draw(self.open_pool, _count(0.02, n)):
            inv = invs[i]
            due = inv.due_date.toordinal()
            opened = min(t, max(inv.issue_date.toordinal() + 3, due - 20) + int(rand() * 40))
            reason, note = self._dispute_text()
            inv.dispute = Dispute(reason, day(opened), note)
            hold[i] = (opened, _NEVER)

        for i in draw(self.late_pool, _count(0.02, n)):
            if rand() < 0.7:
                promise = t + 1 + int(rand() * 14)
                made = t - 1 - int(rand() * 7)
            else:  # broken promises
                promise = t - 1 - int(rand() * 20)
                made = promise - 7 - int(rand() * 14)
            invs[i].promise_date = day(promise)
            hold[i] = (made, promise)

        for i in draw_where(
            _count(0.006, n), lambda i: pay_o[i] != _NEVER and invs[i].kind == "invoice"
        ):
            inv = invs[i]
            paid = pay_o[i]
            opened = min(paid, inv.issue_date.toordinal() + 2 + int(rand() * 25))
            closed = min(paid, opened + 3 + int(rand() * 40))
            reason, note = self._dispute_text()
            inv.dispute = Dispute(reason, day(opened), note, day(closed))
            hold[i] = (opened, closed)

        # Factoring: not for key accounts (their receivables stay in-house).
        key_accounts = {
            cid for cid, g in zip(self.customer_ids, self.group, strict=True) if g == _KEY_ACCOUNT
        }
        factored = draw_where(
            _count(0.01, n),
            lambda i: invs[i].kind == "invoice" and invs[i].customer_id not in key_accounts,
        )
        for i in factored:
            invs[i].factored = True
        self.factored = frozenset(factored)

    def _dispute_text(self) -> tuple[str, str]:
        rand = self.rng.random
        reason, notes = _pick(rand, _DISPUTES)
        note = _pick(rand, notes)
        if note:
            note = note.format(n=2 + int(rand() * 9), ref=1000 + int(rand() * 9000))
        return reason, note

    # ------------------------------------------------------------------ journal

    def build_journal(self, invs: list[Invoice]) -> list[Reminder]:
        """Replay the plans customer by customer over the events gathered with the invoices.

        A run fires on an event's day, or as soon as the cooldown since the customer's
        last reminder is over, on a business day; it lists every invoice with an event
        up to then, at its highest step (catch-up), one reminder per currency.  Invoices
        paid, factored or on hold by then drop out; an invoice listed at an escalation
        step is marked escalated, as executing that action would.  Keys number the
        reminders customer by customer; the journal comes out by date.
        """
        new_reminder = Reminder  # locals: the loop below runs for every event
        new_line = ReminderLine
        mask = _MASK32
        cooldown = _COOLDOWN
        events = sorted(self.events)
        del self.events
        lo = self.lo
        hi = self.hi
        days = self.days
        next_bd = self.next_bd
        span = hi - lo + 1
        pay_o = self.pay_o
        hold = self.hold
        factored = self.factored
        channels_of = [tuple(step.channel for step in plan.steps) for plan in self.plans]
        escalation_step = [
            next((s for s, channel in enumerate(chs, 1) if channel == "escalation"), 0)
            for chs in channels_of
        ]
        out: list[Reminder] = []
        append = out.append
        number = 0
        total = len(events)
        k = 0
        while k < total:
            c = (events[k] >> 36) // span
            base = c * span - lo  # an event's day d is encoded as c * span + d - lo
            j = bisect_left(events, (base + lo + span) << 36, k)
            customer_id = self.customer_ids[c]
            p = self.hist_plan[c]
            plan_name = _PLAN_NAMES[p]
            channels = channels_of[p]
            esc_step = escalation_step[p]
            end = self.hist_end[c]
            single_currency = self.currency[c] == "EUR"
            last = -_NEVER
            pos = k
            k = j
            while pos < j:
                run = (events[pos] >> 36) - base
                if run < last + cooldown:
                    run = last + cooldown
                    if run <= hi:
                        run = next_bd[run - lo]
                if run >= end:
                    break
                q = bisect_left(events, (base + run + 1) << 36, pos, j)
                if q == pos + 1:  # the usual case: one invoice reaches one step
                    ev = events[pos]
                    pos = q
                    i = (ev >> 4) & mask
                    step = ev & 15
                    if pay_o[i] <= run or i in factored:
                        continue
                    if i in hold and hold[i][0] <= run <= hold[i][1]:
                        continue
                    if step == esc_step:
                        invs[i].escalated = True
                    last = run
                    number += 1
                    append(
                        new_reminder(
                            customer_id,
                            days[run - lo],
                            plan_name,
                            channels[step - 1],
                            f"hist-{number:06d}",
                            (new_line(invs[i].id, step),),
                        )
                    )
                    continue
                reached: dict[int, int] = {}
                for ev in events[pos:q]:
                    reached[(ev >> 4) & mask] = ev & 15  # by day: the last is the highest
                pos = q
                lines = sorted(
                    (i, step)
                    for i, step in reached.items()
                    if pay_o[i] > run
                    and i not in factored
                    and not (i in hold and hold[i][0] <= run <= hold[i][1])
                )
                if not lines:
                    continue
                for i, step in lines:
                    if step == esc_step:
                        invs[i].escalated = True
                last = run
                groups = [lines]
                if not single_currency:
                    currencies = sorted({invs[i].currency for i, _ in lines})
                    groups = [
                        [x for x in lines if invs[x[0]].currency == cur] for cur in currencies
                    ]
                for group in groups:
                    number += 1
                    top = max(step for _, step in group)
                    append(
                        new_reminder(
                            customer_id,
                            days[run - lo],
                            plan_name,
                            channels[top - 1],
                            f"hist-{number:06d}",
                            tuple(new_line(invs[i].id, step) for i, step in group),
                        )
                    )
        del events
        out.sort(key=attrgetter("date"))  # stable: by customer within a day
        return out

    def top_up_escalations(self, invs: list[Invoice]) -> None:
        """About 1% of the invoices open and escalated: besides the journal's, long overdue
        ones handed over by hand, most of them of customers who stopped paying."""
        escalated = [i for i in self.late_pool if invs[i].escalated]
        wanted = _count(0.01, len(invs)) - len(escalated)
        if wanted <= 0:
            return
        self.taken.update(escalated)
        chosen = self._draw(self.stopped_pool, wanted * 2 // 3)
        chosen += self._draw(self.deep_pool, wanted - len(chosen))
        for i in chosen:
            invs[i].escalated = True


def _pick(rand: Callable[[], float], items: tuple[_T, ...]) -> _T:
    return items[int(rand() * len(items))]


def generate_ledger(
    today: date,
    *,
    customers: int = 300,
    invoices: int = 5000,
    seed: int = 42,
    months: int = 12,
) -> Ledger:
    """A demo ledger as of ``today``; the same arguments always give the same ledger.

    ``customers`` and ``invoices`` are exact counts; invoices are issued over the
    last ``months`` months up to ``today``.  See the module docstring for what is in it.
    """
    if customers < 0 or invoices < 0:
        raise ValueError("customers and invoices must not be negative")
    if invoices and not customers:
        raise ValueError("invoices need at least one customer")
    if months < 1:
        raise ValueError("months must be at least 1")
    if invoices >= 1 << 32:
        raise ValueError("at most 2**32 - 1 invoices")
    gen = _Generator(today, customers, invoices, seed, months)
    # A million invoices are a million tracked objects: without the cyclic collector
    # running over them again and again, generation takes half the time.  Nothing
    # built here holds a cycle.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        gen.plan_customers()
        invs = gen.build_invoices()
        gen.add_flags(invs)
        reminders = gen.build_journal(invs)
        gen.top_up_escalations(invs)
        customer_list = gen.build_customers()
    finally:
        if gc_was_enabled:
            gc.enable()
    return Ledger("EUR", customer_list, invs, reminders)


# --------------------------------------------------------------------------- JSON

LEDGER_FORMAT = "relance.ledger/1"
_CHUNK = 20_000  # records serialized at a time by write_ledger_json


class _Encoder:
    """Model objects to ``relance.ledger/1`` JSON data: amounts as strings with two
    decimals, dates as ISO strings (cached: a ledger's dates repeat)."""

    def __init__(self) -> None:
        self._dates: dict[date, str] = {}

    def iso(self, value: date | None) -> str | None:
        if value is None:
            return None
        text = self._dates.get(value)
        if text is None:
            text = self._dates[value] = value.isoformat()
        return text

    @staticmethod
    def money(value: Decimal) -> str:
        text = str(value)
        if len(text) >= 4 and text[-3] == "." and "E" not in text:
            return text  # already two decimals, the usual case
        return f"{value:.2f}"

    def customer(self, customer: Customer) -> dict[str, Any]:
        limit = customer.credit_limit
        return {
            "id": customer.id,
            "name": customer.name,
            "kind": customer.kind,
            "emails": list(customer.emails),
            "phone": customer.phone,
            "language": customer.language,
            "tags": sorted(customer.tags),
            "excluded": customer.excluded,
            "plan": customer.plan,
            "credit_limit": None if limit is None else self.money(limit),
            "created": self.iso(customer.created),
        }

    def invoice(self, invoice: Invoice) -> dict[str, Any]:
        iso = self.iso
        money = self.money
        dispute = invoice.dispute
        dispute_json: dict[str, Any] | None = None
        if dispute is not None:
            dispute_json = {
                "reason": dispute.reason,
                "opened": iso(dispute.opened),
                "note": dispute.note,
            }
            if dispute.closed is not None:  # only closed disputes carry the field
                dispute_json["closed"] = iso(dispute.closed)
        return {
            "id": invoice.id,
            "customer_id": invoice.customer_id,
            "number": invoice.number,
            "kind": invoice.kind,
            "issue_date": iso(invoice.issue_date),
            "due_date": iso(invoice.due_date),
            "amount": money(invoice.amount),
            "open_amount": money(invoice.open_amount),
            "currency": invoice.currency,
            "paid_date": iso(invoice.paid_date),
            "dispute": dispute_json,
            "promise_date": iso(invoice.promise_date),
            "escalated": invoice.escalated,
            "factored": invoice.factored,
        }

    def reminder(self, reminder: Reminder) -> dict[str, Any]:
        return {
            "customer_id": reminder.customer_id,
            "date": self.iso(reminder.date),
            "plan": reminder.plan,
            "channel": reminder.channel,
            "key": reminder.key,
            "invoices": [{"id": line.invoice_id, "step": line.step} for line in reminder.invoices],
        }


def customer_to_json(customer: Customer) -> dict[str, Any]:
    return _Encoder().customer(customer)


def invoice_to_json(invoice: Invoice) -> dict[str, Any]:
    return _Encoder().invoice(invoice)


def reminder_to_json(reminder: Reminder) -> dict[str, Any]:
    return _Encoder().reminder(reminder)


def ledger_to_json(ledger: Ledger) -> dict[str, Any]:
    """The ``relance.ledger/1`` document of a ledger (DESIGN.md section 9), as plain data."""
    encode = _Encoder()
    return {
        "format": LEDGER_FORMAT,
        "currency": ledger.currency,
        "customers": [encode.customer(c) for c in ledger.customers],
        "invoices": [encode.invoice(i) for i in ledger.invoices],
        "reminders": [encode.reminder(r) for r in ledger.reminders],
    }


def write_ledger_json(ledger: Ledger, path: str | os.PathLike[str]) -> None:
    """Write ``ledger_to_json(ledger)`` to ``path`` as compact UTF-8 JSON (orjson).

    The document of a million invoices is never held whole: records are converted
    and serialized a slice at a time.
    """
    encode = _Encoder()
    sections: tuple[tuple[str, list[Any], Callable[[Any], dict[str, Any]]], ...] = (
        ("customers", ledger.customers, encode.customer),
        ("invoices", ledger.invoices, encode.invoice),
        ("reminders", ledger.reminders, encode.reminder),
    )
    with open(path, "wb") as out:
        out.write(orjson.dumps({"format": LEDGER_FORMAT, "currency": ledger.currency})[:-1])
        for name, records, convert in sections:
            out.write(b',"' + name.encode() + b'":[')
            for start in range(0, len(records), _CHUNK):
                if start:
                    out.write(b",")
                chunk = [convert(r) for r in records[start : start + _CHUNK]]
                out.write(orjson.dumps(chunk)[1:-1])
            out.write(b"]")
        out.write(b"}")
