#!/usr/bin/env python3
"""Write a deterministic mixed-length English corpus for throughput benchmarks.

One text per line (no newlines inside), from short search queries to
paragraphs of about 300 words. The mix is tuned so that the mean length is
about 80 tokens with all-MiniLM-L6-v2 (after its 256-token truncation).
Text comes from a fixed-seed template grammar: no downloaded data.

Usage:
    python make_corpus.py --out /work/scratch/bench/corpus.txt [--n 2400] [--seed 7]
    python make_corpus.py --out corpus.txt --stats-model-dir MODEL_DIR   # print token stats
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from pathlib import Path

# --------------------------------------------------------------------------
# Vocabulary, per domain
# --------------------------------------------------------------------------

DOMAINS = {
    "technology": {
        "agents": ["the engineering team", "a junior developer", "the platform group", "our security lead",
                   "the open-source maintainers", "a cloud provider", "the database administrator",
                   "the product manager", "several early adopters", "the infrastructure team"],
        "things": ["the deployment pipeline", "a memory leak", "the search index", "the login page",
                   "an outdated dependency", "the caching layer", "the mobile app", "a flaky integration test",
                   "the billing service", "the new API", "the recommendation model", "the log files",
                   "a configuration file", "the load balancer", "the data warehouse"],
        "verbs": [("migrate", "migrated", "migrates"), ("refactor", "refactored", "refactors"),
                  ("deploy", "deployed", "deploys"), ("debug", "debugged", "debugs"),
                  ("benchmark", "benchmarked", "benchmarks"), ("patch", "patched", "patches"),
                  ("monitor", "monitored", "monitors"), ("rewrite", "rewrote", "rewrites"),
                  ("scale", "scaled", "scales"), ("document", "documented", "documents")],
        "adjs": ["reliable", "slow", "scalable", "fragile", "well-tested", "legacy", "asynchronous",
                 "lightweight", "distributed", "misconfigured"],
        "contexts": ["in production", "during the last sprint", "before the release", "on the staging cluster",
                     "after the outage", "under heavy load", "across three regions", "behind a feature flag"],
        "topics": ["vector databases", "memory safety", "continuous integration", "latency budgets",
                   "container orchestration", "code review", "technical debt", "observability"],
    },
    "cooking": {
        "agents": ["the head chef", "my grandmother", "a food critic", "the pastry cook", "our neighbours",
                   "the restaurant owner", "a home cook", "the culinary students"],
        "things": ["the sourdough starter", "a pot of lentil soup", "the tomato sauce", "fresh basil",
                   "the roast chicken", "a lemon tart", "the spice cabinet", "the cast-iron pan",
                   "a bowl of ramen", "the chocolate mousse", "homemade pasta", "the vegetable stock"],
        "verbs": [("simmer", "simmered", "simmers"), ("season", "seasoned", "seasons"),
                  ("bake", "baked", "bakes"), ("taste", "tasted", "tastes"), ("prepare", "prepared", "prepares"),
                  ("grill", "grilled", "grills"), ("whisk", "whisked", "whisks"), ("serve", "served", "serves")],
        "adjs": ["crispy", "tender", "bitter", "fragrant", "overcooked", "creamy", "spicy", "delicate"],
        "contexts": ["for Sunday lunch", "over a low flame", "for almost three hours", "at the farmers' market",
                     "in a crowded kitchen", "before the guests arrived", "without a written recipe"],
        "topics": ["fermentation", "knife skills", "seasonal vegetables", "baking bread at home",
                   "regional cuisine", "food waste", "plant-based cooking"],
    },
    "travel": {
        "agents": ["the tour guide", "a group of backpackers", "the airline", "our travel agent",
                   "the hotel staff", "a retired couple", "the ferry captain", "local officials"],
        "things": ["the night train", "a mountain village", "the old harbour", "the museum pass",
                   "a hiking trail", "the boarding gate", "the coastal road", "a guesthouse near the station",
                   "the return flight", "the walking tour", "the city map"],
        "verbs": [("explore", "explored", "explores"), ("book", "booked", "books"),
                  ("cancel", "cancelled", "cancels"), ("recommend", "recommended", "recommends"),
                  ("visit", "visited", "visits"), ("photograph", "photographed", "photographs"),
                  ("reach", "reached", "reaches"), ("miss", "missed", "misses")],
        "adjs": ["crowded", "scenic", "remote", "affordable", "charming", "delayed", "overpriced", "peaceful"],
        "contexts": ["in early spring", "during the holiday season", "on a rainy afternoon", "at sunrise",
                     "after a long layover", "without a reservation", "off the beaten path"],
        "topics": ["budget travel", "overtourism", "rail journeys", "travel insurance", "solo trips",
                   "visa requirements"],
    },
    "health": {
        "agents": ["the family doctor", "a team of nurses", "the research hospital", "the physiotherapist",
                   "public health officials", "the clinical trial participants", "a local pharmacist"],
        "things": ["the blood pressure readings", "a new treatment plan", "the vaccination campaign",
                   "the sleep study", "a daily walking routine", "the patient records", "the flu season",
                   "a balanced diet", "the recovery exercises", "the waiting list"],
        "verbs": [("prescribe", "prescribed", "prescribes"), ("monitor", "monitored", "monitors"),
                  ("recommend", "recommended", "recommends"), ("review", "reviewed", "reviews"),
                  ("track", "tracked", "tracks"), ("evaluate", "evaluated", "evaluates"),
                  ("reduce", "reduced", "reduces"), ("improve", "improved", "improves")],
        "adjs": ["chronic", "mild", "preventive", "effective", "experimental", "routine", "severe", "gradual"],
        "contexts": ["over six months", "in rural clinics", "for older adults", "after the surgery",
                     "during the winter", "with careful follow-up", "in a randomised trial"],
        "topics": ["sleep hygiene", "mental health", "antibiotic resistance", "heart disease", "nutrition",
                   "preventive care"],
    },
    "finance": {
        "agents": ["the central bank", "a small business owner", "the auditors", "retail investors",
                   "the finance committee", "an independent analyst", "the pension fund", "the startup founders"],
        "things": ["the interest rate", "the annual budget", "a savings account", "the quarterly earnings",
                   "the mortgage payments", "an emergency fund", "the tax return", "the stock portfolio",
                   "the exchange rate", "operating costs"],
        "verbs": [("raise", "raised", "raises"), ("cut", "cut", "cuts"), ("forecast", "forecast", "forecasts"),
                  ("audit", "audited", "audits"), ("invest", "invested", "invests"),
                  ("review", "reviewed", "reviews"), ("reduce", "reduced", "reduces"), ("report", "reported", "reports")],
        "adjs": ["volatile", "conservative", "profitable", "risky", "steady", "unexpected", "sustainable", "modest"],
        "contexts": ["in the third quarter", "despite rising inflation", "for the first time in a decade",
                     "ahead of the elections", "over the long term", "after months of negotiation"],
        "topics": ["compound interest", "index funds", "household debt", "inflation", "retirement planning",
                   "small business loans"],
    },
    "history": {
        "agents": ["the archaeologists", "a medieval monk", "the Roman senate", "local historians",
                   "the museum curators", "an explorer", "the city's founders", "the printing guild"],
        "things": ["an ancient manuscript", "the city walls", "a trade route", "the royal archives",
                   "the old cathedral", "a forgotten treaty", "the burial site", "a collection of letters",
                   "the harbour fortifications", "the first printed maps"],
        "verbs": [("discover", "discovered", "discovers"), ("restore", "restored", "restores"),
                  ("record", "recorded", "records"), ("study", "studied", "studies"),
                  ("excavate", "excavated", "excavates"), ("translate", "translated", "translates"),
                  ("defend", "defended", "defends"), ("rebuild", "rebuilt", "rebuilds")],
        "adjs": ["ancient", "well-preserved", "contested", "remarkable", "fragmentary", "influential",
                 "obscure", "monumental"],
        "contexts": ["in the twelfth century", "after the great fire", "during the long siege",
                     "along the northern coast", "under the new dynasty", "for several generations"],
        "topics": ["the industrial revolution", "medieval trade", "oral history", "the printing press",
                   "ancient astronomy", "colonial archives"],
    },
    "sports": {
        "agents": ["the home team", "the veteran goalkeeper", "the coaching staff", "a young sprinter",
                   "the league officials", "the fans", "the team captain", "the referee"],
        "things": ["the championship final", "a new training plan", "the penalty kick", "the transfer window",
                   "the marathon route", "the season opener", "the stadium lights", "a world record"],
        "verbs": [("win", "won", "wins"), ("lose", "lost", "loses"), ("train", "trained", "trains"),
                  ("defend", "defended", "defends"), ("break", "broke", "breaks"),
                  ("celebrate", "celebrated", "celebrates"), ("challenge", "challenged", "challenges"),
                  ("postpone", "postponed", "postpones")],
        "adjs": ["dramatic", "exhausting", "historic", "disappointing", "tactical", "physical", "narrow", "decisive"],
        "contexts": ["in extra time", "in front of a sold-out crowd", "after a difficult season",
                     "despite the injuries", "on a freezing evening", "in the final minutes"],
        "topics": ["youth academies", "sports science", "doping controls", "fan culture", "endurance training"],
    },
    "environment": {
        "agents": ["the climate scientists", "a coalition of farmers", "the city council", "volunteer divers",
                   "the national park rangers", "an environmental group", "the energy ministry"],
        "things": ["the coral reef", "the wind farm", "a recycling programme", "the river delta",
                   "the air quality data", "the wetlands", "the carbon budget", "the solar panels",
                   "a reforestation project", "the glacier"],
        "verbs": [("protect", "protected", "protects"), ("measure", "measured", "measures"),
                  ("restore", "restored", "restores"), ("monitor", "monitored", "monitors"),
                  ("expand", "expanded", "expands"), ("fund", "funded", "funds"),
                  ("survey", "surveyed", "surveys"), ("replace", "replaced", "replaces")],
        "adjs": ["fragile", "renewable", "polluted", "resilient", "endangered", "ambitious", "seasonal", "coastal"],
        "contexts": ["over the past decade", "during the drought", "along the coastline", "in the dry season",
                     "with satellite imagery", "before the next summit"],
        "topics": ["biodiversity loss", "urban heat islands", "sea level rise", "renewable energy",
                   "plastic pollution", "water scarcity"],
    },
}

OPENERS = [
    "According to a recent survey,", "In my experience,", "As expected,", "Interestingly,",
    "For the most part,", "In practice,", "At first glance,", "By the end of the year,",
    "To be honest,", "In many cases,", "Unsurprisingly,", "Not for the first time,",
]
CONNECTORS = [
    "However,", "Meanwhile,", "As a result,", "In the end,", "Even so,", "On the other hand,",
    "Nevertheless,", "For that reason,", "In other words,", "Shortly afterwards,", "Moreover,",
    "Still,", "Later,", "In contrast,",
]
REASONS = [
    "because the budget was limited", "since nobody had tried it before", "although the results were mixed",
    "while the weather kept changing", "so that everyone could take part", "even though time was short",
    "because the previous approach had failed", "as the deadline approached",
]
OPINIONS = [
    "was far more {adj} than anyone had predicted", "turned out to be surprisingly {adj}",
    "remains {adj} in the eyes of many critics", "seemed {adj} at first but improved over time",
    "is still considered {adj} by most experts",
]
QUERY_FORMS = [
    "how to {vb} {thing}", "best {topic} tips", "why is {thing} so {adj}", "{topic} for beginners",
    "{adj} {noun} near me", "what is {topic}", "{thing} {ctx}", "can you {vb} {thing} {ctx}",
    "difference between {topic} and {topic2}", "{topic} explained", "is {thing} {adj}",
]


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def head_noun(thing: str) -> str:
    return thing.split()[-1]


def plural(agent: str) -> bool:
    if " of " in agent:  # "a team of nurses"
        return False
    last = agent.split()[-1]
    return last.endswith("s") and not last.endswith("ss")


def present(agent: str, verb: tuple[str, str, str]) -> str:
    return verb[0] if plural(agent) else verb[2]


class Grammar:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def pick(self, d: dict, key: str) -> str:
        return self.rng.choice(d[key])

    def query(self, d: dict) -> str:
        r = self.rng
        vb, _, _ = r.choice(d["verbs"])
        thing = self.pick(d, "things")
        t1, t2 = r.sample(d["topics"], 2)
        q = r.choice(QUERY_FORMS).format(vb=vb, thing=thing, topic=t1, topic2=t2, adj=self.pick(d, "adjs"),
                                         noun=head_noun(thing), ctx=self.pick(d, "contexts"))
        if q.startswith(("how", "why", "what", "can", "is")) and r.random() < 0.5:
            q += "?"
        return q

    def sentence(self, d: dict) -> str:
        r = self.rng
        a, a2 = r.sample(d["agents"], 2)
        v, w = r.sample(d["verbs"], 2)
        (vb, vp, _), (wb, wp, _) = v, w
        v3 = present(a, v)
        t, t2 = r.sample(d["things"], 2)
        ctx, adj, topic = self.pick(d, "contexts"), self.pick(d, "adjs"), self.pick(d, "topics")
        k = r.randrange(14)
        if k == 0:
            s = f"{cap(a)} {vp} {t} {ctx}."
        elif k == 1:
            s = f"{cap(ctx)}, {a} {vp} {t} {r.choice(REASONS)}."
        elif k == 2:
            s = f"{cap(t)} {r.choice(OPINIONS).format(adj=adj)}."
        elif k == 3:
            s = f"{cap(a)} {vp} {t}, but {a2} {wp} {t2} {ctx}."
        elif k == 4:
            s = f"If {a} {v3} {t}, {a2} will probably {wb} {t2} as well."
        elif k == 5:
            s = f"Most discussions about {topic} focus on {t}, yet {t2} matters just as much."
        elif k == 6:
            s = f"Nobody expected {a} to {vb} {t} {ctx}, {r.choice(REASONS)}."
        elif k == 7:
            s = f"{cap(a)} and {a2} {vp} {t} together, and the outcome was {adj}."
        elif k == 8:
            s = f"Why did {a} {vb} {t} {ctx}?"
        elif k == 9:
            s = f"When {a} finally {vp} {t}, the {head_noun(t2)} looked {adj} by comparison."
        elif k == 10:
            s = f"One of the most {adj} things about {topic} is how {a} {v3} {t}."
        elif k == 11:
            n = r.choice([2, 3, 4, 5, 7, 10, 12, 15, 20, 30, 45, 60, 90])
            unit = r.choice(["days", "weeks", "months", "percent", "people", "hours", "kilometres", "years"])
            s = f"{cap(a)} {vp} {t} in about {n} {unit}, which was {adj} for a project of that size."
        elif k == 12:
            s = f"\"We {vp} {t} {ctx},\" said a spokesperson for {a}."
        else:
            adj2 = r.choice([x for x in d["adjs"] if x != adj])
            s = f"{cap(t)} is {adj}, {adj2} and, according to {a}, worth the effort."
        if r.random() < 0.12:
            s = f"{r.choice(OPENERS)} {s[0].lower()}{s[1:]}"
        return s

    def passage(self, d: dict, min_words: int) -> str:
        parts: list[str] = []
        n = 0
        while n < min_words:
            s = self.sentence(d)
            if parts and not s.startswith(("Why", "\"", "If")) and self.rng.random() < 0.25 \
                    and not any(s.startswith(o) for o in OPENERS):
                s = f"{self.rng.choice(CONNECTORS)} {s[0].lower()}{s[1:]}"
            parts.append(s)
            n += len(s.split())
        return " ".join(parts)


# (weight, kind, min_words range)
MIX = [
    (0.25, "query", None),
    (0.25, "sentence", None),
    (0.22, "passage", (25, 70)),
    (0.15, "paragraph", (80, 170)),
    (0.13, "long", (180, 300)),
]


def build_corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    g = Grammar(rng)
    domains = list(DOMAINS.values())
    weights = [w for w, _, _ in MIX]
    out: list[str] = []
    for _ in range(n):
        d = rng.choice(domains)
        _, kind, span = rng.choices(MIX, weights=weights)[0]
        if kind == "query":
            text = g.query(d)
        elif kind == "sentence":
            text = g.sentence(d)
        else:
            text = g.passage(d, rng.randint(*span))
        assert "\n" not in text and "\r" not in text
        out.append(text)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/work/scratch/bench/corpus.txt", help="output .txt path")
    ap.add_argument("--n", type=int, default=2400, help="number of lines (default 2400)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--stats-model-dir", help="print token statistics with this model's tokenizer")
    ap.add_argument("--max-seq-length", type=int, default=256, help="truncation for --stats-model-dir")
    args = ap.parse_args()

    corpus = build_corpus(args.n, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(corpus) + "\n").encode("utf-8")
    out.write_bytes(data)
    words = [len(s.split()) for s in corpus]
    print(f"wrote {out}: {len(corpus)} lines, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}")
    print(f"words per line: min {min(words)}, max {max(words)}, mean {sum(words) / len(words):.1f}")

    if args.stats_model_dir:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(args.stats_model_dir)
        full = [len(x) for x in tok(corpus, truncation=False)["input_ids"]]
        trunc = [min(f, args.max_seq_length) for f in full]
        print(f"tokens per line (truncated at {args.max_seq_length}): min {min(trunc)}, max {max(trunc)}, "
              f"mean {sum(trunc) / len(trunc):.1f}, total {sum(trunc)}; "
              f"{sum(f > args.max_seq_length for f in full)} lines truncated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
