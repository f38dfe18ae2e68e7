"""Atomic writes, bad-record accounting, cache keys, optional imports."""

from __future__ import annotations

from pathlib import Path

import pytest
from sciarch import BadRecords, DataError, MissingDependencyError, require
from sciarch.cache import cache_dir, content_key
from sciarch.imports import extra_for_module, install_hint
from sciarch.io import atomic_dir, atomic_write, write_json


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "summary.json"
    write_json(path, {"status": "completed"})
    with pytest.raises(RuntimeError), atomic_write(path) as handle:
        handle.write('{"status": "half')
        raise RuntimeError("disk full")
    assert path.read_text().startswith('{\n  "status": "completed"')
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary file left


def test_atomic_dir_replaces_only_when_complete(tmp_path):
    target = tmp_path / "shards"
    with atomic_dir(target) as tmp:
        (tmp / "a.npy").write_text("1")
    with pytest.raises(KeyboardInterrupt), atomic_dir(target) as tmp:
        (tmp / "b.npy").write_text("2")
        raise KeyboardInterrupt
    assert sorted(p.name for p in target.iterdir()) == ["a.npy"]
    assert [p.name for p in tmp_path.iterdir()] == ["shards"]


def test_atomic_dir_survives_writers_finishing_the_same_folder_at_once(tmp_path):
    import threading

    target, writers = tmp_path / "cache", 8
    barrier, errors = threading.Barrier(writers, timeout=60), []

    def write(i: int) -> None:
        try:
            with atomic_dir(target) as tmp:
                (tmp / "writer").write_text(str(i))
                (tmp / "done").write_text("yes")
                barrier.wait()  # every writer renames at the same moment
        except Exception as error:  # noqa: BLE001 - collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(p.name for p in target.iterdir()) == ["done", "writer"]  # one writer's whole folder
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]  # nothing moved aside is left


def test_bad_records_are_counted_reported_and_strict_mode_raises():
    report = BadRecords(source="mols.csv")
    report.skip("RDKit: explicit valence for atom 3 N is 4", record="row 7", kind="invalid SMILES")
    report.skip("RDKit: unclosed ring", record="row 9", kind="invalid SMILES")
    report.skip("empty target", record=12)
    assert len(report) == 3
    assert report.summary() == "mols.csv: skipped 3 bad record(s) (2 invalid SMILES, 1 empty target)"
    assert str(report.records[0]) == "mols.csv: row 7: RDKit: explicit valence for atom 3 N is 4"
    assert report.to_dict()["records"][2]["record"] == "record 12"
    with pytest.raises(DataError, match=r"^mols.csv: row 7: bad$"):
        BadRecords(source="mols.csv", strict=True).skip("bad", record="row 7")


def test_content_key_follows_file_content_not_name(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "c"))
    assert cache_dir("molecules") == tmp_path / "c" / "molecules"
    f = tmp_path / "in.csv"
    f.write_text("smiles\nCCO\n")
    key = content_key({"radius": 2}, Path(f))
    assert content_key({"radius": 2}, Path(f)) == key
    assert content_key({"radius": 3}, Path(f)) != key
    f.write_text("smiles\nCCN\n")
    assert content_key({"radius": 2}, Path(f)) != key


def test_require_names_the_extra_to_install():
    assert require("json").dumps([]) == "[]"
    with pytest.raises(MissingDependencyError) as raised:
        require("not_installed_lib", extra="audio")
    assert str(raised.value) == f"not_installed_lib not installed: {install_hint('sciarch', 'audio')}"
    assert extra_for_module("Bio.SeqIO") == "genomics"
    assert extra_for_module("torch_geometric.nn") == "chemistry"
    assert extra_for_module("torchvision") == "physics"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_get_the_mode_an_ordinary_write_would(tmp_path, umask):
    import os
    import stat

    previous = os.umask(umask)
    try:
        with open(tmp_path / "plain.txt", "w") as handle:
            handle.write("x")
        (tmp_path / "plain-dir").mkdir()
        with atomic_write(tmp_path / "atomic.txt") as handle:
            handle.write("x")
        write_json(tmp_path / "summary.json", {"a": 1})
        with atomic_dir(tmp_path / "shard") as folder:
            (folder / "f").write_text("x")
    finally:
        os.umask(previous)

    def mode(name: str) -> int:
        return stat.S_IMODE((tmp_path / name).stat().st_mode)

    assert mode("atomic.txt") == mode("summary.json") == mode("plain.txt") == 0o666 & ~umask
    assert mode("shard") == mode("plain-dir") == 0o777 & ~umask
