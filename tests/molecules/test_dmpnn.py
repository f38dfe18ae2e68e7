"""D-MPNN: bond-centred messages with the reverse message subtracted, shapes, readouts."""

from __future__ import annotations

import pytest
import torch
from sciarch_datasets.molecules.featurise import ATOM_FEATURES, BOND_FEATURES, Featuriser
from sciarch_datasets.molecules.store import GraphStore
from sciarch_molecules.models.dmpnn import DMPNN
from sciarch_molecules.models.readout import reverse_edges
from torch_geometric.data import Batch


def graphs(*smiles):
    feats = [Featuriser()((s,)) for s in smiles]
    store = GraphStore.from_graphs(feats, torch.zeros(len(feats), 1).numpy(), {})
    return Batch.from_data_list([store.get(i) for i in range(len(store))])


def test_output_shape_is_graphs_by_targets():
    model = DMPNN(ATOM_FEATURES, BOND_FEATURES, out_features=3, hidden=16, ffn_hidden=8)
    assert model(graphs("CCO", "c1ccccc1", "[Na+]")).shape == (3, 3)


def test_a_message_never_returns_along_its_own_bond():
    # two heavy atoms, one bond: m_vw = sum over v's incoming bonds minus the one from w = 0,
    # so the message weights W_m cannot matter; with three atoms in a chain they must
    torch.manual_seed(0)
    model = DMPNN(ATOM_FEATURES, BOND_FEATURES, hidden=16, depth=3, ffn_hidden=8).eval()
    two, three = graphs("CO"), graphs("CCO")
    before = model(two), model(three)
    with torch.no_grad():
        model.W_m.weight.normal_()
    after = model(two), model(three)
    assert torch.allclose(before[0], after[0], atol=1e-6, rtol=0)
    assert not torch.allclose(before[1], after[1], atol=2e-5, rtol=0)  # this seed's output is small (2e-3)


def test_depth_one_sees_only_the_initial_bond_states():
    torch.manual_seed(0)
    model = DMPNN(ATOM_FEATURES, BOND_FEATURES, hidden=16, depth=1, ffn_hidden=8).eval()
    batch = graphs("CCCCO")
    before = model(batch)
    with torch.no_grad():
        model.W_m.weight.normal_()
    assert torch.allclose(before, model(batch))


def test_reverse_edges_pair_each_directed_bond_with_its_reverse():
    batch = graphs("CC(=O)O", "c1ccccc1")
    rev = reverse_edges(batch.edge_index, batch.num_nodes)
    src, dst = batch.edge_index
    assert torch.equal(src[rev], dst) and torch.equal(dst[rev], src)
    assert torch.equal(rev[rev], torch.arange(len(rev)))


def test_reverse_edges_refuse_a_graph_without_reverse_bonds():
    with pytest.raises(ValueError, match="not symmetric"):
        reverse_edges(torch.tensor([[0, 1], [1, 2]]), 3)


@pytest.mark.parametrize("aggregation", ["mean", "sum", "norm"])
def test_sum_readout_grows_with_molecule_size_and_mean_does_not(aggregation):
    torch.manual_seed(0)
    model = DMPNN(ATOM_FEATURES, BOND_FEATURES, hidden=16, depth=2, aggregation=aggregation, ffn_hidden=8).eval()
    one, two = graphs("C"), graphs("C.C")  # one methane, two disconnected methanes in one graph
    e1, e2 = model.encode(one), model.encode(two)
    factor = {"mean": 1.0, "sum": 2.0, "norm": 2.0}[aggregation]
    assert torch.allclose(e2, factor * e1, atol=1e-6)


def test_molecule_descriptors_are_standardised_and_feed_the_head():
    from sciarch_datasets.molecules.featurise import descriptor_names

    feats = [Featuriser(descriptors=True)((s,)) for s in ("CCO", "c1ccccc1O", "CC(=O)O")]
    store = GraphStore.from_graphs(feats, torch.zeros(3, 1).numpy(), {})
    batch = Batch.from_data_list([store.get(i) for i in range(3)])
    n = len(descriptor_names())
    assert batch.mol_x.shape == (3, n) and torch.isfinite(batch.mol_x).all()
    torch.manual_seed(0)
    model = DMPNN(ATOM_FEATURES, BOND_FEATURES, hidden=16, ffn_hidden=8, mol_features=n)
    model.train()
    model(batch)  # one training step updates the running statistics of the descriptors
    assert not torch.allclose(model.mol_norm.running_mean, torch.zeros(n))
    model.eval()
    before = model(batch)
    changed = batch.clone()
    changed.mol_x = changed.mol_x + 1.0
    assert not torch.allclose(before, model(changed))
    single = Batch.from_data_list([store.get(0)])
    model.train()
    assert model(single).shape == (1, 1)  # a one-molecule training batch does not break batch norm
