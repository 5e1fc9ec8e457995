#!/usr/bin/env python3
"""Where a profiled worker's samples go, by owner: the share of each part of the core
(streams/classify, text, stories, rules …), of Rasid's wiring (streams/worker/*, per module),
and of faust, aiokafka, faust's sensors, prometheus-client and the event loop.

Usage:
    .venv/bin/python bench/spy_shares.py PROFILE.txt [PROFILE.txt …]

PROFILE is py-spy's raw (collapsed) output, as `bench/pipeline.py --profile F` and
`bench/rules_scale.py --profile P [--gil]` write it. A sample goes to the innermost frame
that is not the standard library (a core function's `collections.Counter` is the core's; a
coroutine waiting in asyncio is its caller's), except that any sample under faust's sensors
is theirs and any under prometheus-client or streams/metrics.py / worker/observe.py is the
metrics'; samples in `select` or idle threads are left out of the shares (printed apart).
Shares of samples are shares of wall time of the sampled threads, not of CPU: with `--gil`,
a thread that holds the GIL while the OS runs something else still collects samples, so a
short C call right after a system call can look far bigger than it is (measure a suspect
with `time.process_time` before acting on it). It asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

_FRAME = re.compile(r"(.*?) \((.*?)(?::\d+)?\)$")
IDLE = "idle (select, threads waiting)"


def _frame(text: str) -> tuple[str, str]:
    match = _FRAME.match(text)
    return (match.group(1), match.group(2)) if match else (text, "")


def owner(frames: list[str]) -> tuple[str, str | None]:
    """(the part a sample belongs to, the function that put it there)."""
    parsed = [_frame(f) for f in frames]
    files = [path for _, path in parsed]
    if any("faust/sensors" in path for path in files):
        return "faust sensors (PrometheusMonitor)", None
    leaf, leaf_path = parsed[-1]
    if leaf in ("EpollSelector.select", "_worker", "Condition.wait") or (
        "select" in leaf and leaf_path.startswith("selectors")
    ):
        return IDLE, None
    if any(
        "prometheus_client" in path or path.endswith(("streams/metrics.py", "worker/observe.py"))
        for path in files
    ):
        return "rasid metrics (prometheus-client)", None
    for function, path in reversed(parsed):
        short = path.split("site-packages/")[-1]
        head = short.split("/")[0].removesuffix(".py")
        if head in sys.stdlib_module_names or head.startswith("<"):
            continue
        if short.startswith("aiokafka"):
            return "aiokafka", function
        if short.startswith(("faust/tables", "mode/utils/collections")):
            return "faust tables", function
        if short.startswith(("faust/agents", "mode/", "streams/cli")):
            return "event loop, scheduling", function
        if short.startswith("faust"):
            return "faust (streams, topics, producer)", function
        if short.startswith("streams/worker/"):
            return f"wiring: {short.split('/')[-1]}", function
        if short.startswith("streams/"):
            return f"core: {short.split('/')[1].removesuffix('.py')}", function
        return f"other: {head}", function
    return "event loop, scheduling", None


def shares(path: Path) -> None:
    parts: Counter[str] = Counter()
    functions: defaultdict[str, Counter[str]] = defaultdict(Counter)
    total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        part, function = owner(stack.split(";"))
        parts[part] += n
        if function:
            functions[part][function] += n
    busy = total - parts[IDLE]
    print(f"{path}: {total} samples, {busy} busy ({parts[IDLE]} idle, left out)")
    for part, n in parts.most_common():
        if part == IDLE:
            continue
        top = ", ".join(f"{f} {c / busy:.1%}" for f, c in functions[part].most_common(3))
        print(f"  {n / busy:6.1%}  {part}" + (f"  [{top}]" if top else ""))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profiles", nargs="+", type=Path)
    for path in parser.parse_args().profiles:
        shares(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
