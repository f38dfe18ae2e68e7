"""Bubble-chamber pictures for training: simulated once and cached, or read from COCO folders.

With no ``root`` the data module simulates its train/val/test splits (seeded by ``data_seed``, so
the data does not change with the run's seed) into the sciarch cache, keyed by every simulation
setting, in parallel; with ``root`` it reads ``root/train``, ``root/val``, ``root/test`` (each a
COCO folder, see :mod:`sciarch_datasets.tracks.coco`), or a single COCO folder split 80/10/10.

Labels (``labels``): ``ionisation-charge`` (minimum-ionising or heavily ionising, × charge sign:
4 classes; heavy means a median bubble density of at least twice the minimum, β ≲ 0.7),
``charge`` (2), ``species`` (the 10 charged species), ``track`` (1), or ``file`` (the COCO file's
own categories, for real pictures).

Augmentation: rotations by multiples of 90° only. A mirror image would show every track bending
the wrong way for its charge (it is the picture of the opposite field), so flips would teach the
classifier the wrong sign.

A sample is (image (3, H, W) float in [0, 1], target) with target keys ``boxes`` (N, 4) x0y0x1y1,
``labels`` (N,) 1…C, ``masks`` (N, H, W) uint8, ``hits`` (M, 2) pixels, ``hit_owner`` (M,)
annotation index or negative, ``pt`` (N,) true p_T in GeV/c (NaN when unknown), ``charge`` (N,),
``image_id``.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import lightning.pytorch as pl
import numpy as np
import sciarch
import torch
from torch.utils.data import Dataset

Labels = Literal["ionisation-charge", "charge", "species", "track", "file"]
SPECIES = ("e-", "e+", "mu-", "mu+", "pi-", "pi+", "K-", "K+", "p", "pbar")
HEAVY_IONISATION = 2.0


def class_names(labels: Labels, file_categories: list[str] | None = None) -> list[str]:
    if labels == "ionisation-charge":
        return ["light-", "light+", "heavy-", "heavy+"]
    if labels == "charge":
        return ["negative", "positive"]
    if labels == "species":
        return list(SPECIES)
    if labels == "track":
        return ["track"]
    return list(file_categories or ["track"])


def charge_of_class(name: str) -> int:
    """The charge sign a class name implies (0: it does not say)."""
    if name.endswith("+") or name in ("p", "positive"):
        return 1
    if name.endswith("-") or name in ("pbar", "negative"):
        return -1
    return 0


def label_of(track: Any, labels: Labels, names: list[str], *, file: Path | str = "", record: str = "") -> int:
    """Class index (1…C) of a track record under a label scheme."""
    attrs = track.attributes
    if labels == "file":
        return names.index(track.category) + 1
    if labels == "track":
        return 1
    if labels == "species":
        species = attrs.get("species", track.category)
        if species not in SPECIES:
            raise sciarch.DataError(f"species {species!r} unknown; use labels: file", file=file, record=record)
        return SPECIES.index(species) + 1
    charge = attrs.get("charge")
    if charge is None:
        charge = charge_of_class(str(attrs.get("species", track.category)))
    if not charge:
        raise sciarch.DataError("no charge in the annotation's attributes; use labels: file or track", file=file,
                                record=record)
    if labels == "charge":
        return 1 if charge < 0 else 2
    ionisation = attrs.get("ionisation_median", attrs.get("ionisation"))
    if ionisation is None:
        raise sciarch.DataError("no ionisation in the annotation's attributes; use labels: charge, file or track",
                                file=file, record=record)
    heavy = float(ionisation) >= HEAVY_IONISATION
    return 1 + (2 if heavy else 0) + (1 if charge > 0 else 0)


class TrackPictureSet(Dataset):
    """The pictures of one COCO folder as tensors (see the module docstring for the target)."""

    def __init__(self, coco: Any, *, labels: Labels, names: list[str], masks: bool = True, rotate: bool = False,
                 min_box_px: float = 4.0, seed: int = 0) -> None:
        self.coco, self.labels, self.names = coco, labels, names
        self.masks, self.rotate, self.min_box_px, self.seed = masks, rotate, min_box_px, seed
        self.epoch = 0
        for picture in coco.pictures:  # check every label now: a bad one fails before training starts
            for track in picture.tracks:
                label_of(track, labels, names, file=coco.path, record=f"annotation {track.annotation_id}")

    def __len__(self) -> int:
        return len(self.coco.pictures)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        picture = self.coco.pictures[index]
        image = picture.load_image()
        tracks = picture.tracks
        boxes = np.array([t.box_xyxy for t in tracks], dtype=np.float32).reshape(-1, 4)
        boxes = _pad_boxes(boxes, self.min_box_px, picture.width, picture.height)
        labels = [label_of(t, self.labels, self.names, file=self.coco.path, record=f"annotation {t.annotation_id}")
                  for t in tracks]
        hits, owner = picture.hits()
        inside = (hits[:, 0] >= 0) & (hits[:, 0] < picture.width) & (hits[:, 1] >= 0) & (hits[:, 1] < picture.height)
        hits, owner = hits[inside], owner[inside]
        masks = picture.masks() if self.masks else None
        if self.rotate:
            # a quarter-turn count fixed by (seed, epoch, picture): reproducible, and resumable
            turns = int(np.random.default_rng([self.seed, self.epoch, index]).integers(4))
            image, boxes, masks, hits = _rotate(image, boxes, masks, hits, turns)
        target = {
            "boxes": torch.from_numpy(boxes),
            "labels": torch.tensor(labels, dtype=torch.int64),
            "hits": torch.from_numpy(hits.astype(np.float32)),
            "hit_owner": torch.from_numpy(owner.astype(np.int64)),
            "hit_order": torch.from_numpy(hit_order(owner.astype(np.int64))),
            "pt": torch.tensor([float(t.attributes.get("pt_gev", math.nan)) for t in tracks], dtype=torch.float64),
            "charge": torch.tensor([int(t.attributes.get("charge", 0) or 0) for t in tracks], dtype=torch.int64),
            "image_id": torch.tensor(picture.image_id),
            "size": torch.tensor(image.shape[:2]),
        }
        if masks is not None:
            target["masks"] = torch.from_numpy(np.ascontiguousarray(masks))
        tensor = torch.from_numpy(np.ascontiguousarray(image)).float().div_(255.0).expand(3, -1, -1).contiguous()
        return tensor, target


def _pad_boxes(boxes: np.ndarray, min_size: float, width: int, height: int) -> np.ndarray:
    """Widen boxes thinner than ``min_size`` about their centre: a straight track along an axis has a
    box one bubble wide, which no anchor overlaps well."""
    if not len(boxes) or min_size <= 0:
        return boxes
    out = boxes.copy()
    for lo, hi, limit in ((0, 2, width), (1, 3, height)):
        size = out[:, hi] - out[:, lo]
        grow = np.clip(min_size - size, 0, None) / 2
        out[:, lo] = np.clip(out[:, lo] - grow, 0, limit)
        out[:, hi] = np.clip(out[:, hi] + grow, 0, limit)
    return out


def _rotate(image: np.ndarray, boxes: np.ndarray, masks: np.ndarray | None, hits: np.ndarray,
            turns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Rotate a picture and its truth by ``turns`` quarter turns (counter-clockwise on screen)."""
    for _ in range(turns % 4):
        height, width = image.shape
        image = np.rot90(image)
        if masks is not None:
            masks = np.rot90(masks, axes=(1, 2))
        # np.rot90: new[r, c] = old[c, width - 1 - r] → point (x, y) goes to (y, width − x)
        boxes = np.stack([boxes[:, 1], width - boxes[:, 2], boxes[:, 3], width - boxes[:, 0]], axis=1) \
            if len(boxes) else boxes
        hits = np.stack([hits[:, 1], width - hits[:, 0]], axis=1) if len(hits) else hits
    return image, boxes.astype(np.float32), masks, hits


