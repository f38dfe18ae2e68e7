"""How ``real_speech_labels_packages.csv`` was made: PocketSphinx forced alignment of known transcripts.

Each file's transcript is its words in the csv, in order (they came from the places its
``transcript_from`` column names: the package's tests, its docs, TextGrids beside the audio, file
names, the CMU ARCTIC prompts). Runs outside the project's environment, in a venv of its own::

    python -m venv /tmp/psenv && /tmp/psenv/bin/pip install pocketsphinx==5.1.1 soundfile scipy
    /tmp/psenv/bin/python benchmarks/keywords/real_speech_align.py [--only FILE ...] [--write]

Without ``--write`` it re-aligns and prints how far each word's end moved (a check that the csv
is what the aligner gives); with it, the csv is rewritten. The sdists are found as
``real_speech.py`` finds them.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from real_speech import PACKAGE_LABELS, Source, decode, find_sources  # noqa: E402

# words the PocketSphinx US English dictionary lacks (ARPAbet, written here)
PRONUNCIATIONS = {"aligner": "AH L AY N ER", "beauty's": "B Y UW T IY Z", "buriest": "B EH R IY IH S T",
                  "churl": "CH ER L", "feed'st": "F IY D S T", "glutton": "G L AH T AH N", "mak'st": "M EY K S T",
                  "niggarding": "N IH G ER D IH NG", "poofy": "P UW F IY", "pooty": "P UW T IY",
                  "puddy": "P AH D IY", "riper": "R AY P ER", "yknow": "Y N OW"}
WIDE = {"beam": 1e-100, "wbeam": 1e-80, "pbeam": 1e-100}  # for the files the default beams fail on


def align(wave: np.ndarray, words: list[str]) -> list[tuple[str, float, float]] | None:
    from pocketsphinx import Decoder

    pcm = (np.clip(wave, -1, 1) * 32767).astype("<i2").tobytes()
    for beams in ({}, WIDE):
        decoder = Decoder(loglevel="FATAL", bestpath=False, **beams)
        for word, phones in PRONUNCIATIONS.items():
            decoder.add_word(word, phones, True)
        decoder.set_align_text(" ".join(words))
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        segments = decoder.seg()
        if segments is None:
            continue
        got = [(s.word.split("(")[0], s.start_frame / 100, (s.end_frame + 1) / 100) for s in segments
               if not s.word.startswith(("<", "["))]
        if [g[0] for g in got] == words:
            return got
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=None, help="files (paths inside their sdist) to align")
    parser.add_argument("--write", action="store_true", help="rewrite the csv with the new times")
    parser.add_argument("--source", type=Path, action="append", default=None)
    args = parser.parse_args()
    with open(PACKAGE_LABELS, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found = find_sources(args.source)
    sources = {key: Source(path, key) for key, path in found.items()}
    files = list(dict.fromkeys((r["source"], r["file"]) for r in rows))
    moved = []
    for key, relative in files:
        if args.only is not None and relative not in args.only:
            continue
        if key not in sources:
            print(f"skipped {key}/{relative}: sdist not here")
            continue
        mine = [r for r in rows if (r["source"], r["file"]) == (key, relative)]
        got = align(decode(relative, sources[key].read(relative)), [r["word"] for r in mine])
        if got is None:
            print(f"FAILED {key}/{relative}: the aligner found no path through the transcript")
            continue
        shift = [abs(float(r["end_s"]) - b) for r, (_, _, b) in zip(mine, got, strict=True)]
        moved += shift
        print(f"{key}/{relative}: {len(got)} words, word ends moved at most {max(shift) * 1000:.0f} ms")
        for r, (_, a, b) in zip(mine, got, strict=True):
            r["start_s"], r["end_s"] = f"{a:.2f}", f"{b:.2f}"
    if moved:
        print(f"{len(moved)} words, median move {np.median(moved) * 1000:.0f} ms")
    if args.write:
        with open(PACKAGE_LABELS, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
