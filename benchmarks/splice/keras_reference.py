"""SpliceAI's own Keras models as the reference for sciarch's import of their weights (docs/splice.md).

Standalone (no sciarch import), so the ``predict`` step runs in a separate environment with
TensorFlow and the ``spliceai`` package; the other steps run anywhere::

    python keras_reference.py predict MODELS_DIR hg38.fa keras.npz        # in the Keras environment
    python keras_reference.py compare-predict keras.npz sciarch.tsv
    python keras_reference.py variants hg38.fa grch38.txt OUT_DIR         # genome.fa, genes.txt, variants.vcf
    python keras_reference.py compare-vcf keras.vcf sciarch.vcf
    python keras_reference.py speed MODELS_DIR BATCH SL REPEATS SEED      # in the Keras environment (speed.py)

``predict``: every base of every FASTA record, both strands, the mean of ``spliceai1.h5`` …
``spliceai5.h5`` with 5,000 N on each side (as ``sciarch splice predict`` reads past a contig's
ends); one thread. ``variants``: from Biopython 1.88's ``Tests/Blat/hg38.fa`` (hg38
chr13:75,549,820-75,605,809 and chr4:41,257,605-41,263,290) and SpliceAI's ``grch38.txt``, contigs
``13`` and ``4`` (the records with 5,000 N on each side) and ``13rc`` (the reverse complement of
``13``, so UCHL3 is a minus-strand gene there), the UCHL3/UCHL1 rows of the table moved onto them,
and 64 variants around their exon boundaries and in their introns (seeded).
"""

from __future__ import annotations

import random
import sys
import time

import numpy as np

PAD = 5000


def read_fasta(path: str) -> dict[str, str]:
    records: dict[str, list[str]] = {}
    name = None
    with open(path) as handle:
        lines = handle.read().splitlines()
    for line in lines:
        line = line.strip()
        if line.startswith(">"):
            name = line[1:].split()[0]
            records[name] = []
        elif name:
            records[name].append(line.upper())
    return {k: "".join(v) for k, v in records.items()}


def predict(models_dir: str, fasta: str, out: str) -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from keras.models import load_model

    models = [load_model(os.path.join(models_dir, f"spliceai{i}.h5"), compile=False) for i in range(1, 6)]
    table = np.zeros((256, 4), dtype=np.float32)
    for i, base in enumerate(b"ACGT"):
        table[base, i] = 1
    result, cpu, wall, positions = {}, time.process_time(), time.perf_counter(), 0
    for name, seq in read_fasta(fasta).items():
        x = table[np.frombuffer(("N" * PAD + seq + "N" * PAD).encode(), dtype=np.uint8)]
        for strand in "+-":
            xi = x if strand == "+" else x[::-1, ::-1]
            y = np.mean([m.predict(xi[None], verbose=0)[0] for m in models], axis=0)
            result[f"{name}|{strand}"] = (y if strand == "+" else y[::-1])[:, 1:3].astype(np.float32)
            positions += len(seq)
    np.savez(out, **result)
    print(f"{positions} positions x 5 models: {time.process_time() - cpu:.1f} CPU-s, {time.perf_counter() - wall:.1f} s")


def compare_predict(keras_npz: str, tsv: str) -> None:
    import csv

    keras = np.load(keras_npz)
    rows: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with open(tsv) as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            rows.setdefault((row["chrom"], row["strand"]), []).append((float(row["acceptor"]), float(row["donor"])))
    worst = 0.0
    for (chrom, strand), values in rows.items():
        diff = float(np.abs(np.asarray(values) - keras[f"{chrom}|{strand}"]).max())
        worst = max(worst, diff)
        print(f"{chrom} {strand}: {len(values)} positions, max |sciarch - keras| = {diff:.2e}")
    print(f"max |diff| over all: {worst:.2e}")


def complement(s: str) -> str:
    return s[::-1].translate(str.maketrans("ACGTN", "TGCAN"))


