"""Throughput and peak memory of ``mockft.validation`` on a large chat training file.

    python benchmarks/bench_validation.py [--mb 100] [--seed 0] [--keep DIR]

Writes a chat JSONL file of about ``--mb`` megabytes into a temporary directory (generated on
the fly, seeded: multilingual multi-turn conversations, as real files are: English prose
from the Python reference topics that ship with CPython; French, Spanish, German,
Portuguese, Vietnamese, Russian, Ukrainian and Arabic words and Chinese and Japanese
characters drawn with Zipf's law from seeded lexicons; code quoted from the standard
library; emoji now and then; system prompts from a small pool per language), then runs,
each in a fresh Python process:

- ``json.loads``: a bare ``json.loads`` per line, the baseline;
- ``validate_path``: mockft's full validation (every check, exact token counts, duplicates)
  for gpt-4o-mini, as ``mockft validate`` runs it: on a large file, the second half in a
  forked process (and once more with ``processes=1``, one process, as the server runs it);
- the cookbook's checks: the OpenAI cookbook's chat data-prep format checks and tiktoken
  counts per message, with gpt-4o-mini's encoding (what people run today).

It prints each pass's wall time, its CPU time (user + system, of its processes: on a shared
machine the figure to compare), MB/s, ratio to the baseline and the peak RSS of its largest
process (``ru_maxrss``), next to the RSS of a process that only imported the same modules. Not
part of the test suite: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

DEFAULT_MB: Final = 100
BYTES_PER_MB: Final = 1_000_000
SYLLABLES: Final = (
    "ka ri to na mi su re lo ve an ex on ter pla stra ble ing ment com pro ta de "
    "qui zor fel gan tho wen ly ous ic al"
).split()
FALLBACK_CORPUS_WORDS: Final = 200_000
SYSTEM_PROMPTS: Final = 12
USER_WORDS: Final = (8, 60)
ASSISTANT_WORDS: Final = (20, 160)
TARGET_MODEL: Final = "gpt-4o-mini"
TARGET_ENCODING: Final = "o200k_base"  # gpt-4o-mini's

# Each pass runs in its own interpreter; it prints "<seconds> <ru_maxrss in KiB> <cpu seconds>"
# (the largest process's RSS and the CPU of all its processes), then what it found.
BASELINE_PASS: Final = """
import json, resource, sys, time
path = sys.argv[1]
start, cpu = time.perf_counter(), time.process_time()
with open(path, "rb") as f:
    for line in f:
        json.loads(line)
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time() - cpu)
"""
VALIDATION_PASS: Final = """
import resource, sys, time
from mockft import tokens, validation
from mockft.catalog import load_catalog
path, model, processes = sys.argv[1], sys.argv[2], int(sys.argv[3]) or None
catalog = load_catalog()
snapshot = catalog.resolve(model).id
spec = catalog.fine_tuning(model)
tokens.get_counter(tokens.encoding_for_model(snapshot))  # load the vocabulary first

start, cpu = time.perf_counter(), time.process_time()
report = validation.validate_path(path, model=snapshot, model_spec=spec, processes=processes)
elapsed = time.perf_counter() - start
assert report.valid, report.error
child = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, child.ru_maxrss)
cpu = time.process_time() - cpu + child.ru_utime + child.ru_stime
print(elapsed, peak, cpu, report.n_examples, report.tokens.total)
"""
# The OpenAI cookbook's "Data preparation and analysis for chat model fine-tuning" checks, as
# people run them today: the file loaded as a list of examples, the format checks (types,
# message keys, roles, content), then tiktoken's counts of every message value (3 tokens a
# message, 1 for a name, 3 priming the reply) and of the assistant turns, with the target
# model's encoding (vocabulary loaded before the clock starts, as for mockft).
COOKBOOK_PASS: Final = """
import json, resource, sys, time
from collections import defaultdict
import tiktoken
path, encoding_name = sys.argv[1], sys.argv[2]
try:
    encoding = tiktoken.get_encoding(encoding_name)
