"""What a chemist would not accept silently: refusals, notes, and the optional standardisation stage."""

from __future__ import annotations

import pytest
from sciarch_datasets.molecules.featurise import Featuriser, smiles_of
from sciarch_datasets.molecules.graphs import featurise_table, note_counts
from sciarch_datasets.molecules.standardise import Standardiser
from sciarch_datasets.molecules.tables import read_smiles_csv


def used(smiles, **settings):
    graph = Featuriser(**settings)((smiles,))
    assert not isinstance(graph, str), graph
    return smiles_of(graph, (smiles,)), graph["notes"]


@pytest.mark.parametrize("smiles", ["CC O", "CC\tO", "c1ccccc1 CCO"])
def test_whitespace_inside_a_smiles_is_an_error_not_a_name(smiles):
    reason = Featuriser()((smiles,))
    assert isinstance(reason, str) and reason.startswith("whitespace inside the SMILES")


def test_surrounding_whitespace_is_still_trimmed():
    assert used("  CCO ")[0] == "CCO"


@pytest.mark.parametrize(("smiles", "words"), [("*CC", "dummy atom"), ("[Og]", "Og (118)"),
                                                ("CC[Og]", "outside the elements")])
def test_dummy_atoms_and_elements_without_a_column_are_refused(smiles, words):
    for standardise in (False, True):
        reason = Featuriser(standardise=standardise)((smiles,))
        assert isinstance(reason, str) and words in reason


def test_without_standardisation_salts_metals_and_isotopes_are_used_and_noted():
    smiles, notes = used("CC(=O)[O-].[Na+]")
    assert smiles == "CC(=O)[O-].[Na+]"
    assert any(n.startswith("mixture: 2 fragments") for n in notes) and "metal: contains Na" in notes
    assert used("[Na+]")[1] == ["metal: a bare metal ion ([Na+]), no organic part"]
    assert used("[13CH3]O")[1][0].startswith("isotopes: 13C")
    assert used("CCO") == ("CCO", [])


def test_standardisation_keeps_the_largest_fragment_neutralises_and_says_so():
    smiles, notes = used("CC(=O)[O-].[Na+]", standardise=True)
    assert smiles == "CC(=O)O"
    assert notes == ["standardised: largest fragment: kept CC(=O)[O-], removed [Na+]",
                     "standardised: neutralised: CC(=O)[O-] -> CC(=O)O"]
    assert used("[2H]C([2H])([2H])O", standardise=True) == ("CO", ["standardised: isotopes removed: [2H]C([2H])([2H])O -> CO"])
    # quaternary ammonium cannot be neutralised: the cation stays, the counter-ion goes
    assert used("C[N+](C)(C)C.[Cl-]", standardise=True)[0] == "C[N+](C)(C)C"
    # a drawn metal bond is broken by cleanup, and the organic part kept
    assert used("CCO[Na]", standardise=True)[0] == "CCO"


def test_mixtures_can_be_kept_and_tautomers_are_off_by_default():
    smiles, notes = used("c1ccccc1C(=O)O.CCO", standardise=True, fragments="keep")
    assert smiles == "CCO.O=C(O)c1ccccc1" and any(n.startswith("mixture") for n in notes)
    assert used("Oc1ccccn1", standardise=True) == ("Oc1ccccn1", [])
    smiles, notes = used("Oc1ccccn1", standardise=True, tautomers=True)
    assert smiles == "O=c1cccc[nH]1" and notes[0].startswith("standardised: tautomer")
    with pytest.raises(Exception, match="largest"):
        Standardiser(fragments="smallest")


def test_standardisation_keeps_stereo():
    assert used("C[C@H](N)C(=O)[O-].[Na+]", standardise=True)[0] == "C[C@H](N)C(=O)O"


def test_a_table_reports_refusals_per_row_and_counts_notes(tmp_path):
    path = tmp_path / "hostile.csv"
    path.write_text("smiles,y\nCCO,1\nCC O,2\nCC(=O)[O-].[Na+],3\n*C,4\n[Na+],5\nCCCC,6\n")
    table = read_smiles_csv(path, targets=["y"])
    store = featurise_table(table, Featuriser())
    bad = {r["record"]: r["reason"] for r in store.meta["bad"]["records"]}
    assert "whitespace inside the SMILES 'CC O'" in bad["row 2 (line 3)"]
    assert "dummy atom" in bad["row 4 (line 5)"]
    assert len(store) == 4
    assert note_counts(store.meta["notes"]) == {"mixture": 1, "metal": 2}
