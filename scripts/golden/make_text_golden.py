#!/usr/bin/env python3
"""Generate golden sentence-transformers embeddings for the kin-embed tests.

The input list is built deterministically (fixed seed, no downloaded data) and
is identical for every model. For one model the script writes into --out:

    inputs.jsonl        one JSON string per line (shared by all models)
    {name}.npy          float32 [n_inputs, dim], rows in input order, from
                        model.encode(inputs, batch_size=32, convert_to_numpy=True)
    {name}.tokens.json  JSON list of ints: tokens per input after truncation,
                        special tokens included (attention-mask sum)
    {name}.meta.json    versions, max_seq_length, dimension, inputs sha256

Usage:
    HF_HUB_OFFLINE=1 python make_text_golden.py --model-dir DIR --name NAME \
        [--out crates/kin-embed/tests/golden]
    python make_text_golden.py --list-only   # print the inputs, load no model
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import unicodedata
from pathlib import Path

SEED = 20240607
MIN_INPUTS = 320

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "crates" / "kin-embed" / "tests" / "golden"

# --------------------------------------------------------------------------
# English grammar
# --------------------------------------------------------------------------

SUBJECTS = [
    "the committee", "my neighbour", "a small startup", "the old lighthouse keeper",
    "our research team", "the city council", "every student", "the new intern",
    "a stray dog", "the orchestra", "the quarterback", "my grandmother",
    "the software engineer", "a group of tourists", "the head chef", "the librarian",
    "the pilot", "a curious child", "the night shift nurse", "the marketing department",
    "the farmer", "our landlord", "the museum curator", "the defence attorney",
    "a retired teacher", "the data scientist", "the mayor", "the film director",
]

# (base, past, third person present)
VERBS = [
    ("approve", "approved", "approves"), ("reject", "rejected", "rejects"),
    ("discover", "discovered", "discovers"), ("paint", "painted", "paints"),
    ("repair", "repaired", "repairs"), ("analyse", "analysed", "analyses"),
    ("ignore", "ignored", "ignores"), ("celebrate", "celebrated", "celebrates"),
    ("question", "questioned", "questions"), ("rebuild", "rebuilt", "rebuilds"),
    ("sell", "sold", "sells"), ("borrow", "borrowed", "borrows"),
    ("photograph", "photographed", "photographs"), ("translate", "translated", "translates"),
    ("deliver", "delivered", "delivers"), ("misplace", "misplaced", "misplaces"),
    ("review", "reviewed", "reviews"), ("cook", "cooked", "cooks"),
    ("design", "designed", "designs"), ("measure", "measured", "measures"),
    ("describe", "described", "describes"), ("predict", "predicted", "predicts"),
]

OBJECTS = [
    "the budget proposal", "an ancient map", "the broken bicycle", "several rare orchids",
    "the quarterly report", "a mysterious letter", "the kitchen sink", "the final exam",
    "a new vaccine", "the garden fence", "the wedding cake", "an unpaid invoice",
    "the solar panels", "a vintage guitar", "the train schedule", "the missing keys",
    "the hospital records", "a stack of old newspapers", "the machine learning model",
    "the harbour bridge", "a bowl of tomato soup", "the election results",
    "the chess tournament", "the river's water quality", "a handwritten recipe",
]

ADVERBIALS = [
    "after a long debate", "on Tuesday morning", "without telling anyone",
    "despite the heavy rain", "in less than an hour", "for the third time this year",
    "with remarkable patience", "before the deadline", "during the power outage",
    "at the end of the festival", "under strict supervision", "in front of the whole class",
    "as quickly as possible", "late last night", "for reasons nobody understood",
    "near the old railway station", "with the help of volunteers", "in total silence",
]

ADJECTIVES = [
    "remarkable", "ordinary", "controversial", "delicate", "enormous", "fragile",
    "expensive", "surprising", "tedious", "brilliant", "outdated", "reliable",
    "noisy", "elegant", "complicated", "harmless", "urgent", "forgotten",
]

CONNECTORS = [
    "However,", "Meanwhile,", "As a result,", "In the end,", "Surprisingly,",
    "Later that week,", "To everyone's relief,", "On the other hand,", "Nevertheless,",
    "For that reason,", "In other words,", "Not long after,",
]

SIMPLE_WORDS = [  # single WordPiece tokens in both BERT and MPNet vocabularies
    "the", "cat", "sat", "on", "mat", "dog", "ran", "to", "house", "and", "red",
    "blue", "tree", "water", "sun", "book", "day", "man", "road", "city",
]


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def sentence(rng: random.Random) -> str:
    s, (vb, vp, v3), o, a = (rng.choice(SUBJECTS), rng.choice(VERBS),
                             rng.choice(OBJECTS), rng.choice(ADVERBIALS))
    s2, (wb, wp, w3), o2 = rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)
    pattern = rng.randrange(8)
    if pattern == 0:
        return f"{cap(s)} {vp} {o} {a}."
    if pattern == 1:
        return f"{cap(a)}, {s} {vp} {o}."
    if pattern == 2:
        return f"Why did {s} {vb} {o} {a}?"
    if pattern == 3:
        return f"{cap(s)} {vp} {o}, but {s2} {wp} {o2}."
    if pattern == 4:
        return f"If {s} {v3} {o}, {s2} will {wb} {o2}."
    if pattern == 5:
        return f"{cap(s)} thinks that {o} is {rng.choice(ADJECTIVES)}."
    if pattern == 6:
        return f"Nobody expected {s} to {vb} {o} {a}."
    return f"{cap(s)} and {s2} {vp} {o} together {a}."


def paragraph(rng: random.Random, min_words: int) -> str:
    parts: list[str] = []
    n = 0
    while n < min_words:
        sent = sentence(rng)
        if parts and rng.random() < 0.3:
            sent = f"{rng.choice(CONNECTORS)} {sent[0].lower()}{sent[1:]}"
        parts.append(sent)
        n += len(sent.split())
    return " ".join(parts)


def query(rng: random.Random) -> str:
    vb = rng.choice(VERBS)[0]
    o = rng.choice(OBJECTS)
    forms = [
        f"how to {vb} {o}",
        f"best way to {vb} {o}",
        f"{o} {rng.choice(ADVERBIALS)}",
        f"who can {vb} {o}",
        f"{rng.choice(ADJECTIVES)} {o.split()[-1]}",
        f"{o.split()[-1]} near me",
    ]
    return rng.choice(forms)


# --------------------------------------------------------------------------
# Fixed material
# --------------------------------------------------------------------------

SINGLE_WORDS = [
    "hello", "Hello", "HELLO", "world", "a", "I", "x", "The", "running",
    "unbelievably", "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "don't", "e-mail", "COVID-19", "naïve", "Zürich", "straße", "İstanbul", "C++",
    "C#", "node.js", "@username", "#hashtag", "$100", "42", "3.14159", "ok", "OK!",
    "embeddings", "tokenization", "supercalifragilisticexpialidocious", "Æsir", "ǅemal",
    "ﬁnance", "ＦＵＬＬＷＩＤＴＨ", "well-known", "rock'n'roll", "co-operate", "Mr.",
    "bonjour", "Straßenbahn", "mañana", "привет", "καλημέρα", "مرحبا", "שלום",
    "नमस्ते", "你好", "こんにちは", "안녕하세요", "สวัสดี",
]

MULTILINGUAL = {
    "fr": [
        "Le chat dort paisiblement sur le canapé du salon.",
        "Nous avons visité le musée d'Orsay pendant les vacances d'été.",
        "Pourriez-vous m'indiquer le chemin de la gare, s'il vous plaît ?",
        "L'économie française a connu une croissance modérée cette année.",
        "Il était une fois une princesse qui vivait dans un château près de la forêt.",
        "Ça coûte combien ? — Douze euros cinquante.",
    ],
    "de": [
        "Der schnelle braune Fuchs springt über den faulen Hund.",
        "Ich möchte morgen früh mit dem Zug nach München fahren.",
        "Die Straßenbahnhaltestelle befindet sich gegenüber dem Rathaus.",
        "Donaudampfschifffahrtsgesellschaftskapitän ist ein sehr langes Wort.",
        "Könnten Sie bitte das Fenster schließen? Es zieht.",
        "Größe, Gewicht und Fähigkeiten wurden sorgfältig gemessen.",
    ],
    "es": [
        "¿Dónde está la biblioteca más cercana?",
        "El niño comió una manzana y después salió a jugar al fútbol.",
        "¡Qué día tan bonito hace hoy en Barcelona!",
        "La investigación científica requiere paciencia, rigor y creatividad.",
        "Mañana vamos a celebrar el cumpleaños de mi abuela en el jardín.",
        "El pingüino añoró a la cigüeña durante el otoño.",
    ],
    "ru": [
        "Москва — столица Российской Федерации.",
        "Я люблю читать книги по вечерам, особенно классическую литературу.",
        "Съешь же ещё этих мягких французских булок, да выпей чаю.",
        "Погода сегодня отличная, поэтому мы пойдём гулять в парк.",
        "Сколько стоит билет до Санкт-Петербурга?",
        "Ёжик в тумане — известный мультфильм.",
    ],
    "el": [
        "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
        "Καλημέρα! Τι κάνεις σήμερα\u037e",  # Greek question mark U+037E
        "Ο φιλόσοφος Σωκράτης δίδαξε στην αρχαία αγορά.",
        "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
        "Ο ΟΔΥΣΣΕΑΣ ΕΠΕΣΤΡΕΨΕ ΣΤΗΝ ΙΘΑΚΗ ΜΕΤΑ ΑΠΟ ΠΟΛΛΑ ΧΡΟΝΙΑ.",
    ],
    "ar": [
        "مرحبا بكم في مدينة القاهرة.",
        "اللغة العربية من أكثر اللغات انتشارا في العالم.",
        "هل يمكنك مساعدتي في العثور على الفندق؟",
        "قرأتُ الكتابَ في المكتبةِ أمسِ.",
        "السلام عليكم ورحمة الله وبركاته",
        "الرقم ١٢٣٤٥٦٧٨٩٠ مكتوب بالأرقام العربية.",
    ],
    "he": [
        "שלום עולם",
        "ירושלים היא עיר עתיקה וחשובה.",
        "אני לומד לתכנת בשפת פייתון.",
        "בְּרֵאשִׁית בָּרָא אֱלֹהִים אֵת הַשָּׁמַיִם וְאֵת הָאָרֶץ",
        "מה השעה עכשיו?",
    ],
    "hi": [
        "भारत एक विशाल और विविधतापूर्ण देश है।",
        "मुझे हिंदी में किताबें पढ़ना पसंद है।",
        "आज मौसम बहुत अच्छा है, चलो बाहर घूमने चलते हैं।",
        "नमस्ते, आप कैसे हैं?",
        "क्षत्रिय, ज्ञान और श्रृंगार में संयुक्ताक्षर हैं। वर्ष २०२४",
    ],
    "zh": [
        "今天天气很好，我们去公园散步吧。",
        "机器学习是人工智能的一个重要分支。",
        "我喜欢吃北京烤鸭和小笼包。",
        "請問火車站怎麼走？",
        "中华人民共和国成立于1949年。",
        "学而时习之，不亦说乎？",
    ],
    "ja": [
        "今日はとても良い天気ですね。",
        "東京駅から新幹線で大阪へ行きます。",
        "カタカナとひらがなと漢字を混ぜて書きます。",
        "ｶﾀｶﾅの半角文字もあります。",
        "吾輩は猫である。名前はまだ無い。",
        "コンピューターのプログラミングを勉強しています。",
    ],
    "ko": [
        "안녕하세요, 만나서 반갑습니다.",
        "서울은 대한민국의 수도입니다.",
        "저는 매일 아침 커피를 마셔요.",
        "한국어는 한글로 씁니다.",
        unicodedata.normalize("NFD", "한글 자모 분해"),  # conjoining jamo
    ],
    "th": [
        "สวัสดีครับ ยินดีที่ได้รู้จัก",
        "ประเทศไทยมีอาหารอร่อยมากมาย",
        "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
        "ฉันชอบอ่านหนังสือในวันหยุด",
        "ตัวเลขไทย ๑๒๓๔๕",
    ],
    "other": [
        "Tiếng Việt có nhiều dấu thanh.",
        "İstanbul'da ılık bir gün geçirdik.",
        "Zażółć gęślą jaźń.",
        "Příliš žluťoučký kůň úpěl ďábelské ódy.",
        "Ґанок і їжак живуть в Україні.",
        "გამარჯობა, როგორ ხარ?",
        "ሰላም ለዓለም",
        "வணக்கம், எப்படி இருக்கிறீர்கள்?",
        "আমি বাংলায় গান গাই।",
        "Բարեւ, ինչպե՞ս ես։",
    ],
    "mixed": [
        "I went to 東京 and said こんにちは to my friend Иван.",
        "The word 'Schadenfreude' (German) has no exact English equivalent.",
        "Он сказал: «This is fine», и ушёл.",
        "我们用Python和Rust写代码, then deploy to the cloud.",
        "مرحبا means hello, and שלום means peace.",
        "नमस्ते world, bonjour 世界, hola мир.",
    ],
}

EMOJI = [
    "I love pizza 🍕🍕🍕",
    "👨‍👩‍👧‍👦",
    "👩🏽‍💻 coding late again",
    "🏳️‍🌈 pride parade downtown",
    "🇫🇷🇩🇪🇯🇵 flags of three countries",
    "👍🏻👍🏼👍🏽👍🏾👍🏿",
    "1️⃣ 2️⃣ 3️⃣ #️⃣",
    "❤️ versus ❤ with and without the variation selector",
    "🧑‍🤝‍🧑 holding hands",
    "😀😃😄😁😆😅😂🤣",
    "Great job!!! 🎉🎉 #winning",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland",
    "☕️ + 🥐 = ☀️",
    "👁️‍🗨️",
    "🤷‍♀️ whatever you say",
    "The rocket🚀launched without spaces around the emoji",
    "😊",
]

CODE = [
    "def add(a, b):\n    return a + b",
    "fn main() {\n    println!(\"Hello, world!\");\n}",
    "const square = (x) => x * x;",
    "SELECT id, name FROM users WHERE age > 30 ORDER BY name DESC;",
    "cat access.log | grep 'GET /api' | awk '{print $1}' | sort | uniq -c | sort -rn | head",
    '{"name": "kin", "version": "0.1.0", "tags": ["embedding", "rust"], "ok": true}',
    "<div class=\"container\"><p>Hello <b>world</b></p></div>",
    "body { margin: 0; padding: 0 1rem; font-family: sans-serif; }",
    r"^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@example\.com$",
    "int *p = &arr[0]; while (*p++) { count++; }",
    r"\frac{\partial L}{\partial w} = \sum_{i=1}^{n} (y_i - \hat{y}_i) x_i",
    "services:\n  web:\n    image: nginx:latest\n    ports:\n      - \"80:80\"",
    "for i in range(10): print(i ** 2, end=' ')",
    "git commit -m \"Fix off-by-one error in tokenizer\" && git push origin main",
]

URLS = [
    "https://www.example.com/path/to/page?query=1&lang=en#section-2",
    "http://localhost:8080/api/v1/users/42",
    "ftp://files.example.org/pub/archive.tar.gz",
    "Contact user.name+tag@example.co.uk for details.",
    "C:\\Users\\Admin\\Documents\\report_final_v2.docx",
    "/usr/local/bin/python3",
    "git@github.com:owner/repo.git",
    "Visit https://例え.jp or https://xn--r8jz45g.jp",
    "www.google.com",
    "Server at 192.168.0.1 and 2001:db8::ff00:42:8329",
    "See https://en.wikipedia.org/wiki/Sentence_embedding for background.",
]

NUMBERS = [
    "3.14159265358979",
    "1,234,567.89",
    "-0.0001",
    "6.022e23",
    "+1 (555) 123-4567",
    "2024-02-29T13:45:00Z",
    "$19.99, €5,00 and ¥1000",
    "50% off, 1/2 price, ½ ¾ ⅞",
    "0xDEADBEEF",
    "MMXXIV",
    "123456789012345678901234567890",
    "The year 1999 had 365 days and 8760 hours.",
    "10^6 = 1000000",
    "v2.3.1-beta+build.5",
    "Room 101, floor 7, building 3B",
]

WHITESPACE = [
    " ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    "  leading spaces",
    "trailing spaces   ",
    "\tleading tab",
    "trailing newline\n",
    "multiple    spaces    between     words",
    "tabs\tbetween\twords",
    "line one\nline two\nline three",
    "windows\r\nline\r\nendings",
    "\n\n\nparagraph after blank lines\n\n\n",
    "mixed \t \n \r whitespace",
    "non\u00a0breaking\u00a0space",
    "ideographic\u3000space",
    "en\u2002em\u2003thin\u2009spaces",
    "zero\u200bwidth\u200bspace",
    "line\u2028separator and paragraph\u2029separator",
    "vertical\x0btab and form\x0cfeed",
    "   \t  surrounded by whitespace  \n\t ",
]

ACCENTS = [
    "café",
    "cafe\u0301",  # decomposed
    "naïve résumé",
    "Ångström and \u212bngström",  # A-ring vs angstrom sign
    "Crème brûlée",
    "São Paulo",
    "Łódź",
    "Dvořák",
    "ñ versus n\u0303",
    "e\u0301\u0301\u0301 stacked accents",
    "Z\u0334\u0322\u031ba\u0337l\u0338g\u0335o\u0336 text",
    "ﬁ ﬂ ﬀ ligatures",
    "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ",
    "İIıi dotted and dotless",
    "ΣΊΣΥΦΟΣ",
]

ALL_CAPS = [
    "THIS IS AN ALL CAPS SENTENCE.",
    "WARNING: DO NOT OPEN THE DOOR!!!",
    "NASA AND ESA LAUNCHED A NEW SATELLITE",
    "URGENT MEETING AT 10 AM IN ROOM B",
]

PUNCTUATION = [
    "!!!",
    "?!?!?!",
    "...",
    "…",
    "-----",
    "***",
    "(((nested)))",
    "«quoted» „German“ “curly” 'single'",
    "—–-‒―",
    "!" * 40,
    ".,;:!?",
    "¿¡",
    "@#$%^&*()_+-=[]{}|;':\",./<>?",
    "~`",
    "。、！？「」",
    "Wait... what?! Really?!?",
]

MISC = [
    "\x00null byte inside",
    "bell\x07char",
    "\ufeffBOM at start",
    "soft\u00adhyphen",
    "\u200eLTR mark and \u200fRTL mark",
    "\u202eRTL override",
    "\ufffd replacement character",
    "private use \ue000",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙",
    "∑∫√π≈≠≤≥∞",
    "𓀀𓀁 hieroglyphs",
    "☃★♠♣♥♦",
    "Ⅻ ①②③",
    "[CLS] [SEP] [PAD] [MASK] [UNK]",
    "<s> </s> <pad> <mask> <unk>",
    "a[MASK]b and x<mask>y",
    "ZWJ\u200dbetween\u200cand ZWNJ",
    "Tab-separated\tvalues\t1\t2\t3",
]


# --------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------


def build_inputs() -> list[str]:
    rng = random.Random(SEED)
    out: list[str] = []

    out += SINGLE_WORDS
    out += [query(rng) for _ in range(25)]
    out += [sentence(rng) for _ in range(50)]
    out += [paragraph(rng, rng.randint(30, 90)) for _ in range(35)]

    for lang, sents in MULTILINGUAL.items():
        out += sents
        if lang not in ("other", "mixed"):
            out.append(" ".join(sents[:3]))  # medium-length, same language

    out += EMOJI
    out += CODE
    out += URLS
    out += NUMBERS
    out += WHITESPACE
    out += ACCENTS
    out += ALL_CAPS
    out += [sentence(rng).upper() for _ in range(3)]
    out += PUNCTUATION
    out += MISC

    # WordPiece maps words longer than 100 chars to a single [UNK]
    letters = "abcdefghijklmnopqrstuvwxyz"
    for n in (99, 100, 101, 150):
        out.append("".join(rng.choice(letters) for _ in range(n)))
    out.append("1234567890" * 30)

    # Whitespace-heavy medium text
    words = paragraph(rng, 60).split(" ")
    seps = [" ", "  ", "\t", "\n", " \n ", "   \t", "\r\n"]
    out.append("  " + "".join(w + rng.choice(seps) for w in words) + " \n")

    # Exact truncation boundaries: n single-token words + 2 special tokens.
    # MiniLM max_seq_length 256 (content 254), MPNet 384 (content 382).
    for n in (253, 254, 255, 256, 381, 382, 383, 384):
        out.append(" ".join(rng.choice(SIMPLE_WORDS) for _ in range(n)))

    # Long inputs, well past 256, 384 and 512 tokens
    for n in (190, 230, 280, 330, 420, 600, 900, 1500):
        out.append(paragraph(rng, n))
    out.append("the " * 1000)
    out.append(" ".join(rng.choice(MULTILINGUAL["zh"]) for _ in range(40)))
    out.append(" ".join(rng.choice(MULTILINGUAL["ru"]) for _ in range(40)))
    out.append(" ".join(rng.choice(MULTILINGUAL["ar"]) for _ in range(45)))
    out.append(" ".join(rng.choice(MULTILINGUAL["ja"]) for _ in range(30)))
    out.append(" ".join(rng.choice(MULTILINGUAL["hi"]) for _ in range(35)))
    out.append(" ".join(rng.choice(MULTILINGUAL["de"] + MULTILINGUAL["fr"] + MULTILINGUAL["es"])
                        for _ in range(40)))
    out.append("\n\n".join(CODE * 3))
    out.append("".join(rng.choice(EMOJI) for _ in range(40)))
    out.append(". " * 300)
    out.append(" ".join(rng.choice(URLS + NUMBERS) for _ in range(60)))

    # Deduplicate, keep first occurrence order
    seen: set[str] = set()
    uniq = []
    for s in out:
        if s and s not in seen:
            seen.add(s)
            uniq.append(s)
    assert len(uniq) >= MIN_INPUTS, f"only {len(uniq)} inputs"
    assert "" not in uniq
    return uniq


def to_jsonl_line(s: str) -> str:
    line = json.dumps(s, ensure_ascii=False)
    # Keep one record per physical line whatever the reader's notion of a line is.
    for ch in ("\u2028", "\u2029", "\u0085"):
        line = line.replace(ch, "\\u%04x" % ord(ch))
    assert "\n" not in line and "\r" not in line
    return line


def write_inputs(inputs: list[str], path: Path) -> str:
    text = "".join(to_jsonl_line(s) + "\n" for s in inputs)
    data = text.encode("utf-8")
    # Sanity: round trip
    back = [json.loads(line) for line in data.decode("utf-8").split("\n") if line]
    assert back == inputs
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def token_counts(model, inputs: list[str], batch_size: int = 32) -> list[int]:
    tok = getattr(model, "preprocess", None) or model.tokenize
    counts: list[int] = []
    for i in range(0, len(inputs), batch_size):
        feats = tok(inputs[i:i + batch_size])
        counts += [int(x) for x in feats["attention_mask"].sum(dim=1).tolist()]
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", help="sentence-transformers model directory")
    ap.add_argument("--name", help="output name stem, e.g. all-minilm-l6-v2")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help=f"output directory (default {DEFAULT_OUT})")
    ap.add_argument("--list-only", action="store_true", help="print the inputs as JSON lines and exit")
    args = ap.parse_args()

    inputs = build_inputs()
    if args.list_only:
        for s in inputs:
            print(to_jsonl_line(s))
        print(f"{len(inputs)} inputs", file=sys.stderr)
        return 0
    if not args.model_dir or not args.name:
        ap.error("--model-dir and --name are required (or use --list-only)")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sha = write_inputs(inputs, out / "inputs.jsonl")

    model = SentenceTransformer(args.model_dir, device="cpu")
    model.eval()
    emb = model.encode(inputs, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    assert emb.shape[0] == len(inputs)
    assert np.isfinite(emb).all()
    np.save(out / f"{args.name}.npy", emb)

    counts = token_counts(model, inputs)
    (out / f"{args.name}.tokens.json").write_text(json.dumps(counts) + "\n")

    full = [len(ids) for ids in model.tokenizer(inputs, truncation=False)["input_ids"]]
    max_len = model.max_seq_length
    n_trunc = sum(1 for f in full if f > max_len)
    assert all(c == min(f, max_len) for c, f in zip(counts, full)), "unexpected truncation behaviour"

    norms = np.linalg.norm(emb, axis=1)
    meta = {
        "name": args.name,
        "model_dir": os.path.basename(os.path.normpath(args.model_dir)),
        "n_inputs": len(inputs),
        "dim": int(emb.shape[1]),
        "max_seq_length": max_len,
        "modules": [type(m).__name__ for m in model],
        "normalized": bool(np.allclose(norms, 1.0, atol=1e-4)),
        "inputs_sha256": sha,
        "seed": SEED,
        "encode": {"batch_size": 32, "device": "cpu"},
        "versions": {
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
    }
    try:
        import tokenizers
        meta["versions"]["tokenizers"] = tokenizers.__version__
    except ImportError:
        pass
    (out / f"{args.name}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")

    print(f"{args.name}: {len(inputs)} inputs, dim {emb.shape[1]}, max_seq_length {max_len}")
    print(f"  tokens after truncation: min {min(counts)}, max {max(counts)}, "
          f"mean {sum(counts) / len(counts):.1f}; {n_trunc} inputs truncated "
          f"(longest untruncated {max(full)} tokens)")
    print(f"  norms: min {norms.min():.6f}, max {norms.max():.6f}")
    for p in ("inputs.jsonl", f"{args.name}.npy", f"{args.name}.tokens.json", f"{args.name}.meta.json"):
        print(f"  wrote {out / p} ({(out / p).stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
