"""Engine benchmark: knowledge load time, per-turn latency, the safety check, and memory.

Runs on the bundled knowledge and on a synthetic knowledge base ten times larger (every
topic copied ten times with its own invented vocabulary), with a few thousand realistic
messages: every example phrasing (some with typos), the user turns of the conversation
scripts, follow-ups, red flags and off-topic messages. The safety check (reading the
message and evaluating every red flag, as each turn does first) is timed alone and within a
whole turn, on those messages and on 20,000-character ones (the most a turn reads): a
rambling message of ordinary worries, and messages crafted to stress pattern matching.

    python benchmarks/bench_engine.py [--messages 3000] [--runs 7]

Targets on a 2-core machine: load under 1 s, p99 per turn under 1 ms (the safety check
included), the larger knowledge costing less than twice as much per turn, and a
20,000-character message checked in under 20 ms.
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dialogue.convtest import load_scripts
from dialogue.engine import SAFETY_SCAN_CHARS, Engine, EngineOptions
from dialogue.loader import bundled_knowledge_dir, load_knowledge
from dialogue.model import Knowledge
from dialogue.replies import Incoming
from dialogue.safety import check
from dialogue.session import Session
from dialogue.storage import MemoryStore, SQLiteStore
from dialogue.understanding.reading import read_message

SYLLABLES = ["ka", "lo", "mi", "ne", "zu", "ri", "ta", "vo", "pe", "su", "qua", "dex", "bri", "tol", "fen"]


def invented_word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 4)))


def synthetic_knowledge(factor: int, into: Path) -> Path:
    """Copy the bundled knowledge and add (factor - 1) renamed copies of every topic."""
    rng = random.Random(7)
    shutil.copytree(bundled_knowledge_dir(), into / "knowledge")
    topics = []
    for path in sorted((bundled_knowledge_dir() / "topics").glob("*.yaml")):
        topics += yaml.safe_load(path.read_text()).get("topics", [])
    extra = []
    for copy in range(1, factor):
        for topic in topics:
            if not topic.get("examples"):
                continue  # a unit found by what it is about: its copies would have nothing to match
            words = [invented_word(rng) for _ in range(3)]
            clone = dict(topic)
            clone["id"] = f"{topic['id'][:30]}_x{copy}"
            clone["title"] = f"{topic['title']} ({' '.join(words)})"
            clone["examples"] = [f"{ex} {rng.choice(words)} {rng.choice(words)}" for ex in topic["examples"]]
            clone["related"] = []
            clone.pop("about", None)  # one unit per (drug, aspect): the copies are example-matched topics only
            extra.append(clone)
    (into / "knowledge" / "topics" / "zz_synthetic.yaml").write_text(yaml.safe_dump({"topics": extra}, sort_keys=False))
    return into / "knowledge"


def typo(text: str, rng: random.Random) -> str:
    words = text.split()
    i = rng.randrange(len(words))
    w = words[i]
    if len(w) > 5:
        j = rng.randrange(1, len(w) - 1)
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def realistic_messages(knowledge: Knowledge, count: int) -> list[str]:
    rng = random.Random(11)
    base: list[str] = []
    for topic in knowledge.topics.values():
        base += list(topic.examples)
        base += [typo(e, rng) for e in topic.examples[:2]]
    for script in load_scripts([ROOT / "tests" / "conversations"]):
        base += [str(t["user"]) for t in script.turns if "user" in t]
    base += [
        "and the side effects?", "what about if she is premenopausal?", "actually it's HER2 positive",
        "I have a fever of 38.7", "can't breathe", "what's the weather like", "hello", "thanks", "start over",
        "MY MUM IS ER+ HER2- AND POSTMENOPAUSAL WHAT NEXT???", "side affects of femera 😢",
    ]
    return [rng.choice(base) for _ in range(count)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_turns(knowledge: Knowledge, messages: list[str], audience: str = "clinician") -> list[float]:
    """Per-turn engine latency in ms, with conversations of ~6 turns carrying state."""
    engine = Engine(knowledge, EngineOptions(audience=audience, preview=True))
    times = []
    state = None
    gc.collect()
    for i, text in enumerate(messages):
        if i % 6 == 0:
            state = None
        start = time.perf_counter()
        turn = engine.step(state, Incoming(text=text), float(i))
        times.append((time.perf_counter() - start) * 1000)
        state = turn.state
    return times


def measure_session(knowledge: Knowledge, messages: list[str], store) -> list[float]:
    session = Session(Engine(knowledge, EngineOptions()), store)
    times = []
    for i, text in enumerate(messages):
        start = time.perf_counter()
        session.handle(f"c{i // 6}", Incoming(text=text))
        times.append((time.perf_counter() - start) * 1000)
    return times


def rambling_message(messages: list[str], chars: int = SAFETY_SCAN_CHARS) -> str:
    """One long message of ordinary questions and worries run together, as some people write."""
    rng = random.Random(13)
    joiners = [". ", ", and ", " but ", "... ", "? ", " also ", "\n"]
    parts: list[str] = []
    size = 0
    while size < chars:
        parts.append(rng.choice(messages) + rng.choice(joiners))
        size += len(parts[-1])
    return "".join(parts)[:chars]


CRAFTED = {  # messages made to stress pattern matching and the reading of a message
    "one letter": "a" * SAFETY_SCAN_CHARS,
    "one word repeated": "fever " * (SAFETY_SCAN_CHARS // 6),
    "negations repeated": "no fever " * (SAFETY_SCAN_CHARS // 9),
    "numbers repeated": "38.5 " * (SAFETY_SCAN_CHARS // 5),
}


def measure_safety(knowledge: Knowledge, messages: list[str]) -> list[float]:
    """The safety check alone, in ms: read the message, evaluate every red flag (as each turn does first)."""
    locale = knowledge.locales["us"]
    times = []
    gc.collect()
    for text in messages:
        start = time.perf_counter()
        check(knowledge, read_message(text, SAFETY_SCAN_CHARS), locale)
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure_long(knowledge: Knowledge, text: str, runs: int) -> tuple[list[float], list[float]]:
    """(safety check, whole turn) in ms for one long message, each a fresh conversation, ``runs`` times."""
    engine = Engine(knowledge, EngineOptions(audience="patient"))
    checks = measure_safety(knowledge, [text] * runs)
    turns = []
    for i in range(runs):
        start = time.perf_counter()
        engine.step(None, Incoming(text=text), float(i))
        turns.append((time.perf_counter() - start) * 1000)
    return checks, turns


def load_time(dirs: list[Path] | None, include_bundled: bool, repeats: int = 3) -> tuple[float, Knowledge]:
    best = float("inf")
    knowledge = None
    for _ in range(repeats):
        start = time.perf_counter()
        knowledge = load_knowledge(dirs, include_bundled=include_bundled)
        best = min(best, time.perf_counter() - start)
    assert knowledge is not None
    return best, knowledge


def knowledge_memory(dirs: list[Path] | None, include_bundled: bool) -> float:
    gc.collect()
    tracemalloc.start()
    knowledge = load_knowledge(dirs, include_bundled=include_bundled)
    gc.collect()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del knowledge
    return size / 1e6


def report(label: str, times: list[float], unit: str = "turns", width: int = 34) -> str:
    return (f"{label:<{width}} median {statistics.median(times):.3f} ms   p99 {percentile(times, 0.99):.3f} ms   "
            f"max {max(times):.3f} ms   ({len(times)} {unit})")


SAFETY_WIDTH = 52


def report_runs(label: str, times: list[float]) -> str:
    return f"{label:<{SAFETY_WIDTH}} median {statistics.median(times):.1f} ms   max {max(times):.1f} ms   ({len(times)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=7, help="runs of each 20,000-character message (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big_dir = synthetic_knowledge(10, Path(tmp))
        load_small, small = load_time(None, True)
        load_big, big = load_time([big_dir], False)
        messages = realistic_messages(small, args.messages)
        mem_small = knowledge_memory(None, True)
        mem_big = knowledge_memory([big_dir], False)
        measure_turns(small, messages[:300])  # warm-up: typo cache, first-render caches
        measure_turns(big, messages[:300])
        small_times = measure_turns(small, messages)
        big_times = measure_turns(big, messages)
        patient_times = measure_turns(small, messages, "patient")
        mem_times = measure_session(small, messages[:1000], MemoryStore())
        sqlite_times = measure_session(small, messages[:1000], SQLiteStore(Path(tmp) / "bench.db"))
        measure_safety(small, messages[:300])  # warm-up
        safety_times = measure_safety(small, messages)
        rambling = rambling_message(messages)
        long_times = {"rambling": measure_long(small, rambling, args.runs)}
        for name, text in CRAFTED.items():
            long_times[name] = measure_long(small, text, args.runs)

    ratio = statistics.median(big_times) / statistics.median(small_times)
    p99_ratio = percentile(big_times, 0.99) / percentile(small_times, 0.99)
    print(f"knowledge: bundled {len(small.topics)} topics / {sum(len(t.examples) for t in small.topics.values())} examples; "
          f"synthetic x10 {len(big.topics)} topics / {sum(len(t.examples) for t in big.topics.values())} examples")
    print(f"load time: bundled {load_small * 1000:.0f} ms, x10 {load_big * 1000:.0f} ms   (target < 1000 ms)")
    print(f"memory (compiled knowledge): bundled {mem_small:.1f} MB, x10 {mem_big:.1f} MB")
    print(report("engine turn, bundled, clinician", small_times))
    print(report("engine turn, bundled, patient", patient_times))
    print(report("engine turn, x10 knowledge", big_times))
    print(f"x10 / bundled per turn: median {ratio:.2f}x, p99 {p99_ratio:.2f}x   (target < 2x)")
    print(report("session turn, memory store", mem_times))
    print(report("session turn, SQLite store", sqlite_times))
    print("safety check (read the message, every red flag), bundled knowledge:")
    print(report("  safety check, ordinary messages", safety_times, "messages", SAFETY_WIDTH))
    print(report("  whole turn, ordinary messages", small_times, width=SAFETY_WIDTH))
    print(f"  share of a turn spent on safety: median {statistics.median(safety_times) / statistics.median(small_times):.0%}")
    for name, (checks, turns) in long_times.items():
        label = "20,000-char rambling message" if name == "rambling" else f"20,000 chars, {name}"
        print(report_runs(f"  safety check, {label}", checks) + ("   (target < 20 ms)" if name == "rambling" else ""))
        print(report_runs(f"  whole turn, {label}", turns))


if __name__ == "__main__":
    main()
