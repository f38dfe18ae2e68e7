"""The training objective: end-of-keyword frame labels, clip decisions, confusion matrix output."""

from __future__ import annotations

import torch
from sciarch_keywords.task import KeywordSpotting, write_confusion
from sciarch_keywords.tc_resnet import tc_resnet
from sciarch_keywords.wavenet import wavenet_kws

CLASSES = ["yes", "no", "_unknown_", "_silence_"]


def task(**kwargs) -> KeywordSpotting:
    return KeywordSpotting(wavenet_kws(4, layers=2), class_names=CLASSES, **kwargs)


def test_end_of_keyword_labels_sit_around_the_end_of_the_word():
    t = task(label_before_s=0.05, label_after_s=0.1)
    labels = torch.tensor([0, 2, 3])
    # word ending at sample 8000 (frame 49 ends at sample 8000); an unknown word; silence
    spans = torch.tensor([[3000, 8000], [0, 4001], [0, 0]])
    targets = t.frame_targets(labels, spans, 100)
    assert torch.nonzero(targets[0] == 0).flatten().tolist() == list(range(44, 60))  # 49-5 … 49+10
    assert torch.nonzero(targets[1] == 2).flatten().tolist() == list(range(20, 36))  # ends in frame 25
    assert (targets[2] == 3).all()
    assert ((targets[0] == 3) | (targets[0] == 0)).all()


def test_clip_decision_is_the_highest_peak_if_it_reaches_the_threshold():
    t = task(detection_threshold=0.5)
    logits = torch.full((3, 4, 20), -10.0)
    logits[:, 3] = 10.0  # silence everywhere…
    logits[0, 1, 12] = 12.0  # …but "no" peaks clearly in clip 0
    logits[1, 0, 5] = 10.0  # "yes" reaches only 0.5 - ε… a tie with silence: not enough
    logits[1, 0, 5] = 9.9
    scores = t.clip_scores(logits)
    assert scores.argmax(dim=1).tolist() == [1, 3, 3]


def test_clip_objective_uses_the_last_frame():
    t = KeywordSpotting(tc_resnet(4), class_names=CLASSES, objective="clip")
    logits = torch.zeros(1, 4, 1)
    logits[0, 2, 0] = 5.0
    assert t.clip_scores(logits).argmax().item() == 2
    loss = t._loss(logits, torch.tensor([2]), torch.tensor([[0, 100]]))
    assert loss.item() < 0.05


def test_a_clip_model_cannot_learn_end_of_keyword_labels():
    import pytest
    import sciarch

    with pytest.raises(sciarch.ConfigError, match="objective: clip"):
        KeywordSpotting(tc_resnet(4), class_names=CLASSES, objective="end_of_keyword")
    with pytest.raises(sciarch.ConfigError, match="_silence_"):
        KeywordSpotting(wavenet_kws(3, layers=2), class_names=["yes", "no", "_unknown_"])


def test_confusion_matrix_is_written_as_png_and_csv(tmp_path):
    confusion = torch.tensor([[5, 1, 0, 0], [0, 6, 0, 0], [0, 0, 2, 1], [0, 0, 0, 3]])
    write_confusion(confusion, CLASSES, tmp_path)
    assert (tmp_path / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    rows = (tmp_path / "per_class_accuracy.csv").read_text().splitlines()
    assert rows[1] == "yes,6,0.8333" and rows[4] == "_silence_,3,1.0000"
    assert (tmp_path / "confusion_matrix.csv").read_text().splitlines()[1] == "yes,5,1,0,0"


def test_context_prepends_another_clip_and_labels_both_words():
    torch.manual_seed(0)
    t = task(context_probability=1.0, label_before_s=0.0, label_after_s=0.0)
    wave = torch.stack([torch.full((1600,), float(i + 1)) for i in range(4)])
    labels = torch.tensor([0, 1, 2, 3])
    spans = torch.tensor([[100, 800], [200, 900], [0, 1000], [0, 0]])
    audio, both_labels, both_spans = t.with_context(wave, labels, spans)
    assert audio.shape == (4, 3200)
    for i in range(4):
        j = int(audio[i, 0].item()) - 1  # which clip became the prefix
        assert torch.equal(audio[i, 1600:], wave[i]) and torch.equal(audio[i, :1600], wave[j])
        assert both_labels[i].tolist() == [labels[j].item(), labels[i].item()]
        assert both_spans[i, 1].tolist() == [spans[i, 0].item() + 1600, spans[i, 1].item() + 1600]
    targets = t.frame_targets(both_labels, both_spans, 20)
    for i in range(4):
        j = int(audio[i, 0].item()) - 1
        expected = {(spans[j, 1].item() + 159) // 160 - 1: labels[j].item()} if labels[j] != 3 else {}
        if labels[i] != 3:
            expected[(spans[i, 1].item() + 1600 + 159) // 160 - 1] = labels[i].item()
        found = {f: int(targets[i, f]) for f in range(20) if targets[i, f] != 3}
        assert found == expected


def test_connected_speech_puts_three_labelled_words_close_together():
    torch.manual_seed(0)
    t = task(connected_probability=1.0, context_probability=0.0)
    wave = torch.zeros(4, 16000)
    spans = torch.tensor([[2000, 6000], [3000, 9000], [0, 0], [5000, 12000]])
    for i in range(4):
        wave[i, spans[i, 0]: spans[i, 1]] = float(i + 1)
    labels = torch.tensor([0, 1, 3, 2])  # class 3 is silence: its clip is left as it was
    audio, all_labels, all_spans = t.connect(wave, labels, spans)
    assert audio.shape == wave.shape and all_labels.shape == (4, 3) and all_spans.shape == (4, 3, 2)
    assert torch.equal(audio[2], wave[2]) and all_labels[2].tolist() == [3, 3, 3]
    for i in (0, 1, 3):
        words = [k for k in range(3) if all_labels[i, k] != 3]
        assert labels[i].item() in [all_labels[i, k].item() for k in words]
        ends = []
        for k in words:
            a, b = all_spans[i, k].tolist()
            value = {0: 1.0, 1: 2.0, 2: 4.0}[all_labels[i, k].item()]
            assert torch.all(audio[i, a:b] == value)  # each span holds exactly its word
            ends.append((a, b))
        gaps = [ends[k + 1][0] - ends[k][1] for k in range(len(ends) - 1)]
        assert all(2 * 160 <= g <= 2 * 160 + int(0.08 * 16000) for g in gaps)  # 10 ms margins + 0-80 ms
        assert float(audio[i].abs().max()) <= 4.0 and float(audio[i][audio[i].abs() < 0.5].abs().max()) < 0.01
