"""Synthetic people for tests, demos and benchmarks: realistic Venezuelan, Peruvian and
Ecuadorian names (compound given names, two surnames, accents and ñ) and valid documents.

Deterministic for a seed; document numbers are unique within one run (a bijection of the
person's index), and the small given-name pools give the namesakes a real caseload has.
Surnames are drawn as concentrated as the real populations are (surname_frequencies.json:
each country's 20 most frequent surnames with their published frequencies, then a long tail),
so a name search meets the common surnames as often as it would in a national registry.
Nobody here is real.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

VE_GIVEN_F = ["María José", "María Alejandra", "María Gabriela", "Yuleisy", "Oriana",
              "Andreína", "Génesis", "Yusmary", "Daniela", "Carolina", "Marbelis", "Yelitza",
              "Rosángela", "Luisana", "Fabiola", "Nathaly", "Mariángel", "Yessica",
              "Ana Karina", "Milagros", "Dayana", "Yoselín", "Mileidy", "Zuleima", "Maryuri"]
VE_GIVEN_M = ["José Gregorio", "Luis Alejandro", "Carlos Eduardo", "Jesús Rafael",
              "Andrés Eloy", "Yorman", "Jhonny", "Wilmer", "Freddy", "Ronald", "Johan",
              "Oswaldo", "Richard", "Kelvin", "Franklin", "Ángel David", "Juan Carlos",
              "Miguel Ángel", "Leonardo", "Darwin", "Yonathan", "Eudes", "Héctor", "Néstor"]
VE_SURNAMES = ["Hernández", "González", "Rodríguez", "Pérez", "Márquez", "Briceño",
               "Colmenares", "Peña", "Ramírez", "Chacón", "Guerrero", "Quintero", "Rondón",
               "Villalobos", "Castillo", "Medina", "Contreras", "Suárez", "Mendoza", "Rojas",
               "Salazar", "Delgado", "Urdaneta", "Carrillo", "Montilla", "Parra", "Pacheco",
               "Torrealba", "Linares", "Bermúdez", "Añez", "Ocanto", "Yépez", "Marcano",
               "Núñez", "Moreno", "Díaz", "Gutiérrez", "Sánchez", "Fernández"]
PE_GIVEN_F = ["Rosa", "Luz Marina", "Milagros", "Flor de María", "Gladys", "Yolanda",
              "Karina", "Maribel", "Sofía", "Katherine", "Nelly", "Elizabeth", "Jhoselyn",
              "Lucía", "Ruth"]
PE_GIVEN_M = ["Juan Carlos", "Wilmer", "Edwin", "Jhon", "César Augusto", "Percy", "Alfredo",
              "Víctor Raúl", "Miguel", "Julio César", "Elmer", "Segundo", "Alex", "Renzo",
              "Jorge Luis"]
PE_SURNAMES = ["Quispe", "Mamani", "Huamán", "Flores", "Condori", "Chávez", "Vásquez",
               "Ramos", "Sánchez", "Rojas", "Cruz", "Torres", "Mendoza", "Díaz", "Castillo",
               "Gutiérrez", "Espinoza", "Ccama", "Apaza", "Huanca", "Ticona", "Ñaupari",
               "Cárdenas", "Salazar", "Villanueva"]
EC_GIVEN_F = ["Génesis", "Katherine", "Mayra Alejandra", "Jessenia", "Doménica", "Nathaly",
              "Gissela", "Paola", "Tatiana", "Verónica", "María Fernanda", "Anahí"]
EC_GIVEN_M = ["Byron", "Jhonny", "Darwin", "Klever", "Wilson", "Édison", "Holger",
              "Fabricio", "Jefferson", "Bryan", "Luis Fernando", "Segundo"]
EC_SURNAMES = ["Zambrano", "Cedeño", "Moreira", "Vera", "Mendoza", "Andrade", "Loor",
               "Intriago", "Macías", "Bravo", "Alcívar", "Chávez", "Guamán", "Pillajo",
               "Quishpe", "Toapanta", "Cevallos", "Ortiz", "Vélez", "Mero"]

# (region, district prefix, district suffix range)
PERU_PLACES = [("PE-LMA", "1501", 43), ("PE-LMA", "1501", 43), ("PE-LMA", "1501", 43),
               ("PE-CAL", "0701", 7), ("PE-CUS", "0801", 8), ("PE-LAL", "1301", 11),
               ("PE-LAM", "1401", 12), ("PE-PIU", "2001", 10)]
ECUADOR_PLACES = [("EC-P", "1701", None), ("EC-P", "1701", None), ("EC-G", "0901", None),
                  ("EC-A", "0101", None), ("EC-M", "1308", None), ("EC-SD", "2301", None),
                  ("EC-T", "1801", None), ("EC-O", "0701", None)]
EC_PROVINCE_OF = {"EC-P": 17, "EC-G": 9, "EC-A": 1, "EC-M": 13, "EC-SD": 23, "EC-T": 18,
                  "EC-O": 7}

_M = 20_000_000
_P = 7_654_321  # coprime with _M: i → (i * _P) % _M is a bijection on [0, _M)


_EC = 6_000_000  # third digit 0-5 then six digits: 6 million numbers per province
_EC_HALF = _EC // 2  # Venezuelans' cédulas in one half, Ecuadorians' in the other: disjoint


def ec_cedula(province: int, body: int) -> str:
    """A valid Ecuadorian cédula: province, third digit below 6, six digits, check digit."""
    body %= _EC
    digits = f"{province:02d}{body // 1_000_000}{body % 1_000_000:06d}"
    total = 0
    for i, ch in enumerate(digits):
        v = int(ch) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return digits + str((10 - total % 10) % 10)


FREQUENCIES = Path(__file__).with_name("surname_frequencies.json")

# Pieces of the generated tail: surname-like words, none claimed to be a real name.
_TAIL_STARTS = ["Bal", "Bar", "Bel", "Ber", "Cal", "Car", "Cas", "Cor", "Dal", "Esc", "Gal",
                "Gar", "Lar", "Lem", "Mal", "Mar", "Mon", "Nav", "Ol", "Pal", "Par", "Ram",
                "Sal", "San", "Sol", "Tal", "Tor", "Val", "Var", "Vil", "Zar", "Arr", "Ech",
                "Iba", "Lan"]
_TAIL_MIDS = ["", "a", "e", "i", "o", "u", "an", "er", "ab", "ur"]
_TAIL_ENDS = ["anda", "eño", "illa", "ero", "ares", "uela", "eda", "ón", "ino", "asco",
              "ete", "ato", "ueta", "ides", "aza", "ango", "ella", "iro", "ura", "ote"]


@cache
def surname_table(country: str) -> tuple[list[str], list[float]]:
    """The surnames of ``country`` and their cumulative weights (one surname slot)."""
    data = json.loads(FREQUENCIES.read_text(encoding="utf-8"))["countries"][country]
    head = [(n, c / data["population"]) for n, c in data["head"]]
    rest = 1.0 - sum(w for _, w in head)
    taken = {n for n, _ in head} | set(data["mid"])
    words = (s + m + e for s, m, e in itertools.product(_TAIL_STARTS, _TAIL_MIDS, _TAIL_ENDS))
    tail = [w for w in dict.fromkeys(words) if w not in taken]
    random.Random(country).shuffle(tail)
    below = data["mid"] + tail[:data["tail_size"]]
    zipf = [1 / (r + 31) for r in range(len(below))]
    names = [n for n, _ in head] + below
    weights = [w for _, w in head] + [rest * z / sum(zipf) for z in zipf]
    return names, list(itertools.accumulate(weights))


def surname(rng: random.Random, country: str) -> str:
    names, cumulative = surname_table(country)
    return rng.choices(names, cum_weights=cumulative)[0]


def top_surname_share(people: Sequence[dict[str, Any]], top: int = 20) -> dict[str, Any]:
    """The share of ``people`` carrying one of the ``top`` most common surnames among them
    (as first or second surname), and those surnames: the concentration a name search
    meets."""
    from collections import Counter

    counts = Counter(s for p in people for s in {p["first_surname"],
                                                 p.get("second_surname")} if s)
    common = [n for n, _ in counts.most_common(top)]
    chosen = set(common)
    carrying = sum(1 for p in people
                   if {p["first_surname"], p.get("second_surname")} & chosen)
    return {"people": len(people), "top": common, "share_carrying": round(
        carrying / max(len(people), 1), 4), "distinct_surnames": len(counts)}


class SyntheticPeople:
    def __init__(self, seed: int = 1, today: date | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.today = today or date.today()

    def _unique(self, i: int, salt: int, modulus: int = _M) -> int:
        return ((i + self.seed * 1_000_003 + salt * 3_333_331) * _P) % modulus

    def _birth(self) -> date:
        r = self.rng.random()
        age = self.rng.randint(3, 17) if r < 0.05 else (
            self.rng.randint(60, 75) if r > 0.95 else self.rng.randint(18, 59))
        return self.today - timedelta(days=age * 365 + self.rng.randint(0, 364))

    def person(self, i: int) -> dict[str, Any]:
        """The ``i``-th person: a ProfileCreate payload (JSON-ready)."""
        rng = self.rng
        r = rng.random()
        nationality = "VEN" if r < 0.8 else ("PER" if r < 0.9 else "ECU")
        sex = "female" if rng.random() < 0.6 else "male"
        if nationality == "VEN":
            given = rng.choice(VE_GIVEN_F if sex == "female" else VE_GIVEN_M)
            s1, s2 = surname(rng, "VEN"), surname(rng, "VEN")
            population = rng.choice(["migrant"] * 6 + ["refugee"] * 2 + ["asylum_seeker"])
            in_peru = rng.random() < 0.6
        elif nationality == "PER":
            given = rng.choice(PE_GIVEN_F if sex == "female" else PE_GIVEN_M)
            s1, s2 = surname(rng, "PER"), surname(rng, "PER")
            population = rng.choice(["host_community"] * 4 + ["returnee"])
            in_peru = True
        else:
            given = rng.choice(EC_GIVEN_F if sex == "female" else EC_GIVEN_M)
            s1, s2 = surname(rng, "ECU"), surname(rng, "ECU")
            population = rng.choice(["host_community"] * 4 + ["returnee"])
            in_peru = False
        if in_peru:
            region, prefix, n = rng.choice(PERU_PLACES)
            district: str | None = f"{prefix}{rng.randint(1, n or 1):02d}"
            phone = f"+519{rng.randint(10_000_000, 99_999_999)}"
        else:
            region, prefix, _ = rng.choice(ECUADOR_PLACES)
            district = prefix
            phone = f"+5939{rng.choice('89')}{rng.randint(1_000_000, 9_999_999)}"
        documents = self._documents(i, nationality, region, in_peru)
        body: dict[str, Any] = {
            "given_names": given, "first_surname": s1,
            "birth_date": self._birth().isoformat(), "sex": sex, "nationality": nationality,
            "population_type": population, "region": region, "district": district,
            "documents": documents,
        }
        if rng.random() < 0.85:
            body["second_surname"] = s2
        if rng.random() < 0.7:
            body["phone"] = phone
        if rng.random() < 0.3:
            body["email"] = f"persona{i}.{self.seed}@example.org"
        if rng.random() < 0.5:
            body["education_level"] = rng.choice([2, 3, 3, 4, 5, 6, 6, 7])
            body["occupation_desired"] = rng.choice(["5223", "9112", "7411", "2221", "2211",
                                                     "5120", "8322", "2341"])
        return body

    def _documents(self, i: int, nationality: str, region: str, in_peru: bool
                   ) -> list[dict[str, Any]]:
        rng = self.rng
        out: list[dict[str, Any]] = []
        if nationality == "VEN":
            out.append({"type": "ve_cedula", "number": f"V{5_000_000 + self._unique(i, 0)}",
                        "verification": rng.choice(["seen", "seen", "self_declared"])})
            if rng.random() < 0.4:
                expiry = self.today + timedelta(days=rng.randint(-2500, 1800))
                out.append({"type": "ve_passport",
                            "number": f"{100_000_000 + self._unique(i, 1)}",
                            "expiry_date": expiry.isoformat(), "verification": "seen"})
            if in_peru and rng.random() < 0.6:
                kind = rng.choice(["pe_cpp", "pe_cpp", "pe_carne_extranjeria", "pe_ptp"])
                out.append({"type": kind, "number": f"{self._unique(i, 2):09d}",
                            "expiry_date": (self.today + timedelta(days=rng.randint(-200, 700))
                                            ).isoformat(),
                            "verification": "seen", "authorises_work": True})
            elif not in_peru and rng.random() < 0.5:
                out.append({"type": "ec_cedula",
                            "number": ec_cedula(EC_PROVINCE_OF.get(region, 17),
                                                self._unique(i, 3, _EC_HALF)),
                            "verification": "seen", "authorises_work": True})
        elif nationality == "PER":
            out.append({"type": "pe_dni", "number": f"{10_000_000 + self._unique(i, 4):08d}",
                        "verification": "seen"})
        else:
            out.append({"type": "ec_cedula",
                        "number": ec_cedula(EC_PROVINCE_OF.get(region, 17),
                                            _EC_HALF + self._unique(i, 5, _EC_HALF)),
                        "verification": "seen"})
        return out

    def people(self, count: int, start: int = 0) -> Iterator[dict[str, Any]]:
        for i in range(start, start + count):
            yield self.person(i)


CSV_COLUMNS = ["given_names", "first_surname", "second_surname", "birth_date", "sex",
               "nationality", "population_type", "region", "district", "phone", "email",
               "document_type", "document_number", "document_expiry"]


def as_csv_row(person: dict[str, Any]) -> dict[str, str]:
    """One spreadsheet row (first document only), as NGOs keep their lists."""
    doc = person["documents"][0] if person.get("documents") else {}
    row = {k: str(person.get(k) or "") for k in CSV_COLUMNS[:11]}
    row["document_type"] = doc.get("type", "")
    row["document_number"] = doc.get("number", "")
    row["document_expiry"] = doc.get("expiry_date", "") or ""
    return row
