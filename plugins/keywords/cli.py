"""``sciarch keywords …``: listen, export, generate a corpus, record a test recording, score a run.

Only click is imported here; torch and the rest load inside each command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

RUN_HELP = "A run directory (or a checkpoint in one) of a keywords/wavenet recipe."


@click.group("keywords")
def keywords() -> None:
    """Keyword spotting: listen to audio, export models, make test audio."""


@keywords.command("listen")
@click.argument("audio", type=click.Path(path_type=Path, allow_dash=True))
@click.option("--run", "--checkpoint", "run", required=True, type=click.Path(path_type=Path), help=RUN_HELP)
@click.option("--threshold", type=float, default=None,
              help="Posterior a keyword must reach (default: the run's calibrated threshold, else 0.5).")
@click.option("--refractory", type=float, default=0.5, show_default=True,
              help="Seconds after a detection during which no other is made.")
@click.option("--smooth", type=int, default=None,
              help="Frames (10 ms) of posterior moving average (default: the run's, the end-of-keyword label span).")
@click.option("--stream", is_flag=True,
              help="Read raw 16-bit little-endian mono PCM at 16 kHz from standard input (AUDIO: -) and print "
                   "detections as they happen.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per detection on standard output.")
@click.option("--vad", is_flag=True,
              help="Keep only detections made while someone speaks (Silero VAD, from its wheel; files only).")
def listen_command(audio: Path, run: Path, threshold: float | None, refractory: float, smooth: int | None,
                   stream: bool, as_json: bool, vad: bool) -> None:
    """Print the keywords heard in AUDIO (a WAV file), with their times."""
    import sciarch

    from .enroll import calibrated_threshold
    from .listen import listen_file, listen_stream, load_model, print_detection

    model, class_names, smooth_frames = load_model(run)
    if threshold is None:
        threshold = calibrated_threshold(run)
        if threshold is not None:
            sciarch.console.print(f"threshold {threshold:g} (calibrated, {run}/calibration.json)")
        else:
            threshold = 0.5
    smooth_frames = smooth if smooth is not None else smooth_frames

    def show(detection) -> None:
        if as_json:
            click.echo(json.dumps({"time_s": round(detection.time_s, 2), "word": detection.word,
                                   "score": round(detection.score, 4)}))
            sys.stdout.flush()
        else:
            print_detection(detection)

    if stream:
        if vad:
            raise sciarch.UsageError("--vad gates detections in files; it does not run with --stream")
        if str(audio) != "-":
            raise sciarch.UsageError("--stream reads standard input: pass - as AUDIO")
        hops = listen_stream(model, class_names, sys.stdin.buffer, on_detection=show, threshold=threshold,
                             refractory_s=refractory, smooth_frames=smooth_frames)
        sciarch.console.print(f"listened to {hops * model.frontend.hop_length / model.frontend.sample_rate:.2f} s")
        return
    found, seconds = listen_file(model, class_names, audio, threshold=threshold, refractory_s=refractory,
                                 smooth_frames=smooth_frames)
    if vad:
        from sciarch_datasets.audio.wav import read_clip

        from .vad import gate, speech_probabilities

        wave = read_clip(audio, sciarch.BadRecords(source=str(audio), strict=True), rate=16000)
        before = len(found)
        found = gate(found, speech_probabilities(wave))
        sciarch.console.print(f"voice-activity gate: kept {len(found)} of {before} detection(s)")
    for detection in found:
        show(detection)
    sciarch.console.print(f"{len(found)} detection(s) in {seconds:.2f} s of audio")


@keywords.command("export")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--onnx", "onnx_path", type=click.Path(path_type=Path), default=None,
              help="Write the waveform→posteriors model as ONNX here.")
@click.option("--torchscript", "ts_path", type=click.Path(path_type=Path), default=None,
              help="Write the waveform→posteriors model as TorchScript here.")
@click.option("--streaming-onnx", "stream_path", type=click.Path(path_type=Path), default=None,
              help="Write the one-hop streaming step (caches as inputs/outputs) as ONNX here.")
def export_command(run: Path, onnx_path: Path | None, ts_path: Path | None, stream_path: Path | None) -> None:
    """Export RUN's model for devices; each export is checked against PyTorch."""
    import sciarch

    from .export import export_onnx, export_streaming_onnx, export_torchscript

    if not (onnx_path or ts_path or stream_path):
        raise sciarch.UsageError("choose at least one of --onnx, --torchscript, --streaming-onnx")
    task = sciarch.Run(run).load_task()
    model = task.model.cpu().eval()
    results = {}
    if onnx_path:
        results["onnx"] = export_onnx(model, onnx_path)
    if ts_path:
        results["torchscript"] = export_torchscript(model, ts_path)
    if stream_path:
        results["streaming_onnx"] = export_streaming_onnx(model, stream_path)
    for kind, result in results.items():
        sciarch.console.print(f"{kind}: {result['path']} (max abs diff against PyTorch {result['max_abs_diff']:.2e})")
    click.echo(json.dumps({"classes": task.class_names, **results}, indent=2))


