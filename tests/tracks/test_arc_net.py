"""Arc Net: Hough arcs as proposals, a network over the band of hits around each. The neighbourhood
features describe a line as a line, a proposal's band holds the whole circle (not only the hits the
transform chose), the training targets follow the truth, and the model trains and hands back tracks
that own disjoint hits."""

from __future__ import annotations

import math

import numpy as np
import torch
from sciarch_datasets.tracks import ChamberConfig
from sciarch_tracks.arc_net import FEATURES, ArcProposals, arc_net, neighbourhood
from sciarch_tracks.curves import tracks_from_members
from sciarch_tracks.data import SimulatedPictureStream, class_names

TINY = dict(hidden=8, max_band_hits=128, iterations=2)


def test_neighbourhood_of_hits_on_a_line_and_of_a_lone_hit() -> None:
    line = np.stack([np.arange(20.0), np.full(20, 10.0)], axis=1)
    hits = np.concatenate([line, [[60.0, 60.0]]])
    local = neighbourhood(hits)
    assert local[10, 0] == 4 and local[10, 1] == 10  # within 2 and 5 pixels (spacing 1)
    assert abs(math.sin(local[10, 2])) < 1e-9  # the principal direction is along x
    assert local[10, 3] > 0.99  # straight
    assert local[10, 4] == 1.0 and local[-1, 4] == 5.0  # nearest neighbour (capped at 5 for the lone hit)
    assert local[-1, 1] == 0


def _circle_picture(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 1.5 * math.pi, 300)
    circle = np.stack([128 + 60 * np.cos(angles), 128 + 60 * np.sin(angles)], axis=1) + rng.normal(0, 0.3, (300, 2))
    noise = rng.uniform(0, 256, (200, 2))
    return np.concatenate([circle, noise]), np.r_[np.zeros(300, np.int64), -2 - np.arange(200)]


def test_a_proposal_band_holds_the_circle_and_marks_the_transforms_hits() -> None:
    hits, owner = _circle_picture()
    proposals = ArcProposals()(hits, neighbourhood(hits), np.ones(len(hits), bool), 256, 256)
    assert proposals
    best = max(proposals, key=lambda p: (owner[p.band] == 0).sum())
    assert (owner[best.band] == 0).sum() >= 0.9 * 300
    assert best.features.shape == (len(best.band), FEATURES) and np.isfinite(best.features).all()
    assert np.all(np.diff(best.position) >= 0)  # sorted along the arc
    own = np.isin(best.band, best.own)
    assert np.array_equal(best.features[:, 3] > 0.5, own)
    on_circle = owner[best.band] == 0
    assert best.features[on_circle, 14].mean() > 0.9  # reached along the arc from the transform's hits
    assert np.abs(best.features[on_circle, 0]).max() < 1.0  # within 2 pixels of the circle


def test_no_proposal_among_too_few_free_hits() -> None:
    hits, _ = _circle_picture()
    free = np.zeros(len(hits), bool)
    free[:5] = True
    assert ArcProposals()(hits, neighbourhood(hits), free, 256, 256) == []


def _picture(tracks: int = 5, size: int = 128):
    stream = SimulatedPictureStream(2, ChamberConfig(image_size=(size, size)), labels="track",
                                    names=class_names("track"), ranges={"tracks": tracks})
    return stream[0]


def test_training_targets_follow_the_truth() -> None:
    image, target = _picture()
    model = arc_net(**TINY)
    owner = target["hit_owner"].numpy()
    examples = model.training_examples(target["hits"].numpy().astype(np.float64), owner, target["hit_order"].numpy(),
                                       len(target["labels"]), 128, 128)
    assert examples and any(real for _, _, real, _ in examples)
    for proposal, member, real, direction in examples:
        particles, counts = np.unique(owner[proposal.own], return_counts=True)
        particle = particles[np.argmax(counts)]
        assert np.array_equal(member > 0, owner[proposal.band] == particle)
        if real:
            assert particle >= 0 and member.sum() > 0.5 * (owner == particle).sum()
            assert direction in (0.0, 1.0) or math.isnan(direction)
        else:
            assert math.isnan(direction)


def test_arc_net_trains_and_finds_tracks_owning_disjoint_hits() -> None:
    torch.manual_seed(0)
    image, target = _picture()
    model = arc_net(**TINY, replay_proposals=1000, proposals_per_step=64)
    model.train()
    losses = model([image], [target["hits"]], [target])
    assert set(losses) == {"member", "track", "direction"}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert model.head.member[-1].weight.grad.abs().sum() > 0
    assert model._replay  # the proposals are kept for later steps
    model.eval()
    model.head.track[-1].bias.data.fill_(5.0)  # every proposal a track: the assignment is what is checked
    output = model([image], [target["hits"]])[0]
    assert len(output["scores"]) == len(output["members"]) == len(output["boxes"]) > 0
    taken = np.concatenate([index.numpy() if hasattr(index, "numpy") else index for index, _, _ in output["members"]])
    assert len(taken) == len(np.unique(taken))  # no hit in two tracks
    assert all(len(index) >= model.min_hits for index, _, _ in output["members"])
    hits = target["hits"].numpy().astype(np.float64)
    owner, tracks = tracks_from_members(output, hits, field_tesla=1.5, pixel_size_m=1 / 128, direction="learned")
    assert len(tracks) == len(output["scores"])
    assert all(t.charge in (-1, 0, 1) and math.isfinite(t.pt_gev) for t in tracks)


