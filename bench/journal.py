"""The trend journal's garbage ratio (streams/trends/journal.py `RATIO`): what each ratio holds
and what its compaction costs, on the trend stage's real writes.

    .venv/bin/python bench/journal.py [--ratios 2,1.5,1.25,1] [--batch 10] [--repeat 3] [--cycles 3]

ANT's trend inputs (bench/trends.py's, cached in .cache/bench) go through the worker's trend
stage in publication order (`detect`, the replay guard included), --cycles times with the
clock moved on by the corpus's span and story ids renamed each time (so keys keep changing, as
in a long run), and
every --batch articles the detector's changes (`take_changes`, one write per candidate
message in the worker) are kept. Each ratio then writes the same changes through a fresh
`Journal` onto a dict standing for the table, timed (CPU, the fastest of --repeat) without the
detector: µs per article of `Journal.write`, the table bytes written per article (what the
changelog carries; compaction's copies included), and the journal's entry bytes against its
live bytes (mean and largest over the writes, and at the end). Checks that the table restores
the detector's final state under every ratio. Prints figures; skips when the corpus is absent.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from trends import DEFAULT_CORPUS, cached_inputs, detector_input

from streams.settings import Settings
from streams.trends.detector import TrendDetector
from streams.trends.journal import Journal
from streams.worker.trend_stage import detect

Changes = list[tuple[str, bytes | None]]


def changes_of(
    corpus: Path, batch: int, cycles: int
) -> tuple[list[Changes], dict[str, bytes], int]:
    """Every write's changes, the detector's final state, the articles fed."""
    settings = Settings()
    fed = detector_input(cached_inputs(corpus, settings), settings)
    span = fed[-1][0] - fed[0][0] + 3600
    detector = TrendDetector()
    writes: list[Changes] = []
    n = 0
    for cycle in range(cycles):
        for at, events in fed:
            shift = cycle * span  # a new story id per pass: the replay guard would skip it
            moved = [
                (replace(event, at=event.at + shift, story_id=f"{event.story_id}.{cycle}"), keys)
                for event, keys in events
            ]
            detect(detector, at + shift, moved)
            n += 1
            if n % batch == 0:
                writes.append(detector.take_changes())
    writes.append(detector.take_changes())
    return writes, detector.to_state(), n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--ratios", default="2,1.5,1.25,1")
    ap.add_argument("--batch", type=int, default=10, help="articles per write")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cycles", type=int, default=3, help="passes over the corpus")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    writes, state, n = changes_of(corpus, args.batch, args.cycles)
    live = sum(len(k.encode()) + 8 + len(v) for k, v in state.items()) / 1e6
    print(
        f"{n:,} articles, {len(writes):,} writes, {len(state):,} keys ({live:.1f} MB live at the end)"
    )
    print(
        "ratio  µs/article  table KB/article  journal MB mean / max / end  live MB end  same state"
    )
    for ratio in (float(r) for r in args.ratios.split(",")):
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            journal, table = Journal(ratio=ratio), {}
            written, total, peak = 0, 0, 0
            cpu = 0.0
            for changes in writes:
                started = time.process_time()
                out = journal.write(changes)
                cpu += time.process_time() - started
                for key, value in out:
                    if value is None:
                        table.pop(key, None)
                    else:
                        table[key] = value
                        written += len(value)
                size = journal.stats()["bytes"]
                total += size
                peak = max(peak, size)
            best = min(best, cpu)
        stats = journal.stats()
        same = Journal().restore(table.items()) == state
        print(
            f"{ratio:5.2f}  {1e6 * best / n:10.1f}  {written / n / 1e3:16.1f}"
            f"  {total / len(writes) / 1e6:10.1f} / {peak / 1e6:.1f} / {stats['bytes'] / 1e6:.1f}"
            f"  {stats['live_bytes'] / 1e6:11.1f}  {same}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