@keywords.command("generate")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--accents", default=None, help="Comma-separated eSpeak NG English accents (default: all eight).")
@click.option("--val-variants", type=int, default=10, show_default=True)
@click.option("--test-variants", type=int, default=15, show_default=True)
@click.option("--max-voices", default=None, metavar="TRAIN,VAL,TEST",
              help="At most this many voices per split (default: every accent × variant of the split).")
@click.option("--keywords", "keyword_list", default=None, help="Comma-separated keywords (default: the ten commands).")
@click.option("--takes", type=int, default=1, show_default=True, help="Utterances of each keyword per voice.")
@click.option("--fillers-per-voice", type=int, default=4, show_default=True)
@click.option("--noise-dir", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="A folder of real noise recordings to add to _background_noise_.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Synthesising processes.")
def generate_command(out: Path, accents: str | None, val_variants: int, test_variants: int, max_voices: str | None,
                     keyword_list: str | None, takes: int, fillers_per_voice: int, noise_dir: Path | None, seed: int,
                     workers: int) -> None:
    """Write a synthesised corpus in the Speech Commands layout to OUT."""
    import sciarch
    from sciarch_datasets.audio import COMMANDS, OTHER_WORDS
    from sciarch_datasets.audio.espeak import ENGLISH_ACCENTS
    from sciarch_datasets.audio.tts import TTSSettings, generate_corpus

    caps: tuple = (None, None, None)
    if max_voices:
        try:
            caps = tuple(int(x) for x in max_voices.split(","))
            assert len(caps) == 3
        except (ValueError, AssertionError):
            raise sciarch.UsageError(f"--max-voices: expected TRAIN,VAL,TEST counts, got {max_voices!r}") from None
    keywords = tuple(keyword_list.split(",")) if keyword_list else COMMANDS
    settings = TTSSettings(keywords=keywords, fillers=tuple(w for w in OTHER_WORDS if w not in keywords),
                           accents=tuple(accents.split(",")) if accents else ENGLISH_ACCENTS,
                           val_variants=val_variants, test_variants=test_variants, max_voices=caps, takes=takes,
                           fillers_per_voice=fillers_per_voice, seed=seed)
    meta = generate_corpus(out, settings, noise_dir=noise_dir, workers=workers)
    sciarch.console.print(f"{out}: {meta['clips']} clips; noise: {', '.join(meta['noise'])}")


@keywords.command("record")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--minutes", type=float, default=2.0, show_default=True)
@click.option("--keyword-rate", type=float, default=0.35, show_default=True,
              help="Share of spoken words that are keywords.")
@click.option("--voices", type=click.Choice(["test", "train", "all"]), default="test", show_default=True,
              help="Which voices of the default synthesised corpus speak.")
@click.option("--snr", default="5,20", show_default=True,
              help="Range of the background noise's SNR in dB (LOW,HIGH), against the average speech level.")
