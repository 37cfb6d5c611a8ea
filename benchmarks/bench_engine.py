"""Engine benchmark: knowledge load time, per-turn latency and memory.

Runs on the bundled knowledge and on a synthetic knowledge base ten times larger (every
topic copied ten times with its own invented vocabulary), with a few thousand realistic
messages: every example phrasing (some with typos), the user turns of the conversation
scripts, follow-ups, red flags and off-topic messages.

    python benchmarks/bench_engine.py [--messages 3000]

Targets on a 2-core machine: load under 1 s, p99 per turn under 1 ms, and the larger
knowledge costing less than twice as much per turn.
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
from dialogue.engine import Engine, EngineOptions
from dialogue.loader import bundled_knowledge_dir, load_knowledge
from dialogue.model import Knowledge
from dialogue.replies import Incoming
from dialogue.session import Session
from dialogue.stores import MemoryStore, SQLiteStore

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
            words = [invented_word(rng) for _ in range(3)]
            clone = dict(topic)
            clone["id"] = f"{topic['id'][:30]}_x{copy}"
            clone["title"] = f"{topic['title']} ({' '.join(words)})"
            clone["examples"] = [f"{ex} {rng.choice(words)} {rng.choice(words)}" for ex in topic["examples"]]
            clone["related"] = []
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


def report(label: str, times: list[float]) -> str:
    return (f"{label:<34} median {statistics.median(times):.3f} ms   p99 {percentile(times, 0.99):.3f} ms   "
            f"max {max(times):.3f} ms   ({len(times)} turns)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
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


if __name__ == "__main__":
    main()