except Exception:  # offline, nothing cached: the same ranks, as bpe-openai embeds them
    from bpe_openai import registry
    encoding = tiktoken.Encoding(**getattr(registry, encoding_name)())
encoding.encode("warm up")

def num_tokens_from_messages(messages, tokens_per_message=3, tokens_per_name=1):
    num_tokens = 0
    for message in messages:
        num_tokens += tokens_per_message
        for key, value in message.items():
            num_tokens += len(encoding.encode(value))
            if key == "name":
                num_tokens += tokens_per_name
    return num_tokens + 3

def num_assistant_tokens_from_messages(messages):
    return sum(len(encoding.encode(m["content"])) for m in messages if m["role"] == "assistant")

start, cpu = time.perf_counter(), time.process_time()
with open(path, "r", encoding="utf-8") as f:
    dataset = [json.loads(line) for line in f]
format_errors = defaultdict(int)
for ex in dataset:
    if not isinstance(ex, dict):
        format_errors["data_type"] += 1
        continue
    messages = ex.get("messages", None)
    if not messages:
        format_errors["missing_messages_list"] += 1
        continue
    for message in messages:
        if "role" not in message or "content" not in message:
            format_errors["message_missing_key"] += 1
        if any(k not in ("role", "content", "name", "function_call", "weight") for k in message):
            format_errors["message_unrecognized_key"] += 1
        if message.get("role", None) not in ("system", "user", "assistant", "function"):
            format_errors["unrecognized_role"] += 1
        content = message.get("content", None)
        function_call = message.get("function_call", None)
        if (not content and not function_call) or not isinstance(content, str):
            format_errors["missing_content"] += 1
    if not any(message.get("role", None) == "assistant" for message in messages):
        format_errors["example_missing_assistant_message"] += 1
assert not format_errors, dict(format_errors)
total = 0
convo_lens, assistant_message_lens = [], []
for ex in dataset:
    messages = ex["messages"]
    convo_lens.append(num_tokens_from_messages(messages))
    assistant_message_lens.append(num_assistant_tokens_from_messages(messages))
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time() - cpu,
      len(dataset), sum(convo_lens))
