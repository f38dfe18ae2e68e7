"""Training and inference speed of the track detectors on the CPU (and a GPU when there is one).

    python benchmarks/tracks/throughput.py [--steps 6] [--size 256] [--threads 1]

For each detector as the recipes build it (FPN width 64, 256-pixel pictures, 20–40 tracks each):
training pictures/s (forward + backward + AdamW step, batch 2), inference pictures/s (batch 1, up to
300 detections), and the seconds per picture to turn detections into tracks (hit assignment and
circle fits). Writes benchmarks/results/tracks_throughput.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine, machine_line  # noqa: E402

MODELS = {
    "mask-rcnn resnet18": ("mask_rcnn", {"backbone": "resnet18", "representation_size": 256, "mask_channels": 64}),
    "faster-rcnn resnet18": ("faster_rcnn", {"backbone": "resnet18", "representation_size": 256}),
    "faster-rcnn mobilenet_v3": ("faster_rcnn", {"backbone": "mobilenet_v3_large", "representation_size": 256}),
    "retinanet mobilenet_v3": ("retinanet", {"backbone": "mobilenet_v3_large"}),
    "faster-rcnn resnet50": ("faster_rcnn", {"backbone": "resnet50", "representation_size": 1024}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--out", type=Path, default=HERE.parent / "results")
    args = parser.parse_args()

    import importlib

    import numpy as np
    import sciarch
    import torch
    from sciarch_datasets.tracks import ChamberConfig
    from sciarch_datasets.tracks.coco import read_coco, write_dataset
    from sciarch_tracks.data import TrackPictureSet, class_names, collate
    from sciarch_tracks.reconstruction import reconstruct, to_numpy

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = ChamberConfig(image_size=(args.size, args.size), tracks=(20, 40))
        write_dataset(Path(tmp) / "set", 2 * args.steps + 4, config, seed=5, workers=1, progress=None)
        coco = read_coco(Path(tmp) / "set")
        names = class_names("ionisation-charge")
        for label in args.models:
            module, kwargs = MODELS[label]
            builder = getattr(importlib.import_module(f"sciarch_tracks.{module}"), module)
            masks = module == "mask_rcnn"
            data = TrackPictureSet(coco, labels="ionisation-charge", names=names, masks=masks)
            torch.manual_seed(0)
            model = builder(num_classes=len(names) + 1, image_size=args.size, fpn_channels=64, **kwargs).to(device)
            optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
            keys = ("boxes", "labels", "masks") if masks else ("boxes", "labels")
            model.train()
            timed = 0.0
            for step in range(args.steps + 2):
                images, targets = collate([data[(2 * step) % len(data)], data[(2 * step + 1) % len(data)]])
                images = [i.to(device) for i in images]
                targets = [{k: t[k].to(device) for k in keys} for t in targets]
                started = time.perf_counter()
                loss = sum(model(images, targets).values())
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if step >= 2:  # the first steps allocate and warm caches
                    timed += time.perf_counter() - started
            train_rate = 2 * args.steps / timed
            model.eval()
            infer, rebuild = 0.0, 0.0
            detections_count = []
            for index in range(args.steps + 1):
                image, target = data[index]
                started = time.perf_counter()
                with torch.no_grad():
                    output = model([image.to(device)])[0]
                if device.type == "cuda":
                    torch.cuda.synchronize()
                middle = time.perf_counter()
                detections = to_numpy(output)
                reconstruct(detections, target["hits"].numpy().astype(np.float64), field_tesla=1.5,
                            pixel_size_m=1.0 / args.size, score_threshold=0.0)
                if index:
                    infer += middle - started
                    rebuild += time.perf_counter() - middle
                    detections_count.append(len(detections["scores"]))
            row = {"model": label, "train_pictures_per_second": round(train_rate, 3),
                   "inference_pictures_per_second": round(args.steps / infer, 3),
                   "reconstruction_seconds_per_picture": round(rebuild / args.steps, 3),
                   "detections_per_picture": float(np.mean(detections_count)),
                   "parameters_millions": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
                   "machine": machine(args.threads)}
            rows.append(row)
            print(f"{label}: train {row['train_pictures_per_second']:.2f} pictures/s, inference "
                  f"{row['inference_pictures_per_second']:.2f} pictures/s, tracks from detections "
                  f"{row['reconstruction_seconds_per_picture']:.2f} s/picture", flush=True)
    result = {"benchmark": "detector throughput", "device": args.device, "size": args.size, "threads": args.threads,
              "steps": args.steps, "rows": rows, "command": " ".join(sys.argv)}
    name = "tracks_throughput" if device.type == "cpu" else "tracks_throughput_gpu"
    sciarch.write_json(args.out / f"{name}.json", result)
    lines = [f"# Track detectors: throughput ({args.device}, {args.size}×{args.size} pictures, 20–40 tracks)", "",
             f"`python {' '.join(sys.argv)}` — untrained weights: the arithmetic is the same as a trained "
             "detector's, but the number of detections (up to the cap of 300) drives the mask head and the "
             "time to turn detections into tracks (hits assigned at score threshold 0), so it is given.", "",
             "| model | parameters (M) | train pictures/s | inference pictures/s | detections / picture "
             "| tracks from detections (s/picture) | load average |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['parameters_millions']} | {r['train_pictures_per_second']:.2f} | "
                     f"{r['inference_pictures_per_second']:.2f} | {r['detections_per_picture']:.0f} | "
                     f"{r['reconstruction_seconds_per_picture']:.2f} | {r['machine']['loadavg'][0]} |")
    lines += ["", f"Machine: {machine_line(rows[0]['machine'])}.", ""]
    with sciarch.atomic_write(args.out / f"{name}.md") as handle:
        handle.write("\n".join(lines))


if __name__ == "__main__":
    main()
