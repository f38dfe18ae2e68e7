"""The imported Keras SpliceAI scores variants as SpliceAI itself does (needs the user's spliceai*.h5 files).

Set ``SCIARCH_SPLICEAI_MODELS`` to the folder holding ``spliceai1.h5`` … ``spliceai5.h5`` (the
``spliceai`` distribution's ``spliceai/models/``) to run it; nothing is downloaded. The sequence is
11 kb of hg38 around UCHL3's exons 4-6 (``data/uchl3_excerpt.fa``, from Biopython 1.88's
``Tests/Blat/hg38.fa``); the expected entries are SpliceAI 1.3.1's own output (TensorFlow 2.15,
``spliceai -D 50 -M 0`` and ``-M 1``) for these variants on the whole region, as documented in
docs/splice.md (``benchmarks/splice/keras_reference.py variants``). Every window lies inside the
excerpt and inside the transcript, so the inputs are the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MODELS = os.environ.get("SCIARCH_SPLICEAI_MODELS")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not MODELS or not all((Path(MODELS) / f"spliceai{i}.h5").is_file() for i in range(1, 6)),
    reason="set SCIARCH_SPLICEAI_MODELS to a folder with SpliceAI's spliceai1.h5 ... spliceai5.h5")]

DATA = Path(__file__).parent / "data"
# UCHL3 clipped to the excerpt: its exons 4-6 as they lie in it, and 10-base stand-ins at both ends for
# the exons beyond (the transcript runs past the excerpt on both sides, so no window sees N; the
# stand-ins are thousands of bases from every variant, so no nearest boundary changes)
TABLE = ("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
         "UCHL3\t13\t+\t0\t11000\t0,5175,5707,7940,10990,\t10,5332,5793,7988,11000,\n")
KERAS = [  # (POS in the excerpt, REF, ALT, SpliceAI's entry with -M 0, with -M 1)
    (5172, "TAGTA", "T",
     "T|UCHL3|0.98|0.99|0.00|0.00|10|3|17|3", "T|UCHL3|0.98|0.00|0.00|0.00|10|3|17|3"),
    (5174, "G", "T",
     "T|UCHL3|0.97|0.99|0.00|0.00|8|1|20|27", "T|UCHL3|0.97|0.00|0.00|0.00|8|1|20|27"),
    (5175, "T", "C",
     "C|UCHL3|0.00|0.00|0.00|0.00|0|7|0|28", "C|UCHL3|0.00|0.00|0.00|0.00|0|7|0|28"),
    (5176, "A", "G",
     "G|UCHL3|0.00|0.00|0.00|0.00|1|6|-1|31", "G|UCHL3|0.00|0.00|0.00|0.00|1|6|-1|31"),
    (5332, "G", "T",
     "T|UCHL3|0.00|0.00|0.01|1.00|39|-15|-2|-1", "T|UCHL3|0.00|0.00|0.01|0.00|39|-15|-2|-1"),
    (5333, "T", "G",
     "G|UCHL3|0.00|0.00|0.00|1.00|38|-16|43|-2", "G|UCHL3|0.00|0.00|0.00|0.00|38|-16|43|-2"),
    (5333, "T", "TA",
     "TA|UCHL3|0.00|0.00|0.00|0.00|-2|-24|-3|-2", "TA|UCHL3|0.00|0.00|0.00|0.00|-2|-24|-3|-2"),
    (5334, "A", "T",
     "T|UCHL3|0.00|0.00|0.00|0.60|37|-17|-2|-3", "T|UCHL3|0.00|0.00|0.00|0.00|37|-17|-2|-3"),
    (5704, "CAGAA", "C",
     "C|UCHL3|0.63|1.00|0.00|0.00|35|3|29|3", "C|UCHL3|0.63|0.00|0.00|0.00|35|3|29|3"),
    (5706, "G", "T",
     "T|UCHL3|0.46|0.99|0.00|-0.00|33|1|33|-27", "T|UCHL3|0.46|0.00|0.00|-0.00|33|1|33|-27"),
    (5707, "A", "C",
     "C|UCHL3|0.00|0.00|0.00|0.00|-33|0|0|-33", "C|UCHL3|0.00|0.00|0.00|0.00|-33|0|0|-33"),
    (5708, "A", "C",
     "C|UCHL3|0.00|0.00|0.00|0.00|-34|2|14|-1", "C|UCHL3|0.00|0.00|0.00|0.00|-34|2|14|-1"),
    (5793, "G", "A",
     "A|UCHL3|0.00|0.00|0.47|0.96|-3|-1|3|-1", "A|UCHL3|0.00|0.00|0.47|0.00|-3|-1|3|-1"),
    (5794, "T", "A",
     "A|UCHL3|0.00|0.00|0.48|0.96|28|2|2|-2", "A|UCHL3|0.00|0.00|0.48|0.00|28|2|2|-2"),
    (5794, "T", "TT",
     "TT|UCHL3|0.00|0.00|0.46|0.47|28|2|2|-2", "TT|UCHL3|0.00|0.00|0.46|0.00|28|2|2|-2"),
    (5795, "C", "A",
     "A|UCHL3|0.00|0.00|0.04|0.42|-31|1|-3|1", "A|UCHL3|0.00|0.00|0.04|0.00|-31|1|-3|1"),
]


def test_delta_scores_equal_spliceai_keras_own(tmp_path):
    from sciarch.cli import main

    assert main(["splice", "import-weights", MODELS, "--out", str(tmp_path / "run")]) == 0
    fasta = tmp_path / "uchl3.fa"  # a copy: the .fai index is written beside it, not into the source tree
    fasta.write_text((DATA / "uchl3_excerpt.fa").read_text())
    (tmp_path / "genes.txt").write_text(TABLE)
    (tmp_path / "in.vcf").write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(
        f"13\t{pos}\tv{i}\t{ref}\t{alt}\t.\t.\t.\n" for i, (pos, ref, alt, _, _) in enumerate(KERAS)))
    for column, mask in ((3, "0"), (4, "1")):
        out = tmp_path / f"out{mask}.vcf"
        assert main(["splice", "score-variants", "--checkpoint", str(tmp_path / "run"), "--vcf", str(tmp_path / "in.vcf"),
                     "--fasta", str(fasta), "-A", str(tmp_path / "genes.txt"), "-D", "50",
                     "-M", mask, "--output", str(out)]) == 0
        ours = [line.split("\t")[7].removeprefix("SpliceAI=").split("|")
                for line in out.read_text().splitlines() if not line.startswith("#")]
        for row, got in zip(KERAS, ours, strict=True):
            want = row[column].split("|")
            assert got[:2] == want[:2]
            assert max(abs(float(a) - float(b)) for a, b in zip(got[2:6], want[2:6], strict=True)) <= 0.01, (row, got)
            strong = [i for i in range(4) if float(want[2 + i]) >= 0.05]
            assert [got[6 + i] for i in strong] == [want[6 + i] for i in strong], (row, got)