def test_two_pieces_of_one_circle_are_joined_and_two_circles_are_not() -> None:
    model = arc_net(**TINY)
    angles = np.linspace(0, math.pi, 120)
    arc = np.stack([100 + 50 * np.cos(angles), 100 + 50 * np.sin(angles)], axis=1)
    other = np.stack([100 - 50 + 20 * np.cos(np.linspace(0, -math.pi, 60)) - 20,
                      100 + 20 * np.sin(np.linspace(0, -math.pi, 60))], axis=1)  # a small circle from its end
    hits = np.concatenate([arc, other])
    first, second, third = np.arange(0, 60), np.arange(60, 120), np.arange(120, 180)
    members = [(first, np.ones(60), first.astype(float)), (second, np.ones(60), second.astype(float)),
               (third, np.ones(60), third.astype(float))]
    boxes, scores, joined = model._merge(hits, [None] * 3, [0.9, 0.6, 0.8], members)
    assert len(joined) == 2 and sorted(scores) == [0.8, 0.9]
    whole = next(index for index, _, _ in joined if len(index) == 120)
    assert sorted(whole.tolist()) == list(range(120))


def _stub_proposal(band: np.ndarray, hits: np.ndarray):
    from sciarch_tracks.arc_net import Proposal

    position = np.arctan2(hits[band, 1] - 100, hits[band, 0] - 100) * 50
    return Proposal(band, np.zeros((len(band), FEATURES), np.float32), position, band[:3])


def test_a_proposal_mostly_over_one_track_extends_it_and_one_over_another_circle_does_not() -> None:
    model = arc_net(**TINY, extend_rms=0.9)
    angles = np.linspace(0, math.pi, 120)
    arc = np.stack([100 + 50 * np.cos(angles), 100 + 50 * np.sin(angles)], axis=1)
    line = np.stack([np.linspace(20, 180, 60), np.full(60, 130.0)], axis=1)  # crosses the arc
    hits = np.concatenate([arc, line])
    owner = np.full(len(hits), -1)
    owner[:60] = 0
    members = [(np.arange(60), np.ones(60), np.arange(60.0))]
    scores = [0.9]
    band = np.arange(40, 120)  # 20 hits of the track, 60 free ones on the same circle
    p = _stub_proposal(band, hits)
    prob = np.ones(len(band))
    chosen = prob >= 0.5
    mine = owner[band] < 0
    assert model._extend(hits, owner, members, scores, p, prob, chosen, mine, 0.7)
    assert sorted(members[0][0].tolist()) == list(range(120)) and (owner[:120] == 0).all()
    assert np.corrcoef(members[0][2][:60], np.arange(60.0))[0, 1] > 0  # it runs the way it ran
    crossing = np.concatenate([np.arange(50, 60), np.arange(120, 180)])  # 10 of the arc's hits, then the line
    p = _stub_proposal(crossing, hits)
    prob = np.ones(len(crossing))
    mine = owner[crossing] < 0
    assert not model._extend(hits, owner, members, scores, p, prob, prob >= 0.5, mine, 0.7)
    assert (owner[120:] == -1).all()


def test_hits_on_a_circle_are_kept_and_a_crossing_tracks_are_dropped() -> None:
    from sciarch_tracks.arc_net import _on_circle

    rng = np.random.default_rng(0)
    angles = np.linspace(0, math.pi, 100)
    arc = np.stack([100 + 50 * np.cos(angles), 100 + 50 * np.sin(angles)], axis=1) + rng.normal(0, 0.2, (100, 2))
    line = np.stack([np.full(20, 100.0), np.linspace(110, 170, 20)], axis=1)
    xy = np.concatenate([arc, line])
    keep = _on_circle(xy, 1.5)
    assert keep[:100].mean() > 0.97 and keep[100:].sum() <= 2


def test_with_reclaim_found_tracks_still_own_disjoint_hits() -> None:
    torch.manual_seed(0)
    image, target = _picture(tracks=8)
    model = arc_net(**TINY, reclaim=True, extend_rms=0.9, find_iterations=3)
    model.eval()
    model.head.track[-1].bias.data.fill_(-0.5)  # every track under the accept score: all hits stay on offer
    output = model([image], [target["hits"]])[0]
    taken = np.concatenate([np.asarray(index) for index, _, _ in output["members"]] or [np.zeros(0, int)])
    assert len(taken) == len(np.unique(taken))
    assert all(len(index) >= model.min_hits for index, _, _ in output["members"])


def test_with_kinks_cut_and_pieces_joined_found_tracks_still_own_disjoint_hits() -> None:
    torch.manual_seed(0)
    image, target = _picture(tracks=8)
    model = arc_net(**TINY, reclaim=True, extend_rms=0.9, find_iterations=3, split_kinks=True, join_gap_px=30.0)
    model.eval()
    output = model([image], [target["hits"]])[0]
    taken = np.concatenate([np.asarray(index) for index, _, _ in output["members"]] or [np.zeros(0, int)])
    assert len(taken) == len(np.unique(taken))
    assert len(output["scores"]) == len(output["members"]) == len(output["boxes"])
