"""The hit-graph GNN baseline: its radius graph, edge truth, track building from scored edges (the
components, the cut to the best edges of each hit, the joining of a track's pieces), its training
step and a smoke train through its recipe."""

from __future__ import annotations

import math

import numpy as np
import torch
from sciarch_datasets.tracks import ChamberConfig
from sciarch_tracks.curves import score_tracks, tracks_from_members
from sciarch_tracks.data import SimulatedPictureStream, class_names
from sciarch_tracks.gnn import (
    EDGE_FEATURES,
    NODE_FEATURES,
    HitGraph,
    components,
    edge_truth,
    hit_graph_gnn,
    hit_ranks,
    radius_graph,
    stitch,
    top_degree,
)
from sciarch_tracks.metrics import TrackScore


def test_radius_graph_of_a_hand_made_hit_set() -> None:
    hits = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [3.0, 1.5], [10.0, 10.0]])
    pairs = radius_graph(hits, 2.5)
    assert pairs.tolist() == [[0, 1], [1, 2], [1, 3], [2, 3]]  # (0, 2) is 3 apart, (4) alone
    assert radius_graph(hits[:1], 2.5).shape == (0, 2)


def test_radius_graph_matches_all_pairs_on_random_points() -> None:
    points = np.random.default_rng(1).uniform(0, 40, (300, 2))
    d = np.hypot(*(points[:, None] - points[None]).transpose(2, 0, 1))
    expected = {(int(i), int(j)) for i, j in np.argwhere(np.triu(d <= 3.0, k=1))}
    assert {tuple(p) for p in radius_graph(points, 3.0).tolist()} == expected


def test_edge_truth_is_one_particle_near_along_its_path() -> None:
    owner = np.array([0, 0, 0, 0, 1, 1, -1, -1, -3, -3])
    assert hit_ranks(owner).tolist() == [0, 1, 2, 3, 0, 1, 0, 1, 0, 1]
    pairs = np.array([[0, 1], [0, 3], [1, 0], [3, 4], [4, 5], [6, 7], [8, 9]])
    same, forward = edge_truth(owner, pairs, max_rank_gap=2)
    # (0, 3): three bubbles apart; (3, 4): two particles; (6, 7): noise; (8, 9): an unannotated particle
    assert same.tolist() == [1, 0, 1, 0, 1, 0, 1]
    assert forward[[0, 2, 4]].tolist() == [1, 0, 1]


def test_components_and_the_best_edges_of_each_hit() -> None:
    pairs = np.array([[0, 1], [1, 2], [3, 4]])
    assert components(6, pairs).tolist() == [0, 0, 0, 1, 1, 2]
    assert components(3, np.zeros((0, 2), np.int64)).tolist() == [0, 1, 2]
    # hit 1 has three edges; with k = 2 its weakest, (1, 3), goes although hit 3 ranks it first
    star = np.array([[0, 1], [1, 2], [1, 3]])
    assert top_degree(4, star, np.array([0.9, 0.8, 0.7]), 2).tolist() == [True, True, False]


def _arc(start: float, stop: float, n: int, radius: float = 60.0, centre=(128.0, 128.0)) -> np.ndarray:
    angles = np.linspace(start, stop, n)
    return np.stack([centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)], axis=1)


def test_two_pieces_of_one_circle_join_and_another_circle_does_not() -> None:
    # one circle broken by a 6-pixel gap; a second circle whose end lies 3 pixels from the first's end
    first, second = _arc(0.0, 1.0, 60), _arc(1.1, 2.0, 50)
    other = _arc(0.0, 0.8, 50, radius=25.0, centre=(128.0 + 60 + 25 + 3, 128.0))[::-1]
    hits = np.concatenate([first, second, other])
    groups = [np.arange(60), np.arange(60, 110), np.arange(110, 160)]
    joined = stitch(hits, groups, reach_px=10.0, rms_px=0.5)
    assert sorted(len(g) for g in joined) == [50, 110]
    assert sorted(next(g for g in joined if len(g) == 110).tolist()) == list(range(110))


def _picture(tracks: int = 6, size: int = 128):
    stream = SimulatedPictureStream(2, ChamberConfig(image_size=(size, size)), labels="track",
                                    names=class_names("track"), ranges={"tracks": tracks})
    return stream[0]


def test_perfect_edges_give_the_true_tracks() -> None:
    image, target = _picture()
    hits = target["hits"].numpy().astype(np.float64)
    model = hit_graph_gnn(stitch_px=10.0, stitch_rms_px=0.5)
    graph = HitGraph(hits, 128, 128, model.radius)
    assert graph.x.shape == (len(hits), NODE_FEATURES) and graph.e.shape == (2 * len(graph.pairs), EDGE_FEATURES)
    assert torch.isfinite(graph.x).all() and torch.isfinite(graph.e).all()
    same, forward = edge_truth(target["hit_owner"].numpy(), graph.pairs, model.max_rank_gap)
    output = model.tracks(hits, graph.pairs, same, forward)
    owner, found = tracks_from_members(output, hits, field_tesla=1.5, pixel_size_m=1 / 128, min_hits=5,
                                       direction="learned")
    assert len(np.unique(owner[owner >= 0])) == len(found)  # disjoint hits
    score = TrackScore()
    score_tracks(found, target, score, ["track"], min_hits=5)
    assert score.efficiency >= 0.8 and score.fake_rate <= 0.2
    assert score.charge_accuracy() >= 0.8  # the true directions give the charge from the curvature
    # with no edge kept there is no track
    assert model.tracks(hits, graph.pairs, np.zeros(len(same)), forward)["scores"].numel() == 0


def test_training_lowers_the_edge_loss_and_eval_finds_tracks() -> None:
    torch.manual_seed(0)
    image, target = _picture()
    model = hit_graph_gnn(hidden=16, iterations=2)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    model.train()
    losses = []
    for _ in range(40):
        loss = model([image], [target["hits"]], [target])
        assert set(loss) == {"edge", "direction"} and all(math.isfinite(float(v.detach())) for v in loss.values())
        optimiser.zero_grad()
        sum(loss.values()).backward()
        optimiser.step()
        losses.append(float(loss["edge"].detach()))
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5])
    model.eval()
    output = model([image], [target["hits"]])[0]
    assert set(output) == {"boxes", "scores", "labels", "members"} and len(output["members"]) == len(output["scores"])
    with torch.no_grad():
        pairs, prob, forward = model.edge_probabilities(target["hits"].numpy().astype(np.float64), 128, 128)
    assert len(prob) == len(pairs) and ((prob >= 0) & (prob <= 1)).all() and ((forward >= 0) & (forward <= 1)).all()


def test_the_window_of_a_crowded_training_picture() -> None:
    model = hit_graph_gnn(max_train_hits=1000)
    hits = np.random.default_rng(0).uniform(0, 256, (8000, 2))
    keep = model.window(hits, 256, 256)
    assert 500 < len(keep) < 1600
    assert len(model.window(hits[:900], 256, 256)) == 900


def test_smoke_train_through_the_recipe(tmp_path) -> None:
    import json

    from sciarch.config import load
    from sciarch.training import train

    run = train(load("tracks/gnn", smoke=True), runs_root=tmp_path / "runs", quiet=True)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert any(key.startswith("test/efficiency") for key in json.dumps(summary).split('"'))