def collate(batch: list[tuple[torch.Tensor, dict[str, torch.Tensor]]]) -> tuple[list[torch.Tensor], list[dict]]:
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)


class BubbleChamberPictures(pl.LightningDataModule):
    """Simulated bubble-chamber pictures (the default) or COCO folders of real ones.

    Simulation: ``train_pictures``/``val_pictures``/``test_pictures`` of ``image_size`` pixels
    square over ``chamber_width_m`` metres in ``field_tesla``, with ``tracks`` (fewest, most)
    primary tracks per picture (``test_tracks`` for the test split if given), the ``species_mix``
    of vertex products (families e, mu, pi, K, p), ``beam_tracks`` per picture. ``simulate_workers``:
    processes (0: one per core). ``train_on_the_fly``: the training pictures are simulated as they
    are drawn, new ones every epoch, with the physics varied per picture within ``randomise``
    (see :class:`SimulatedPictureStream`; nothing cached). A split is simulated only when a stage needs it (testing
    a run never simulates its training pictures). Reading: ``root`` as described in the module docstring, with
    ``field_tesla`` and ``pixel_size_m`` taken from the files' ``info`` when present.
    """

    provides = ("num_classes", "image_size", "field_tesla", "pixel_size_m", "class_names")

    def __init__(self, root: str | None = None, *, train_pictures: int = 512, val_pictures: int = 32,
                 test_pictures: int = 64, image_size: int = 256, chamber_width_m: float = 1.0,
                 field_tesla: float = 1.5, tracks: tuple[int, int] = (5, 40), test_tracks: tuple[int, int] | None = None,
                 beam_tracks: tuple[int, int] = (0, 6), species_mix: dict[str, float] | None = None,
                 pixel_size_m: float | None = None, labels: Labels = "ionisation-charge", masks: bool = True,
                 rotate: bool = True, min_box_px: float = 8.0, batch_size: int = 4, workers: int = 0,
                 simulate_workers: int = 0, data_seed: int = 0, strict: bool = False, seed: int = 0,
                 train_on_the_fly: bool = False, randomise: dict[str, Any] | None = None) -> None:
        super().__init__()
        if root is None and min(train_pictures, val_pictures, test_pictures) < 1:
            raise sciarch.UsageError("train_pictures, val_pictures and test_pictures must each be at least 1")
        self.root = Path(root).expanduser() if root else None
        self.image_size, self.chamber_width_m, self.field_tesla = image_size, chamber_width_m, field_tesla
        self.counts = {"train": train_pictures, "val": val_pictures, "test": test_pictures}
        self.tracks, self.test_tracks, self.beam_tracks = tuple(tracks), test_tracks, tuple(beam_tracks)
        self.species_mix = dict(species_mix) if species_mix else None
        self.pixel_size_m = pixel_size_m
        self.labels, self.masks, self.rotate, self.min_box_px = labels, masks, rotate, min_box_px
        self.batch_size, self.workers, self.simulate_workers = batch_size, workers, simulate_workers
        self.data_seed, self.strict, self.seed = data_seed, strict, seed
        self.train_on_the_fly, self.randomise = train_on_the_fly, dict(randomise) if randomise else None
        self._info: dict[str, Any] | None = None
        self.sets: dict[str, TrackPictureSet] = {}

    # -- what the model and task need ----------------------------------------------------------

    def chamber(self, split: str):
        from sciarch_datasets.tracks import ChamberConfig

        tracks = tuple(self.test_tracks) if split == "test" and self.test_tracks else self.tracks
        extra = {"species_mix": self.species_mix} if self.species_mix else {}
        return ChamberConfig(image_size=(self.image_size, self.image_size), chamber_width_m=self.chamber_width_m,
                             field_tesla=self.field_tesla, tracks=tracks, beam_tracks=self.beam_tracks, **extra)

    def _root_info(self) -> dict[str, Any]:
        """The ``info`` and category names of the user's first COCO file (read once)."""
        if self._info is None:
            import json

            folder = next((self.root / s for s in ("train", "val", "test") if (self.root / s).is_dir()), self.root)
            path = folder / "annotations.json"
            if not path.is_file():
                raise sciarch.DataError("no COCO annotations file here (expected annotations.json)", file=path)
            try:
                coco = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:  # the same words as the reader's (read_coco)
                raise sciarch.DataError(f"not valid JSON ({exc})", file=path) from None
            if not isinstance(coco, dict):
                raise sciarch.DataError("not a COCO file: no 'images' list", file=path)
            categories = sorted(coco.get("categories") or [], key=lambda c: c.get("id", 0))
            self._info = {**(coco.get("info") or {}), "categories": [str(c["name"]) for c in categories]}
        return self._info

    def class_names(self) -> list[str]:
        if self.root is not None and self.labels == "file":
            return class_names("file", self._root_info()["categories"])
        return class_names(self.labels)

    def hints(self) -> dict[str, Any]:
        field, pixel = self.field_tesla, self.pixel_size_m or self.chamber_width_m / self.image_size
        if self.root is not None:
            info = self._root_info()
            field = float(info.get("field_tesla", field))
            pixel = float(self.pixel_size_m or info.get("pixel_size_m", pixel))
        names = self.class_names()
        return {"num_classes": len(names) + 1, "image_size": self.image_size, "field_tesla": field,
                "pixel_size_m": pixel, "class_names": names}

    # -- data ------------------------------------------------------------------------------------

    def split_folder(self, split: str) -> Path:
        from sciarch_datasets.tracks import SIMULATOR_VERSION

        if self.root is not None:
            return self.root / split if (self.root / split).is_dir() else self.root
        key = sciarch.content_key({"split": split, "n": self.counts[split], "data_seed": self.data_seed,
                                   "chamber": self.chamber(split).to_dict(), "simulator": SIMULATOR_VERSION})
        return sciarch.cache_dir("tracks", "simulated") / f"{split}-{key}"

    STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}

    def prepare_data(self) -> None:
        """Nothing: each split is simulated by :meth:`setup` when its stage needs it."""

    def _simulate(self, splits: tuple[str, ...]) -> None:
        from sciarch_datasets.tracks.coco import write_dataset

        for code, split in enumerate(("train", "val", "test"), start=1):
            if split not in splits or (split == "train" and self.train_on_the_fly):
                continue
            folder = self.split_folder(split)
            if (folder / "annotations.json").is_file():
                continue
            summary = write_dataset(folder, self.counts[split], self.chamber(split), seed=self.data_seed * 10 + code,
                                    workers=self.simulate_workers, progress=f"simulating {split} pictures")
            sciarch.console.print(f"simulated {summary['pictures']} {split} pictures ({summary['tracks']} tracks, "
                                  f"{summary['pictures_per_second']} pictures/s) into {folder}")

    def setup(self, stage: str | None = None) -> None:
        from sciarch_datasets.tracks.coco import read_coco

        names = self.class_names()
        if self.root is not None and not any((self.root / s).is_dir() for s in ("train", "val", "test")):
            coco = read_coco(self.root, strict=self.strict)
            self._split_single(coco, names)
            return
        splits = self.STAGE_SPLITS.get(stage or "", ("train", "val", "test"))
        if self.root is None:
            self._simulate(splits)
        for split in splits:
            if split in self.sets:
                continue
            if split == "train" and self.train_on_the_fly and self.root is None:
                self.sets[split] = SimulatedPictureStream(  # type: ignore[assignment]
                    self.counts["train"], self.chamber("train"), labels=self.labels, names=names,
                    ranges=self.randomise, min_box_px=self.min_box_px, seed=self.data_seed * 10 + 1)
                continue
            coco = read_coco(self.split_folder(split), strict=self.strict)
            self.sets[split] = TrackPictureSet(coco, labels=self.labels, names=names, masks=self.masks,
                                               rotate=self.rotate and split == "train", min_box_px=self.min_box_px,
                                               seed=self.seed)

    def _split_single(self, coco: Any, names: list[str]) -> None:
        import copy

        order = np.random.default_rng(self.data_seed).permutation(len(coco.pictures))
        n_val = n_test = max(1, len(order) // 10)
        parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
        for split, indices in parts.items():
            part = copy.copy(coco)
            part.pictures = [coco.pictures[i] for i in sorted(indices)]
            self.sets[split] = TrackPictureSet(part, labels=self.labels, names=names, masks=self.masks,
                                               rotate=self.rotate and split == "train", min_box_px=self.min_box_px,
                                               seed=self.seed)

    def train_dataloader(self):
        return sciarch.loader(self.sets["train"], batch_size=self.batch_size, train=True, seed=self.seed,
                              collate_fn=collate, num_workers=self.workers)

    def val_dataloader(self):
        return sciarch.loader(self.sets["val"], batch_size=self.batch_size, train=False, collate_fn=collate,
                              num_workers=self.workers)

    def test_dataloader(self):
        return sciarch.loader(self.sets["test"], batch_size=self.batch_size, train=False, collate_fn=collate,
                              num_workers=self.workers)


# -- training pictures simulated on the fly --------------------------------------------------------
# Training pictures simulated on the fly, with the physics drawn afresh for every picture.
#
# A detector that only ever saw one field, one pixel scale and one species mix learns that world's
# curvatures and densities; one trained on pictures whose physics varies learns the geometry of
# tracks instead and is scored unchanged under shifted physics (benchmarks/tracks/shifted.py).
# Each picture draws, from its own ``(seed, epoch, index)``, a field (log-uniform in
# ``field_tesla``), a chamber width over the same pixels (uniform in ``chamber_width_m``: the pixel
# scale), a multiplicity (log-uniform in ``tracks``) and, with probability ``mix_probability``, a
# random species mix (a flat Dirichlet over e, μ, π, K, p), then is simulated
# (:func:`sciarch_datasets.tracks.optics.simulate_picture`) and turned into the same sample as a
# COCO picture gives (:class:`~.data.TrackPictureSet`). Nothing is cached: a new epoch is new
# pictures.

FAMILIES = ("e", "mu", "pi", "K", "p")
DEFAULT_RANGES: dict[str, Any] = {"field_tesla": (0.6, 3.6), "chamber_width_m": (0.45, 1.2), "tracks": (3, 110),
                                  "mix_probability": 0.5}


def hit_order(owner: np.ndarray) -> np.ndarray:
    """Each hit's place along its track, 0 (first hit) … 1 (last), from the order of the hits of one
    owner in the array (the simulator writes a particle's bubbles along its path); 0.5 for owners
    with one hit."""
    order = np.full(len(owner), 0.5, dtype=np.float32)
    if not len(owner):
        return order
    sort = np.argsort(owner, kind="stable")
    sorted_owner = owner[sort]
    starts = np.flatnonzero(np.r_[True, sorted_owner[1:] != sorted_owner[:-1]])
    counts = np.diff(np.r_[starts, len(owner)])
    rank = np.arange(len(owner)) - np.repeat(starts, counts)
    span = np.repeat(np.maximum(counts - 1, 1), counts)
    order[sort] = np.where(np.repeat(counts, counts) > 1, rank / span, 0.5)
    return order


class SimulatedPictureStream(Dataset):
    """``pictures`` pictures per epoch, each simulated when asked for (see the module docstring).

    ``base``: the :class:`~sciarch_datasets.tracks.ChamberConfig` the draws vary; ``ranges``
    overrides :data:`DEFAULT_RANGES` (a range given as one number fixes that quantity).
    """

    def __init__(self, pictures: int, base: Any, *, labels: str, names: list[str], ranges: dict | None = None,
                 min_box_px: float = 8.0, seed: int = 0) -> None:
        self.pictures, self.base, self.labels, self.names = pictures, base, labels, names
        self.ranges = {**DEFAULT_RANGES, **(ranges or {})}
        self.min_box_px, self.seed = min_box_px, seed
        self.epoch = 0

    def __len__(self) -> int:
        return self.pictures

    def config(self, index: int) -> Any:
        """The chamber of picture ``index`` this epoch."""
        rng = np.random.default_rng([self.seed, self.epoch, index, 7])

        def draw(name: str, log: bool = False) -> float:
            value = self.ranges[name]
            if not isinstance(value, (list, tuple)):
                return float(value)
            low, high = float(value[0]), float(value[1])
            return float(math.exp(rng.uniform(math.log(low), math.log(high)))) if log else float(rng.uniform(low, high))

        multiplicity = int(round(draw("tracks", log=True)))
        changes: dict[str, Any] = {"field_tesla": draw("field_tesla", log=True),
                                   "chamber_width_m": draw("chamber_width_m"), "tracks": (multiplicity, multiplicity)}
        if rng.random() < float(self.ranges["mix_probability"]):
            changes["species_mix"] = dict(zip(FAMILIES, rng.dirichlet(np.ones(len(FAMILIES))).round(4).tolist(),
                                              strict=True))
        return self.base.with_(**changes)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        from sciarch_datasets.tracks.optics import simulate_picture

        cfg = self.config(index)
        picture = simulate_picture(cfg, self.seed * 1_000_003 + self.epoch, index)
        return picture_sample(picture, cfg, labels=self.labels, names=self.names, min_box_px=self.min_box_px)


def picture_sample(picture: Any, cfg: Any, *, labels: str, names: list[str],
                   min_box_px: float = 8.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A simulated picture as (image, target), the sample :class:`~.data.TrackPictureSet` makes."""
    from sciarch_datasets.tracks.optics import truth_attributes

    from .data import _pad_boxes, label_of

    width, height = cfg.image_size
    annotated = [t for t in picture.tracks if t.annotated]
    index_of = {id(t): i for i, t in enumerate(annotated)}
    records = [SimpleNamespace(attributes=truth_attributes(t, cfg), category=t.particle.species.name,
                               annotation_id=i) for i, t in enumerate(annotated)]
    boxes = np.array([(x, y, x + w, y + h) for x, y, w, h in (t.box() for t in annotated)],
                     dtype=np.float32).reshape(-1, 4)
    boxes = _pad_boxes(boxes, min_box_px, width, height)
    xy = [t.hits for t in picture.tracks if len(t.hits)]
    owner = [np.full(len(t.hits), index_of.get(id(t), -2 - t.particle.index), dtype=np.int64)
             for t in picture.tracks if len(t.hits)]
    hits = np.concatenate(xy) if xy else np.zeros((0, 2))
    owners = np.concatenate(owner) if owner else np.zeros(0, dtype=np.int64)
    inside = (hits[:, 0] >= 0) & (hits[:, 0] < width) & (hits[:, 1] >= 0) & (hits[:, 1] < height)
    hits, owners = hits[inside], owners[inside]
    target = {
        "boxes": torch.from_numpy(boxes),
        "labels": torch.tensor([label_of(r, labels, names) for r in records], dtype=torch.int64),
        "hits": torch.from_numpy(hits.astype(np.float32)),
        "hit_owner": torch.from_numpy(owners),
        "hit_order": torch.from_numpy(hit_order(owners)),
        "pt": torch.tensor([float(r.attributes["pt_gev"]) for r in records], dtype=torch.float64),
        "charge": torch.tensor([int(r.attributes["charge"]) for r in records], dtype=torch.int64),
        "image_id": torch.tensor(0),
        "size": torch.tensor(picture.image.shape[:2]),
    }
    image = torch.from_numpy(np.ascontiguousarray(picture.image)).float().div_(255.0).expand(3, -1, -1).contiguous()
    return image, target
