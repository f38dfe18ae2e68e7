"""import-weights: Keras SpliceAI HDF5 files and OpenSpliceAI state dicts become runs that compute
what the original networks compute.

The files are written here, with the published layouts (Keras 2 ``model.save`` HDF5: a
``model_config`` graph and ``model_weights/<layer>/<layer>/kernel:0``; OpenSpliceAI's state-dict
names), filled with random weights; the reference is a forward pass in numpy over the arrays as
they lie in the files, in Keras's (length, channels) layout.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import sciarch
import torch

h5py = pytest.importorskip("h5py")

UNITS_80 = [(11, 1)] * 4


# -- a numpy SpliceAI over Keras-layout arrays -------------------------------------------------------


def random_params(rng: np.random.Generator, units: list[tuple[int, int]], channels: int) -> dict:
    def conv(k: int, cin: int, cout: int, scale: float = 1.0) -> dict:
        return {"kernel": rng.normal(0, scale / np.sqrt(k * cin), (k, cin, cout)).astype(np.float32),
                "bias": rng.normal(0, 0.1, cout).astype(np.float32)}

    def norm() -> dict:
        # gamma / sqrt(variance) near 1 keeps the activations (and the softmax) away from saturation
        return {"gamma": rng.uniform(0.02, 0.1, channels).astype(np.float32),
                "beta": rng.normal(0, 0.2, channels).astype(np.float32),
                "moving_mean": rng.normal(0, 0.3, channels).astype(np.float32),
                # small variances make the epsilon matter: a wrong one would fail the comparison
                "moving_variance": rng.uniform(0.0005, 0.02, channels).astype(np.float32)}

    return {"input": conv(1, 4, channels), "skip_in": conv(1, channels, channels),
            "units": [{"bn1": norm(), "conv1": conv(w, channels, channels), "bn2": norm(),
                       "conv2": conv(w, channels, channels), "w": w, "d": d} for w, d in units],
            "taps": [conv(1, channels, channels) for i in range(len(units)) if (i + 1) % 4 == 0 or i + 1 == len(units)],
            "output": conv(1, channels, 3, scale=0.5)}


def np_conv(x: np.ndarray, p: dict, d: int = 1) -> np.ndarray:
    """Keras Conv1D, padding 'same': ``x (L, in)``, kernel ``(k, in, out)``."""
    k = p["kernel"].shape[0]
    half = d * (k - 1) // 2
    padded = np.pad(x, ((half, half), (0, 0)))
    out = np.zeros((len(x), p["kernel"].shape[2]), dtype=np.float64)
    for j in range(k):
        out += padded[j * d:j * d + len(x)] @ p["kernel"][j]
    return out + p["bias"]


def np_spliceai(x: np.ndarray, params: dict, eps: float, slope: float = 0.0, temperature=(1.0, 1.0, 1.0)) -> np.ndarray:
    """``x (L, 4)`` one-hot → ``(L − CL, 3)`` softmax, as SpliceAI's Keras graph computes it."""
    def bn(h: np.ndarray, p: dict) -> np.ndarray:
        return p["gamma"] * (h - p["moving_mean"]) / np.sqrt(p["moving_variance"] + eps) + p["beta"]

    def act(h: np.ndarray) -> np.ndarray:
        return np.where(h > 0, h, slope * h)

    h = np_conv(x, params["input"])
    skip = np_conv(h, params["skip_in"])
    taps = iter(params["taps"])
    n = len(params["units"])
    for i, u in enumerate(params["units"]):
        r = np_conv(act(bn(h, u["bn1"])), u["conv1"], u["d"])
        h = h + np_conv(act(bn(r, u["bn2"])), u["conv2"], u["d"])
        if (i + 1) % 4 == 0 or i + 1 == n:
            skip = skip + np_conv(h, next(taps))
    context = 2 * sum(u["d"] * (u["w"] - 1) for u in params["units"])
    logits = np_conv(skip[context // 2:len(skip) - context // 2], params["output"]) / np.asarray(temperature)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# -- writers for the two published layouts --------------------------------------------------------


def write_keras_h5(path, params: dict, eps: float = 1e-3, *, start: int = 1, crop: int | None = None) -> None:
    """A Keras 2 ``model.save`` file: the functional graph in ``model_config``, weights by layer."""
    counters: dict[str, int] = {}
    layers, weights = [], {}

    def name_of(kind: str) -> str:
        counters[kind] = counters.get(kind, start - 1) + 1
        return f"{kind}_{counters[kind]}"

    def layer(kind: str, class_name: str, inbound: list[str], config: dict, w: dict | None = None) -> str:
        name = name_of(kind)
        layers.append({"name": name, "class_name": class_name, "config": {"name": name, **config},
                       "inbound_nodes": [[[s, 0, 0, {}] for s in inbound]] if inbound else []})
        weights[name] = w or {}
        return name

    def conv(inbound: str, p: dict, d: int = 1, activation: str = "linear") -> str:
        k, _, filters = p["kernel"].shape
        return layer("conv1d", "Conv1D", [inbound], {"filters": filters, "kernel_size": [k], "dilation_rate": [d],
                                                    "strides": [1], "padding": "same" if k > 1 else "valid",
                                                    "activation": activation}, p)

    def norm(inbound: str, p: dict) -> str:
        return layer("batch_normalization", "BatchNormalization", [inbound],
                     {"axis": -1, "epsilon": eps, "momentum": 0.99, "center": True, "scale": True}, p)

    x = layer("input", "InputLayer", [], {"batch_input_shape": [None, None, 4]})
    h = conv(x, params["input"])
    skip = conv(h, params["skip_in"])
    taps = iter(params["taps"])
    n = len(params["units"])
    for i, u in enumerate(params["units"]):
        a = layer("activation", "Activation", [norm(h, u["bn1"])], {"activation": "relu"})
        c = conv(a, u["conv1"], u["d"])
        a = layer("activation", "Activation", [norm(c, u["bn2"])], {"activation": "relu"})
        c = conv(a, u["conv2"], u["d"])
        h = layer("add", "Add", [c, h], {})
        if (i + 1) % 4 == 0 or i + 1 == n:
            skip = layer("add", "Add", [skip, conv(h, next(taps))], {})
    context = 2 * sum(u["d"] * (u["w"] - 1) for u in params["units"])
    half = context // 2 if crop is None else crop
    cropped = layer("cropping1d", "Cropping1D", [skip], {"cropping": [half, half]})
    out = conv(cropped, params["output"], activation="softmax")
    config = {"class_name": "Model", "config": {"name": "model_1", "layers": layers,
                                                "input_layers": [[x, 0, 0]], "output_layers": [[out, 0, 0]]}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.0.5"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode()
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([lay["name"].encode() for lay in layers])
        for name, w in weights.items():
            g = group.create_group(name)
            names = [f"{name}/{key}:0".encode() for key in w]
            g.attrs["weight_names"] = np.array(names) if names else np.array([], dtype="S1")
            for key, value in w.items():
                g.create_dataset(f"{name}/{key}:0", data=value)


def openspliceai_state(params: dict) -> dict[str, torch.Tensor]:
    """The same weights under OpenSpliceAI's names, in PyTorch's (out, in, k) layout."""
    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a))

    state: dict[str, torch.Tensor] = {}

    def conv(prefix: str, p: dict) -> None:
        state[f"{prefix}.weight"] = t(p["kernel"].transpose(2, 1, 0))
        state[f"{prefix}.bias"] = t(p["bias"])

    def norm(prefix: str, p: dict) -> None:
        state.update({f"{prefix}.weight": t(p["gamma"]), f"{prefix}.bias": t(p["beta"]),
                      f"{prefix}.running_mean": t(p["moving_mean"]), f"{prefix}.running_var": t(p["moving_variance"]),
                      f"{prefix}.num_batches_tracked": torch.tensor(7)})

    conv("initial_conv", params["input"])
    conv("initial_skip.conv", params["skip_in"])
    j, taps = 0, iter(params["taps"])
    for i, u in enumerate(params["units"]):
        norm(f"residual_units.{j}.batchnorm1", u["bn1"])
        conv(f"residual_units.{j}.conv1", u["conv1"])
        norm(f"residual_units.{j}.batchnorm2", u["bn2"])
        conv(f"residual_units.{j}.conv2", u["conv2"])
        j += 1
        if (i + 1) % 4 == 0:
            conv(f"residual_units.{j}.conv", next(taps))
            j += 1
    conv("final_conv", params["output"])
    return state


def one_hot(rng: np.random.Generator, length: int) -> np.ndarray:
    codes = rng.integers(0, 5, length)  # 4 = N: all zeros
    return np.eye(5, dtype=np.float32)[codes][:, :4]


def run_probabilities(run_dir, x: np.ndarray) -> np.ndarray:
    """Mean softmax of a run's members on ``x (L, 4)``: ``(L − CL, 3)``."""
    tasks = sciarch.Run(run_dir).tasks()
    with torch.no_grad():
        probs = [torch.softmax(task.model(torch.from_numpy(x.T.copy())[None]), dim=1)[0].T.numpy() for task in tasks]
    return np.mean(probs, axis=0)


# -- tests ------------------------------------------------------------------------------------------


def test_keras_import_equals_the_keras_graph_forward_pass(tmp_path):
    from sciarch_splice.weights import import_weights

    rng = np.random.default_rng(0)
    params = [random_params(rng, UNITS_80, channels=6) for _ in range(2)]
    models = tmp_path / "site-packages" / "spliceai" / "models"
    models.mkdir(parents=True)
    for i, p in enumerate(params):  # layer numbering continues across files, as in a training session
        write_keras_h5(models / f"spliceai{i + 1}.h5", p, start=1 + 50 * i)
    meta = tmp_path / "site-packages" / "spliceai-9.9.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: spliceai\nVersion: 9.9\nLicense: GPLv3\n\nbody\n")
    summary = import_weights([models], tmp_path / "run")
    assert summary["ensemble"] == 2 and summary["imported"]["licenses"] == ["GPLv3"]

    x = one_hot(rng, 80 + 300)
    reference = np.mean([np_spliceai(x, p, eps=1e-3) for p in params], axis=0)
    assert reference.min() > 1e-4 and reference.max() < 0.9999  # not saturated: the comparison means something
    ours = run_probabilities(tmp_path / "run", x)
    assert ours.shape == (300, 3)
    assert np.abs(ours - reference).max() <= 1e-5
    # the epsilon matters: with torch's default the same weights give other numbers
    assert np.abs(np.mean([np_spliceai(x, p, eps=1e-5) for p in params], axis=0) - reference).max() > 1e-3

    provenance = json.loads((tmp_path / "run" / "provenance.json").read_text())
    import hashlib

    first = provenance["files"][0]
    assert first["sha256"] == hashlib.sha256((models / "spliceai1.h5").read_bytes()).hexdigest()
    assert "spliceai 9.9" in first["license_source"]
    config = sciarch.Run(tmp_path / "run").config
    assert config.model.name == "splice/spliceai-80" and config.model.args["eps"] == pytest.approx(1e-3)
    assert config.ensemble == 2 and config.data.args["context"] == 80