"""
IMPORT_ONLY_PASS: Final = """
import resource
from mockft import tokens, validation
from mockft.catalog import load_catalog
catalog = load_catalog()
tokens.get_counter(tokens.encoding_for_model(catalog.resolve("gpt-4o-mini").id))
print(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 0)
"""


def _corpus(rng: random.Random) -> list[str]:
    """English words in reading order: the Python reference topics that ship with CPython
    (``pydoc_data``); made-up syllable words where that is missing."""
    try:
        from pydoc_data import topics
    except ImportError:
        return [
            "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
            for _ in range(FALLBACK_CORPUS_WORDS)
        ]
    return " ".join(topics.topics.values()).split()


def _passage(rng: random.Random, corpus: list[str], bounds: tuple[int, int]) -> str:
    """A run of consecutive corpus words: natural text, rarely repeated."""
    count = rng.randint(*bounds)
    start = rng.randrange(len(corpus) - count)
    return " ".join(corpus[start : start + count])


# -- other scripts: seeded lexicons drawn with Zipf's law, as words are in real text ------

LEXICON_WORDS: Final = 30_000
ZIPF_EXPONENT: Final = 1.07
EMOJI: Final = (
    "😀 😂 🙂 😉 😍 🤔 😅 😭 👍 👎 👏 🙏 💪 🎉 🔥 ✨ ✅ ❌ ⚠️ 🚀 💡 📌 📈 🤖 ❤️ 💯 👀 🙌 "
    "🌍 ☕ 🍕 🎯 🧠 📝 🔍 ⏰ 💬 🤝 🥳 😎 🇫🇷 🇯🇵 👨‍💻 👩‍🔬"
).split()
SYLLABLES_BY_SCRIPT: Final = {
    # French, Spanish, German, Portuguese, Vietnamese: Latin letters with their accents
    "fr": "le la de dé ré pré é è ê à ç ou ai oi on an en in que qu'il ti tion ment eur "
    "ière ô û ï ette elle bon mai son vé ri ca lo".split(),
    "es": "el la de ción que ra re ri ro ma me mi mo ña ño á é í ó ú ue ie da do ta to "
    "ga go lla llo cia dad".split(),
    "de": "der die das ein sch ung ver ge be ent ä ö ü ß lich keit heit en er ch st "
    "ar or ig mal zeit".split(),
    "pt": "ção ões ão ã õ de do da que com para ma me mi mo lh nh é ê á í ó ú ra ro "
    "te ta vo".split(),
    "vi": "người của và các có những được trong một cho không này đã với là đến "
    "khi thể ra nhiều ạ ả ấ ầ ẩ ẫ ậ ắ ằ".split(),
    "ru": "при вет ка ко ни на не то та ло ли ра ро ва во да до мо ми сть ость ение "
    "ый ий ая ое ть ся ж ш щ ч ц ю я ё".split(),
    "ar": "ال ب ت ث ج ح خ د ذ ر ز س ش ص ض ط ظ ع غ ف ق ك ل م ن ه و ي ة ى ا أ إ".split(),
    "uk": "ві та пр ри ні не ко ка ли ло ть ся ій ої ї є ґ ь ва ва ди ро ми".split(),
}
LATIN_LANGUAGES: Final = ("fr", "es", "de", "pt", "vi")
# Share of conversations per language (the rest of each mixes in English now and then).
LANGUAGE_WEIGHTS: Final = {
    "en": 0.28,
    "fr": 0.07,
    "es": 0.07,
    "de": 0.06,
    "pt": 0.04,
    "vi": 0.03,
    "ru": 0.09,
    "uk": 0.03,
    "zh": 0.10,
    "ja": 0.06,
    "ar": 0.07,
    "code": 0.10,
}
CJK_PUNCTUATION: Final = "，。！？、：；"
HIRAGANA: Final = "".join(chr(c) for c in range(0x3041, 0x3097))
KATAKANA: Final = "".join(chr(c) for c in range(0x30A1, 0x30FB))
EMOJI_SHARE: Final = 0.02  # of words followed by an emoji
MAX_TURNS: Final = 4


class _Lexicon:
    """Words of one language: a seeded vocabulary drawn by rank with Zipf's law."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        weights = [1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(words))]
        total = 0.0
        self.cumulative = []
        for weight in weights:
            total += weight
            self.cumulative.append(total)

    def draw(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cumulative, k=count)


def _lexicons(rng: random.Random) -> dict[str, _Lexicon]:
    found: dict[str, _Lexicon] = {}
    for language, syllables in SYLLABLES_BY_SCRIPT.items():
        longest = 4 if language != "ar" else 6
        words = {
            "".join(rng.choice(syllables) for _ in range(rng.randint(1, longest)))
            for _ in range(LEXICON_WORDS)
        }
        found[language] = _Lexicon(sorted(words, key=lambda w: (len(w), w)))
    # Chinese: the 20,902 unified ideographs, ranked at random (a common few dominate).
    hanzi = [chr(c) for c in range(0x4E00, 0x9FA6)]
    rng.shuffle(hanzi)
    found["zh"] = _Lexicon(hanzi)
    kanji = hanzi[:3000]
    kana_words = [
        "".join(rng.choice(HIRAGANA if rng.random() < 0.7 else KATAKANA) for _ in range(n))
        for n in (rng.randint(1, 5) for _ in range(8000))
    ]
    found["ja"] = _Lexicon(kana_words + kanji)
    return found


def _code_lines() -> list[str]:
    """Lines of the Python standard library's own source: real code to quote."""
    import os

    lines: list[str] = []
    for name in sorted(os.listdir(os.path.dirname(os.__file__)))[:120]:
        if name.endswith(".py"):
            path = os.path.join(os.path.dirname(os.__file__), name)
            with open(path, encoding="utf-8", errors="replace") as f:
                lines.extend(line.rstrip("\n") for line in f)
    return lines or ["def f(x):", "    return x * 2"]


