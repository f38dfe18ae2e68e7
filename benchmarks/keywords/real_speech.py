"""Real human speech: how trained keyword runs do on recordings of people, not eSpeak.

The speech is the test data that PocketSphinx ships in its source distribution on PyPI
(``pocketsphinx-5.1.1.tar.gz``, BSD 2-clause, Carnegie Mellon University; the LibriVox reading is
in the public domain). Nothing is copied into this repository: the script reads the files out of
the tarball (or an unpacked copy), and says how to get it when it is absent::

    pip download --no-deps --no-binary :all: pocketsphinx==5.1.1 -d /tmp/sciarch-real-speech

(pip builds the package's metadata, which takes a few minutes; the tarball is what is needed).
The files, 53 s of speech by at least four speakers, none of them heard in training:

- ``test/data/goforward.raw``, ``something.raw``, ``numbers.raw`` (CMU, 16 kHz raw PCM):
  "go forward ten meters", "go somewhere and do something", "thirty three four or six ninety two";
- ``test/data/forever/input_2_16k.wav``, ``input_4_16k.wav``: "feels like these days go on forever";
- ``test/data/cards/001-005.wav``: playing cards ("eight of spades four of clubs seven of hearts");
- ``test/data/librivox/sense_and_sensibility_01_austen_64kb-08{70,80,90}/-09{20,30}.wav``: five
  sentences read from *Sense and Sensibility* (LibriVox), with word times in the ``.json`` beside each.

Word times: the LibriVox ``.json`` files as shipped; for the others ``real_speech_labels.csv``
beside this script, made once by PocketSphinx's forced alignment of the transcripts (the package's
own tests, ``cards.transcription``, or, for three files, its decoder's hypothesis, marked there).
The keywords among them are few (``go`` 4 times, ``on`` twice); the 118 other words (``do``, ``not``,
``of``, ``four``, ``for``, ``forward`` …) are what the check says most about: real words that a model
must not take for keywords.

Three scores per run:

- **words in context**: the whole recording goes through the model; a word counts as heard as
  keyword *k* if *k*'s posterior (smoothed as the run's detector smooths) reaches the threshold
  between 50 ms before and 350 ms after the word's end. A keyword is right if its own keyword is the
  highest there and reaches the threshold; another word is a false alarm if any keyword reaches it.
- **isolated clips**: each word cut out (±100 ms) and centred in a 1 s clip, classified as the
  test split is (peak posterior over the clip) — the Speech Commands setting.
- **detections**: ``detect`` over each recording at the threshold, scored against the word times
  (hits, false alarms).

    python benchmarks/keywords/real_speech.py --run base=RUN [--run other=RUN2] [--source TARBALL]

Writes benchmarks/results/keywords_real_speech.json and .md (``--out`` for another name).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from common import RESULTS, loadavg, machine  # noqa: E402

PACKAGE = "pocketsphinx-5.1.1"
TARBALL = f"{PACKAGE}.tar.gz"
DEFAULT_PLACES = [Path("/tmp/sciarch-real-speech"), Path.home() / ".cache" / "sciarch" / "real-speech"]
LABELS = Path(__file__).with_name("real_speech_labels.csv")
LIBRIVOX = [f"librivox/sense_and_sensibility_01_austen_64kb-0{n}" for n in (870, 880, 890, 920, 930)]
HOW_TO_GET = (f"pip download --no-deps --no-binary :all: pocketsphinx==5.1.1 -d {DEFAULT_PLACES[0]}  "
              f"(then pass --source {DEFAULT_PLACES[0] / TARBALL}, or leave it there)")
RATE = 16000


@dataclass
class Word:
    word: str
    start_s: float
    end_s: float


@dataclass
class Recording:
    name: str
    wave: np.ndarray  # float32, 16 kHz
    words: list[Word]
    sha256: str


class Source:
    """The test data of the PocketSphinx sdist, read from its tarball or an unpacked folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tar = tarfile.open(path) if path.is_file() else None  # noqa: SIM115 (open for the run)
        if self.tar is None and not (path / "test" / "data").is_dir():
            nested = path / PACKAGE
            if (nested / "test" / "data").is_dir():
                self.path = nested
            else:
                raise FileNotFoundError(f"{path}: neither {TARBALL} nor an unpacked {PACKAGE} folder")

    def read(self, relative: str) -> bytes:
        if self.tar is not None:
            member = self.tar.extractfile(f"{PACKAGE}/test/data/{relative}")
            if member is None:
                raise FileNotFoundError(relative)
            return member.read()
        return (self.path / "test" / "data" / relative).read_bytes()