def test_openspliceai_import_equals_its_forward_pass(tmp_path):
    from sciarch_splice.weights import import_weights

    rng = np.random.default_rng(1)
    units = [(11, 1)] * 4 + [(11, 4)] * 4
    params = random_params(rng, units, channels=5)
    torch.save(openspliceai_state(params), tmp_path / "model_400nt_rs10.pt")
    import_weights([tmp_path / "model_400nt_rs10.pt"], tmp_path / "run", license="as the user states it")
    x = one_hot(rng, 400 + 120)
    reference = np_spliceai(x, params, eps=1e-5, slope=0.1)
    assert reference.min() > 1e-4 and reference.max() < 0.9999  # not saturated: the comparison means something
    assert np.abs(np_spliceai(x, params, eps=1e-5, slope=0.0) - reference).max() > 1e-3  # the slope matters
    assert np.abs(run_probabilities(tmp_path / "run", x) - reference).max() <= 1e-5
    config = sciarch.Run(tmp_path / "run").config
    assert config.model.name == "splice/spliceai-400" and config.model.args["negative_slope"] == pytest.approx(0.1)

    # the calibrated, versioned form: its temperatures divide the logits
    temperature = torch.tensor([1.0, 1.7, 0.6])
    torch.save({"format_version": 1, "state_dict": openspliceai_state(params), "flanking_size": 400,
                "temperature": temperature, "class_names": ["non_splice", "acceptor", "donor"]},
               tmp_path / "calibrated.pt")
    import_weights([tmp_path / "calibrated.pt"], tmp_path / "calibrated")
    expected = np_spliceai(x, params, eps=1e-5, slope=0.1, temperature=temperature.numpy())
    assert np.abs(expected - reference).max() > 1e-2
    assert np.abs(run_probabilities(tmp_path / "calibrated", x) - expected).max() <= 1e-5