class _Writer:
    """Seeded multilingual text: words of a lexicon (or English prose, or code), with
    punctuation, emoji now and then, and English mixed into other languages."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.english = _corpus(rng)
        self.lexicons = _lexicons(rng)
        self.code = _code_lines()

    def _emoji(self, words: list[str]) -> list[str]:
        rng = self.rng
        return [w + " " + rng.choice(EMOJI) if rng.random() < EMOJI_SHARE else w for w in words]

    def text(self, language: str, bounds: tuple[int, int]) -> str:
        rng = self.rng
        if language == "en":
            return " ".join(self._emoji(_passage(rng, self.english, bounds).split(" ")))
        if language == "code":
            intro = _passage(rng, self.english, (5, 25))
            count = rng.randint(3, 30)
            start = rng.randrange(len(self.code) - count)
            snippet = "\n".join(self.code[start : start + count])
            return f"{intro}:\n\n```python\n{snippet}\n```\n"
        lexicon = self.lexicons[language]
        count = rng.randint(*bounds)
        if language in ("zh", "ja"):
            pieces = lexicon.draw(rng, count * 2)
            out = []
            for i, piece in enumerate(pieces):
                out.append(piece)
                if rng.random() < 0.08:
                    out.append(rng.choice(CJK_PUNCTUATION))
                if rng.random() < 0.01:
                    out.append(rng.choice(EMOJI))
                if i and rng.random() < 0.01:  # an English term in passing
                    out.append(rng.choice(self.english))
            return "".join(out) + "。"
        words = lexicon.draw(rng, count)
        if language in LATIN_LANGUAGES or language in ("ru", "uk"):
            words[0] = words[0].capitalize()
        sentences = []
        for start in range(0, len(words), 12):
            sentence = words[start : start + 12]
            if rng.random() < 0.1:
                sentence.append(rng.choice(self.english))
            end = "." if language != "ar" else rng.choice((".", "؟", "،"))
            sentences.append(" ".join(self._emoji(sentence)) + end)
        return " ".join(sentences)


def generate(path: Path, target_bytes: int, seed: int) -> int:
    """Write a chat file of at least ``target_bytes`` of multilingual multi-turn
    conversations (seeded); return its number of lines. Every example is plain chat
    (system, then user and assistant turns), the format the cookbook's checks read."""
    rng = random.Random(seed)
    writer = _Writer(rng)
    languages = list(LANGUAGE_WEIGHTS)
    weights = list(LANGUAGE_WEIGHTS.values())
    systems = {
        language: [
            writer.text(language if language != "code" else "en", (10, 40))
            for _ in range(SYSTEM_PROMPTS)
        ]
        for language in languages
    }
    written = lines = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target_bytes:
            language = rng.choices(languages, weights)[0]
            messages: list[dict[str, object]] = [
                {"role": "system", "content": rng.choice(systems[language])}
            ]
            for _ in range(rng.randint(1, MAX_TURNS)):
                messages.append({"role": "user", "content": writer.text(language, USER_WORDS)})
                messages.append(
                    {"role": "assistant", "content": writer.text(language, ASSISTANT_WORDS)}
                )
            line = json.dumps({"messages": messages}, ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
            lines += 1
    return lines


def run(code: str, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    return done.stdout.split()


def measure(mb: float, seed: int = 0) -> dict[str, float]:
    """Generate the file, run the passes; MB/s, CPU seconds, peak RSS (MB), token totals."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_chat.jsonl"
        generate(path, int(mb * BYTES_PER_MB), seed)
        size_mb = path.stat().st_size / BYTES_PER_MB
        base_seconds = run(BASELINE_PASS, str(path))[0]
        seconds, rss, cpu, _, total = run(VALIDATION_PASS, str(path), TARGET_MODEL, "0")
        cook_seconds, cook_rss, cook_cpu, _, cook_total = run(
            COOKBOOK_PASS, str(path), TARGET_ENCODING
        )
        import_rss = run(IMPORT_ONLY_PASS)[1]
    return {
        "size_mb": size_mb,
        "cookbook_mb_s": size_mb / float(cook_seconds),
        "cookbook_cpu_s": float(cook_cpu),
        "cookbook_rss_mb": int(cook_rss) / 1024,
        "same_tokens": float(total == cook_total),
        "tokens": float(total),
        "json_mb_s": size_mb / float(base_seconds),
        "validation_mb_s": size_mb / float(seconds),
        "validation_cpu_s": float(cpu),
        "rss_mb": int(rss) / 1024,
        "import_rss_mb": int(import_rss) / 1024,
    }


def figures(quick: bool) -> list[Any]:
    """For `python -m benchmarks`."""
    from benchmarks.__main__ import Figure

    m = measure(20 if quick else DEFAULT_MB)
    ratio = m["validation_mb_s"] / m["json_mb_s"]
    versus = m["validation_mb_s"] / m["cookbook_mb_s"]
    size = f"{m['size_mb']:.0f} MB multilingual chat file"
    same = "same token total" if m["same_tokens"] else "token totals DIFFER"
    return [
        Figure(
            f"validation ({size}): speed vs the cookbook's checks (tiktoken)",
            versus,
            "x",
            ">= 3",
            versus >= 3 and bool(m["same_tokens"]),
            f"{m['validation_mb_s']:.1f} vs {m['cookbook_mb_s']:.1f} MB/s (CPU "
            f"{m['validation_cpu_s']:.1f} s on two processes vs {m['cookbook_cpu_s']:.1f} s); "
            f"{same} ({m['tokens']:,.0f}); cookbook peak RSS {m['cookbook_rss_mb']:.0f} MB",
        ),
        Figure(
            f"validation ({size}): speed vs json.loads per line",
            ratio,
            "x",
            "-",
            None,
            f"{m['validation_mb_s']:.1f} vs {m['json_mb_s']:.1f} MB/s; exact token counts",
        ),
        Figure(
            f"validation ({size}): peak RSS",
            m["rss_mb"],
            "MB",
            "< 100",
            m["rss_mb"] < 100,
            f"of which {m['import_rss_mb']:.0f} MB is imports + tokenizer vocabulary",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=DEFAULT_MB, help="file size in MB")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the file here and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = (args.keep or Path(tmp)) / "bench_chat.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        n_lines = generate(path, int(args.mb * BYTES_PER_MB), args.seed)
        size_mb = path.stat().st_size / BYTES_PER_MB

        base_seconds, base_rss, base_cpu = run(BASELINE_PASS, str(path))
        both = run(VALIDATION_PASS, str(path), TARGET_MODEL, "0")
        one = run(VALIDATION_PASS, str(path), TARGET_MODEL, "1")
        cook = run(COOKBOOK_PASS, str(path), TARGET_ENCODING)
        import_rss = run(IMPORT_ONLY_PASS)[1]

    base_rate = size_mb / float(base_seconds)
    print(f"file: {size_mb:.1f} MB, {n_lines:,} lines, {int(both[4]):,} tokens ({both[3]})")
    print(f"{'pass':<34}{'seconds':>9}{'CPU s':>8}{'MB/s':>8}{'x json':>8}{'peak RSS MB':>13}")
    rows = (
        ("json.loads per line", base_seconds, base_rss, base_cpu),
        ("mockft validate (two processes)", *both[:3]),
        ("mockft.validation, one process", *one[:3]),
        ("cookbook checks (tiktoken)", *cook[:3]),
    )
    for name, elapsed, peak, cpu in rows:  # as each pass prints them
        mb_s = size_mb / float(elapsed)
        print(
            f"{name:<34}{float(elapsed):>9.2f}{float(cpu):>8.2f}{mb_s:>8.1f}"
            f"{mb_s / base_rate:>8.2f}{int(peak) / 1024:>13.1f}"
        )
    print(
        f"token totals: mockft {int(both[4]):,} (one process {int(one[4]):,}), "
        f"cookbook {int(cook[4]):,}"
    )
    print(f"{'(imports + vocabulary only)':<34}{'':>41}{int(import_rss) / 1024:>13.1f}")


if __name__ == "__main__":
    main()