def variants(fasta: str, table_path: str, out_dir: str) -> None:
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    recs = read_fasta(fasta)
    contigs = {"13": "N" * PAD + recs["chr13:75549820-75605809"] + "N" * PAD,
               "4": "N" * PAD + recs["chr4:41257605-41263290"] + "N" * PAD}
    contigs["13rc"] = complement(contigs["13"])
    offsets = {"13": 75549819 - PAD, "4": 41257604 - PAD}
    with open(out / "genome.fa", "w") as f:
        for k, v in contigs.items():
            f.write(f">{k}\n" + "".join(v[i:i + 60] + "\n" for i in range(0, len(v), 60)))
    with open(table_path) as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle]
    by_name = {r[0]: r for r in rows[1:]}

    def exons(row: list[str], off: int) -> list[tuple[int, int]]:
        starts = [int(x) - off for x in row[5].split(",") if x]
        ends = [int(x) - off for x in row[6].split(",") if x]
        return list(zip(starts, ends, strict=True))

    genes = {"13": exons(by_name["UCHL3"], offsets["13"]),
             "4": [e for e in exons(by_name["UCHL1"], offsets["4"]) if e[1] <= len(contigs["4"]) - PAD]}
    length = len(contigs["13"])
    minus = [(length - e, length - s) for s, e in genes["13"][::-1]]

    def row(name: str, chrom: str, strand: str, ex: list[tuple[int, int]]) -> str:
        return "\t".join([name, chrom, strand, str(ex[0][0]), str(ex[-1][1]), "".join(f"{s}," for s, _ in ex),
                          "".join(f"{e}," for _, e in ex)])

    with open(out / "genes.txt", "w") as f:
        f.write("\t".join(rows[0]) + "\n" + row("UCHL3", "13", "+", genes["13"]) + "\n"
                + row("UCHL1", "4", "+", genes["4"]) + "\n" + row("UCHL3rc", "13rc", "-", minus) + "\n")
    rng = random.Random(11)
    found: list[tuple[str, int, str, str]] = []

    def add(chrom: str, pos: int, kind: str) -> None:
        s = contigs[chrom]
        ref = s[pos - 1]
        if ref == "N":
            return
        if kind == "snv":
            found.append((chrom, pos, ref, rng.choice([b for b in "ACGT" if b != ref])))
        elif kind == "del":
            n = rng.choice([1, 2, 4])
            found.append((chrom, pos, s[pos - 1:pos + n], ref))
        else:
            found.append((chrom, pos, ref, ref + "".join(rng.choice("ACGT") for _ in range(rng.choice([1, 3])))))

    for chrom in ("13", "4"):
        for s, e in genes[chrom][1:-1][:4]:
            for b in (s - 1, s, s + 1, e, e + 1, e + 2):  # 1-based: the acceptor's AG, the donor's GT
                add(chrom, b, "snv")
            add(chrom, s - 3, "del")
            add(chrom, e + 1, "ins")
    lo, hi = PAD + 100, length - PAD - 100
    for _ in range(8):
        add("13", rng.randint(lo, hi), "snv")
    add("13", rng.randint(lo, hi), "del")
    add("13", rng.randint(lo, hi), "ins")
    for chrom, pos, ref, alt in list(found[:6]):
        if chrom == "13" and len(ref) == len(alt) == 1:
            found.append(("13rc", length - pos + 1, complement(ref), complement(alt)))
    order = {"13": 0, "13rc": 1, "4": 2}
    found.sort(key=lambda v: (order[v[0]], v[1]))
    with open(out / "variants.vcf", "w") as f:
        f.write("##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={k},length={len(v)}>\n" for k, v in contigs.items()))
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for i, (c, p, r, a) in enumerate(found):
            f.write(f"{c}\t{p}\tv{i}\t{r}\t{a}\t.\t.\t.\n")
    print(f"{len(found)} variants, {len(contigs)} contigs -> {out}")


def compare_vcf(first: str, second: str) -> None:
    def entries(path: str) -> dict[tuple[str, ...], list[str]]:
        out = {}
        with open(path) as handle:
            lines = handle.read().splitlines()
        for line in lines:
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            info = dict(kv.split("=", 1) for kv in cols[7].split(";") if "=" in kv)
            for entry in filter(None, info.get("SpliceAI", "").split(",")):
                fields = entry.split("|")
                out[(cols[0], cols[1], cols[3], fields[0], fields[1])] = fields[2:]
        return out

    a, b = entries(first), entries(second)
    only = sorted(set(a) ^ set(b))
    if only:
        print(f"scored by one file only: {only}")
    worst, offsets, n = 0.0, 0, 0
    for key in sorted(set(a) & set(b)):
        if a[key][0] == "." or b[key][0] == ".":
            continue
        n += 1
        worst = max(worst, max(abs(float(x) - float(y)) for x, y in zip(a[key][:4], b[key][:4], strict=True)))
        offsets += sum(a[key][4 + i] != b[key][4 + i] for i in range(4))
    print(f"{n} allele-gene entries in both: max |DS difference| {worst:.2f}, differing DP fields {offsets}")


def speed(models_dir: str, batch: str, sl: str, repeats: str, seed: str) -> None:
    """One JSON line: CPU and wall seconds of each ``model.predict`` on ``BATCH`` random windows of
    ``SL + 10,000`` bases (the first model, then the five in turn), one thread."""
    import json
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    from keras.models import load_model

    models = [load_model(os.path.join(models_dir, f"spliceai{i}.h5"), compile=False) for i in range(1, 6)]
    codes = np.random.default_rng(int(seed)).integers(0, 4, (int(batch), int(sl) + 10000))
    x = np.eye(4, dtype=np.float32)[codes]
    models[0].predict(x, batch_size=len(x), verbose=0)  # warm-up (graph building)
    single, ensemble = [], []
    for _ in range(int(repeats)):
        cpu, wall = time.process_time(), time.perf_counter()
        y = models[0].predict(x, batch_size=len(x), verbose=0)
        single.append((time.process_time() - cpu, time.perf_counter() - wall))
    for m in models[1:]:
        m.predict(x[:1], verbose=0)
    for _ in range(int(repeats)):
        cpu, wall = time.process_time(), time.perf_counter()
        y = np.mean([m.predict(x, batch_size=len(x), verbose=0) for m in models], axis=0)
        ensemble.append((time.process_time() - cpu, time.perf_counter() - wall))
    assert y.shape == (int(batch), int(sl), 3)
    print(json.dumps({"single": single, "ensemble": ensemble, "tensorflow": tf.__version__,
                      "keras": keras.__version__, "positions": int(batch) * int(sl)}))


if __name__ == "__main__":
    commands = {"speed": speed, "predict": predict, "compare-predict": compare_predict, "variants": variants, "compare-vcf": compare_vcf}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