def test_import_refuses_what_is_not_spliceai(tmp_path):
    from sciarch_splice.weights import import_weights

    rng = np.random.default_rng(2)
    write_keras_h5(tmp_path / "bad.h5", random_params(rng, UNITS_80, channels=3), crop=7)
    with pytest.raises(sciarch.DataError, match="cropping") as info:
        import_weights([tmp_path / "bad.h5"], tmp_path / "run")
    assert "bad.h5" in str(info.value)
    state = openspliceai_state(random_params(rng, UNITS_80, channels=3))
    state["residual_units.2.extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "odd.pt")
    with pytest.raises(sciarch.DataError, match="odd.pt"):
        import_weights([tmp_path / "odd.pt"], tmp_path / "run")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    write_keras_h5(tmp_path / "ok.h5", random_params(rng, UNITS_80, channels=3))
    with pytest.raises(sciarch.UsageError, match="not an empty folder"):
        import_weights([tmp_path / "ok.h5"], tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


# -- ensembles: predict, score-variants and evaluate average the members ------------------------------


@pytest.fixture
def ensemble_run(tmp_path):
    """Two random SpliceAI-80 members imported from Keras-layout files, and their parameters."""
    from sciarch_splice.weights import import_weights

    rng = np.random.default_rng(5)
    params = [random_params(rng, UNITS_80, channels=4) for _ in range(2)]
    for i, p in enumerate(params):
        write_keras_h5(tmp_path / f"spliceai{i + 1}.h5", p)
    import_weights([tmp_path / "spliceai1.h5", tmp_path / "spliceai2.h5"], tmp_path / "run")
    return tmp_path / "run", params


def ensemble_reference(params: list[dict], x: np.ndarray) -> np.ndarray:
    return np.mean([np_spliceai(x, p, eps=1e-3) for p in params], axis=0)


def test_predict_on_an_ensemble_run_averages_its_members(ensemble_run, tmp_path):
    from sciarch.cli import main

    run, params = ensemble_run
    rng = np.random.default_rng(6)
    seq = "".join(rng.choice(list("ACGT"), 300))
    (tmp_path / "t.fa").write_text(f">chrT\n{seq}\n")
    out = tmp_path / "t.tsv"
    assert main(["splice", "predict", "--checkpoint", str(run), "--fasta", str(tmp_path / "t.fa"),
                 "--output", str(out), "--block-length", "70"]) == 0
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    x = np.eye(5, dtype=np.float32)[["ACGTN".index(b) for b in "N" * 40 + seq + "N" * 40]][:, :4]
    expected = {"+": ensemble_reference(params, x)[:, 1:3],
                "-": ensemble_reference(params, x[::-1, ::-1].copy())[::-1, 1:3]}
    for strand in "+-":
        ours = np.array([[float(r[3]), float(r[4])] for r in rows if r[2] == strand])
        assert ours.shape == (300, 2)
        assert np.abs(ours - expected[strand]).max() <= 1e-4  # 4 decimals written


def test_score_variants_on_an_ensemble_run_averages_its_members(ensemble_run, tmp_path):
    from sciarch.cli import main

    run, params = ensemble_run
    rng = np.random.default_rng(7)
    seq = "".join(rng.choice(list("ACGT"), 400))
    (tmp_path / "t.fa").write_text(f">chrT\n{seq}\n")
    (tmp_path / "t.gtf").write_text(
        'chrT\tt\texon\t51\t150\t.\t+\t.\tgene_id "G"; gene_name "GENE"; transcript_id "G.1";\n'
        'chrT\tt\texon\t251\t350\t.\t+\t.\tgene_id "G"; gene_name "GENE"; transcript_id "G.1";\n')
    pos = 200  # 1-based
    alt = "A" if seq[pos - 1] != "A" else "C"
    (tmp_path / "in.vcf").write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                                     f"chrT\t{pos}\tv\t{seq[pos - 1]}\t{alt}\t.\tPASS\t.\n")
    assert main(["splice", "score-variants", "--checkpoint", str(run), "--vcf", str(tmp_path / "in.vcf"),
                 "--fasta", str(tmp_path / "t.fa"), "--annotation", str(tmp_path / "t.gtf"),
                 "--output", str(tmp_path / "out.vcf"), "-D", "30"]) == 0
    line = [ln for ln in (tmp_path / "out.vcf").read_text().splitlines() if not ln.startswith("#")][0]
    fields = line.split("\t")[7].removeprefix("SpliceAI=").split("|")
    # the reference: windows of 80 + 61 bases around the variant, N outside the gene (50-350, 1-based)
    lo = pos - 1 - (80 + 61) // 2
    window = [seq[i] if 50 <= i < 350 else "N" for i in range(lo, lo + 141)]
    alt_window = window.copy()
    alt_window[(80 + 61) // 2] = alt

    def encode(bases: list[str]) -> np.ndarray:
        return np.eye(5, dtype=np.float32)[["ACGTN".index(b) for b in bases]][:, :4]

    delta = ensemble_reference(params, encode(alt_window)) - ensemble_reference(params, encode(window))
    expected = [delta[:, 1].max(), (-delta[:, 1]).max(), delta[:, 2].max(), (-delta[:, 2]).max()]
    assert fields[:2] == [alt, "GENE"]
    assert max(abs(float(f) - max(0.0, e)) for f, e in zip(fields[2:6], expected, strict=True)) <= 0.0051
    assert max(expected) > 0.02  # the variant does change something: the comparison is not 0 == 0


def test_evaluate_scores_an_ensemble_on_its_mean_probabilities(tmp_path):
    from sciarch_splice.weights import import_weights

    rng = np.random.default_rng(8)
    p = random_params(rng, UNITS_80, channels=4)
    q = random_params(rng, UNITS_80, channels=4)
    write_keras_h5(tmp_path / "a.h5", p)
    write_keras_h5(tmp_path / "b.h5", q)
    small = {"simulate_chromosomes": 4, "simulate_genes": 2, "val_chromosomes": ["chr2"], "block_length": 500,
             "limit_train_genes": 1, "limit_eval_genes": 1}
    import_weights([tmp_path / "a.h5", tmp_path / "a.h5"], tmp_path / "twins")
    twins = sciarch.evaluate(sciarch.Run(tmp_path / "twins"), data_overrides=small, accelerator="cpu")
    assert twins["combined"]["test/topk"] == pytest.approx(twins["metrics"]["test/topk"]["mean"], abs=1e-6)
    import_weights([tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "pair")
    pair = sciarch.evaluate(sciarch.Run(tmp_path / "pair"), data_overrides=small, accelerator="cpu")
    combined = pair["combined"]
    assert set(combined) >= {"test/topk_acceptor", "test/topk_donor", "test/prauc_acceptor", "test/prauc_donor"}
    assert all(0.0 <= v <= 1.0 for v in combined.values())
    assert combined["test/prauc"] != pytest.approx(twins["combined"]["test/prauc"])


def test_import_weights_command(tmp_path):
    from sciarch.cli import main

    write_keras_h5(tmp_path / "spliceai1.h5", random_params(np.random.default_rng(9), UNITS_80, channels=3))
    assert main(["splice", "import-weights", str(tmp_path / "spliceai1.h5"), "--out", str(tmp_path / "run"),
                 "--license", "CC BY-NC 4.0 (as my copy states)"]) == 0
    provenance = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert provenance["licenses"] == ["CC BY-NC 4.0 (as my copy states)"]
    assert provenance["files"][0]["license_source"] == "given with --license"
    assert main(["splice", "import-weights", str(tmp_path / "nothing.h5"), "--out", str(tmp_path / "r2")]) == 2
