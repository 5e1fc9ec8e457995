"""Command-line options shared by several `rasid` commands."""

from __future__ import annotations

import argparse


def add_jsonl(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """--jsonl FILE: the offline commands' archive input (classify, stories, trends)."""
    parser.add_argument(
        "--jsonl",
        metavar="FILE",
        required=required,
        help="ANT records or raw-article objects, one per line (.gz read directly; '-': stdin)",
    )