def find_source(given: Path | None) -> Path | None:
    candidates = [given] if given else []
    if os.environ.get("SCIARCH_REAL_SPEECH"):
        candidates.append(Path(os.environ["SCIARCH_REAL_SPEECH"]))
    for place in DEFAULT_PLACES:
        candidates += [place / TARBALL, place / PACKAGE]
    for candidate in candidates:
        if candidate and candidate.exists():
            return candidate
    return None


def decode(relative: str, data: bytes) -> np.ndarray:
    import soundfile as sf

    if relative.endswith(".raw"):
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    wave, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    if rate != RATE:
        raise ValueError(f"{relative}: {rate} Hz, expected {RATE}")
    return wave


def load_recordings(source: Source) -> list[Recording]:
    by_file: dict[str, list[Word]] = {}
    with open(LABELS, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            by_file.setdefault(row["file"], []).append(Word(row["word"], float(row["start_s"]), float(row["end_s"])))
    for stem in LIBRIVOX:
        aligned = json.loads(source.read(stem + ".json"))
        by_file[stem + ".wav"] = [Word(w["t"].split("(")[0], float(w["b"]), float(w["b"]) + float(w["d"]))
                                  for w in aligned["w"] if not w["t"].startswith(("<", "["))]
    out = []
    for relative, words in by_file.items():
        data = source.read(relative)
        out.append(Recording(relative, decode(relative, data), words, hashlib.sha256(data).hexdigest()))
    return out


def word_windows(posteriors: np.ndarray, recording: Recording, hop_s: float) -> list[tuple[int, int]]:
    """Frame ranges [a, b) from 50 ms before to 350 ms after each word's end."""
    frames = posteriors.shape[0]
    return [(max(0, int((w.end_s - 0.05) / hop_s)), min(frames, int(np.ceil((w.end_s + 0.35) / hop_s))))
            for w in recording.words]


def score_run(name: str, run_dir: Path, recordings: list[Recording], threshold: float | None) -> dict:
    import sciarch
    import torch
    from sciarch_datasets.audio.continuous import Event
    from sciarch_keywords.detection import detect, frame_posteriors, score_detections, smooth

    run = sciarch.Run(run_dir)
    summary = run.summary
    task = run.load_task()
    model = task.model.cpu().eval()
    classes = list(task.class_names)
    keywords = list(task.keywords)
    ids = np.asarray([classes.index(k) for k in keywords])
    saved = getattr(task, "detection_threshold", 0.5)
    threshold = float(saved if threshold is None else threshold)
    hop_s = model.frontend.hop_length / model.frontend.sample_rate
    started_cpu, started = time.process_time(), time.time()

    context_rows, clip_rows, detections = [], [], {"keywords": 0, "hits": 0, "false_alarms": 0}
    seconds = 0.0
    for rec in recordings:
        seconds += rec.wave.shape[0] / RATE
        posteriors = frame_posteriors(model, rec.wave)
        scores = smooth(posteriors[:, ids].astype(np.float64), task.smooth_frames)
        windows = word_windows(posteriors, rec, hop_s)
        keyword_frames = np.zeros(scores.shape[0], dtype=bool)
        for w, (a, b) in zip(rec.words, windows, strict=True):
            if w.word in keywords:
                keyword_frames[a:b] = True
        for w, (a, b) in zip(rec.words, windows, strict=True):
            inside = np.arange(a, b)
            if w.word not in keywords:  # frames where a keyword may rightly fire do not count against others
                inside = inside[~keyword_frames[a:b]]
            if inside.size == 0:
                continue
            peak = scores[inside].max(axis=0)
            best = int(np.argmax(peak))
            context_rows.append({"file": rec.name, "word": w.word, "end_s": w.end_s,
                                 "heard": keywords[best] if peak[best] >= threshold else "-",
                                 "best_keyword": keywords[best], "peak": round(float(peak[best]), 4),
                                 "own_peak": round(float(peak[keywords.index(w.word)]), 4)
                                 if w.word in keywords else None})
        found = detect(posteriors, classes, keywords, threshold=threshold, refractory_s=task.refractory_s,
                       hop_s=hop_s, smooth_frames=task.smooth_frames)
        events = [Event(w.word, w.start_s, w.end_s, "", w.word in keywords) for w in rec.words]
        scored = score_detections(found, events, rec.wave.shape[0] / RATE / 3600, keywords=keywords)
        for key in detections:
            detections[key] += scored[key]
        # isolated clips, centred in 1 s (longer words keep their last second)
        clips = []
        for w in rec.words:
            a, b = max(0, int((w.start_s - 0.1) * RATE)), min(rec.wave.shape[0], int((w.end_s + 0.1) * RATE))
            piece = rec.wave[a:b][-RATE:]
            clip = np.zeros(RATE, dtype=np.float32)
            offset = (RATE - piece.shape[0]) // 2
            clip[offset: offset + piece.shape[0]] = piece
            clips.append(clip)
        with torch.inference_mode():
            logits = model(torch.from_numpy(np.stack(clips)))
            old = task.detection_threshold
            task.detection_threshold = threshold
            predicted = task.clip_scores(logits).argmax(dim=1).tolist()
            task.detection_threshold = old
        for w, p in zip(rec.words, predicted, strict=True):
            clip_rows.append({"file": rec.name, "word": w.word, "predicted": classes[p]})

    def rates(rows: list[dict], heard: str) -> dict:
        kw = [r for r in rows if r["word"] in keywords]
        other = [r for r in rows if r["word"] not in keywords]
        right = sum(r[heard] == r["word"] for r in kw)
        taken = [r for r in other if r[heard] in keywords]
        return {"keyword_words": len(kw), "keywords_right": right,
                "keyword_accuracy": right / len(kw) if kw else None,
                "other_words": len(other), "other_taken_for_keyword": len(taken),
                "other_taken_rate": len(taken) / len(other) if other else None,
                "taken_as": sorted({f"{r['word']}→{r[heard]}" for r in taken})}

    context = rates(context_rows, "heard")
    own = [r["own_peak"] for r in context_rows if r["own_peak"] is not None]
    context["median_own_peak"] = float(np.median(own)) if own else None
    missed = [f"{r['word']}@{r['file']}→{r['heard']}" for r in context_rows
              if r["word"] in keywords and r["heard"] != r["word"]]
    context["keywords_missed"] = missed
    return {
        "name": name, "run": str(run_dir), "threshold": threshold, "smooth_frames": task.smooth_frames,
        "synthetic_test_accuracy": summary.get("test", {}).get("test/acc"), "epochs": summary.get("epochs"),
        "train_seconds": summary.get("train_seconds"), "trained_with": summary.get("command"),
        "words_in_context": context, "isolated_clips": rates(clip_rows, "predicted"),
        "detections": {**detections, "audio_seconds": round(seconds, 1),
                       "false_alarms_per_hour": detections["false_alarms"] / (seconds / 3600)},
        "scoring_seconds": round(time.time() - started, 1),
        "scoring_cpu_seconds": round(time.process_time() - started_cpu, 1),
        "context_rows": context_rows,
    }


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def table(runs: list[dict]) -> list[str]:
    lines = ["| run | synthetic test acc. (held-out voices) | training | threshold | keywords right, in context | other words taken for a keyword, in context | "
             "median own peak | keywords right, isolated clips | other words taken, isolated clips | "
             "detections: hits / keywords, false alarms (per hour) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        c, i, d = r["words_in_context"], r["isolated_clips"], r["detections"]
        own = "–" if c["median_own_peak"] is None else f"{c['median_own_peak']:.2f}"
        acc = "–" if r["synthetic_test_accuracy"] is None else f"{100 * r['synthetic_test_accuracy']:.1f} %"
        trained = (f"{r['epochs']} ep., {r['train_seconds'] / 60:.0f} min" if r.get("train_seconds") and r.get("epochs")
                   else "–")
        lines.append(
            f"| {r['name']} | {acc} | {trained} | {r['threshold']:.2f} | {c['keywords_right']}/{c['keyword_words']} | "
            f"{c['other_taken_for_keyword']}/{c['other_words']} ({pct(c['other_taken_rate'])}) | {own} | "
            f"{i['keywords_right']}/{i['keyword_words']} | {i['other_taken_for_keyword']}/{i['other_words']} "
            f"({pct(i['other_taken_rate'])}) | {d['hits']}/{d['keywords']}, {d['false_alarms']} "
            f"({d['false_alarms_per_hour']:.0f}/h) |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="NAME=RUN_DIR")
    parser.add_argument("--source", type=Path, default=None,
                        help=f"{TARBALL} or its unpacked folder (default: $SCIARCH_REAL_SPEECH, "
                             f"then {DEFAULT_PLACES[0]})")
    parser.add_argument("--threshold", type=float, default=None, help="default: the run's detection threshold")
    parser.add_argument("--out", type=Path, default=RESULTS / "keywords_real_speech")
    parser.add_argument("--note", default="", help="a line written under the table")
    args = parser.parse_args()

    found = find_source(args.source)
    if found is None:
        print(f"SKIPPED: the real speech ({TARBALL}, PocketSphinx's test data) is not here. Get it with:\n  "
              f"{HOW_TO_GET}")
        return
    import torch

    torch.set_num_threads(1)
    recordings = load_recordings(Source(found))
    result = {"benchmark": "keywords: real human speech (PocketSphinx 5.1.1 sdist test data)",
              "machine": machine(threads=1), "source": str(found),
              "command": "python benchmarks/keywords/real_speech.py " + " ".join(sys.argv[1:]),
              "files": {r.name: {"sha256": r.sha256, "seconds": round(r.wave.shape[0] / RATE, 2),
                                 "words": " ".join(w.word for w in r.words)} for r in recordings},
              "runs": []}
    for item in args.run:
        name, _, path = item.partition("=")
        run = score_run(name, Path(path), recordings, args.threshold)
        result["runs"].append(run)
        shown = {k: v for k, v in run.items() if k != "context_rows"}
        print(json.dumps(shown, indent=1, default=str))
    result["machine"]["loadavg_at_end"] = loadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    m = result["machine"]
    seconds = sum(v["seconds"] for v in result["files"].values())
    lines = ["# Keyword spotting on real human speech", "",
             f"Speech: the test data of the PocketSphinx 5.1.1 source distribution on PyPI (BSD 2-clause; "
             f"the LibriVox reading is public domain), {len(recordings)} recordings, {seconds:.0f} s, "
             "several speakers never heard in training; read from the tarball, not copied here. "
             "Word times: LibriVox alignments as shipped, the rest `benchmarks/keywords/real_speech_labels.csv` "
             "(PocketSphinx forced alignment). See the script's docstring for what each column counts.", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, 1 thread; load average {m['loadavg_at_start']} → "
             f"{m['loadavg_at_end']}. torch {m['torch']}, {m['date']}, commit {m['commit']}.", "",
             f"Command: `{result['command']}`", "", *table(result["runs"])]
    if args.note:
        lines += ["", args.note]
    lines += ["", "Keywords in the speech: " + ", ".join(
        f"{r['word']} ({r['file']})" for r in result["runs"][0]["context_rows"] if r["own_peak"] is not None) + "."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