@click.option("--seed", type=int, default=0, show_default=True)
def record_command(out: Path, minutes: float, keyword_rate: float, voices: str, snr: str, seed: int) -> None:
    """Write a long test recording OUT (.wav) with keywords among other words and noise, and OUT.csv labels."""
    import sciarch
    from sciarch_datasets.audio.continuous import generate_recording, write_events
    from sciarch_datasets.audio.noise import coloured_noise
    from sciarch_datasets.audio.tts import TTSSettings, split_voices
    from sciarch_datasets.audio.wav import write_wav

    by_split = split_voices(TTSSettings())
    chosen = {"test": by_split["testing"], "train": by_split["train"],
              "all": [v for vs in by_split.values() for v in vs]}[voices]
    noise = [coloured_noise(c, 60.0, seed=seed + i) for i, c in enumerate(("white", "pink", "brown"))]
    try:
        low, high = (float(x) for x in snr.split(","))
    except ValueError:
        raise sciarch.UsageError(f"--snr: expected LOW,HIGH in dB, got {snr!r}") from None
    audio, events = generate_recording(minutes, chosen, keyword_rate=keyword_rate, noise=noise, seed=seed,
                                       snr_db=(low, high))
    write_wav(out, audio)
    labels = out.with_suffix(".csv")
    write_events(labels, events)
    n = sum(e.keyword for e in events)
    sciarch.console.print(f"{out}: {minutes:g} min, {len(events)} words of which {n} keywords; labels in {labels}")


@keywords.command("score")
@click.argument("run", type=click.Path(path_type=Path))
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where to write det_curve.png/csv (default: RUN/evaluation).")
def score_command(run: Path, recordings: tuple[Path, ...], out: Path | None) -> None:
    """False rejects at 0.5 and 1 false alarm per hour on RECORDINGS (each x.wav with labels x.csv)."""
    import sciarch

    task = sciarch.Run(run).load_task()
    pairs = [(Path(r), Path(r).with_suffix(".csv")) for r in recordings]
    for wav, labels in pairs:
        if not labels.is_file():
            raise sciarch.DataError("no labels beside the recording (expected the same name with .csv)", file=wav)
    out = out or Path(run) / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    result = task.continuous_test(pairs, out)
    shown = {k: v for k, v in result.items() if k != "det"}
    click.echo(json.dumps(shown, indent=2))


@keywords.command("enroll")
@click.argument("run", type=click.Path(path_type=Path))
@click.argument("recordings", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The new (enrolled) run directory.")
@click.option("--steps", type=int, default=300, show_default=True, help="Fine-tuning steps.")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--user-share", type=float, default=0.5, show_default=True,
              help="Share of each batch taken from your recordings (the rest: the run's synthesised corpus).")
@click.option("--lr", type=float, default=5e-4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def enroll_command(run: Path, recordings: Path, out: Path, steps: int, batch_size: int, user_share: float, lr: float,
                   seed: int) -> None:
    """Fine-tune RUN on your RECORDINGS (word/*.wav, 5-20 takes per keyword; _background_/*.wav optional)."""
    import sciarch

    from .enroll import enroll

    result = enroll(run, recordings, out, steps=steps, batch_size=batch_size, user_share=user_share, lr=lr,
                    seed=seed)
    takes = ", ".join(f"{w} {n}" for w, n in sorted(result["takes"].items()))
    sciarch.console.print(f"{out}: fine-tuned {steps} steps on {takes} (+ {result['background_seconds']:g} s of "
                          f"background); loss {result['loss_first']:.3f} -> {result['loss_last']:.3f} in "
                          f"{result['seconds']:.0f} s")
    click.echo(json.dumps(result, indent=2))


@keywords.command("calibrate")
@click.argument("run", type=click.Path(path_type=Path))
@click.argument("recordings", type=click.Path(path_type=Path))
@click.option("--fa-per-hour", type=float, default=1.0, show_default=True,
              help="Target false alarms per hour on your recordings.")
@click.option("--dry-run", is_flag=True, help="Print the threshold without saving it in the run.")
def calibrate_command(run: Path, recordings: Path, fa_per_hour: float, dry_run: bool) -> None:
    """Pick RUN's detection threshold for a false-alarm rate from your RECORDINGS; saved in RUN/calibration.json."""
    import sciarch

    from .enroll import calibrate

    result = calibrate(run, recordings, false_alarms_per_hour=fa_per_hour, save=not dry_run)
    frr = result["false_reject_rate"]
    sciarch.console.print(f"threshold {result['threshold']:g}: {result['false_alarms']} false alarm(s) in "
                          f"{result['audio_seconds']:g} s, {result['missed_takes']} of {result['keyword_takes']} "
                          f"keyword takes missed ({100 * (frr or 0):.0f} %)" + ("" if dry_run else
                                                                                 f"; saved in {run}/calibration.json"))
    if result["note"]:
        sciarch.console.print(result["note"])
    click.echo(json.dumps(result, indent=2))
