"""Rooms and microphones for training clips (``sciarch_keywords.rooms``) and vocal-tract warping."""

from __future__ import annotations

import math

import torch


def test_impulse_response_has_the_asked_direct_to_reverberant_ratio_and_decay():
    from sciarch_keywords.rooms import room_impulse_response

    torch.manual_seed(0)
    for rt60, drr in ((0.3, 0.0), (0.8, 10.0)):
        h = room_impulse_response(rt60, drr)
        assert h[0] == 1.0
        assert math.isclose(10 * math.log10(1.0 / float(h[1:].pow(2).sum())), drr, abs_tol=1e-3)
        # energy in the second 100 ms is well below the first (decay), more so in the drier room
        first, second = float(h[1:1600].pow(2).sum()), float(h[1600:3200].pow(2).sum())
        expected_db = 10 * math.log10(math.exp(-2 * 6.91 * 0.1 / rt60))
        assert 10 * math.log10(second / first) < expected_db + 4.0


def test_reverberation_keeps_the_peak_and_smears_an_impulse():
    from sciarch_keywords.rooms import reverberate, room_impulse_response

    torch.manual_seed(1)
    wave = torch.zeros(16000)
    wave[1000] = 0.5
    out = reverberate(wave, room_impulse_response(0.5, 3.0))
    assert math.isclose(float(out.abs().max()), 0.5, rel_tol=1e-5)
    assert float(out[:999].abs().max()) < 1e-5  # causal: nothing before the sound
    assert int((out[1001:9000].abs() > 1e-3).sum()) > 1000  # a tail after it


def test_channel_band_limit_codecs_and_clipping():
    from sciarch_keywords.rooms import RoomAndChannel, band_limit, mu_law

    t = torch.arange(16000) / 16000
    low, mid, high = (torch.sin(2 * math.pi * f * t) for f in (40.0, 1000.0, 7500.0))
    assert float(band_limit(low, 300, 3400).pow(2).mean()) < 0.05 * float(low.pow(2).mean())
    assert float(band_limit(high, 300, 3400).pow(2).mean()) < 0.05 * float(high.pow(2).mean())
    assert float(band_limit(mid, 300, 3400).pow(2).mean()) > 0.9 * float(mid.pow(2).mean())
    x = 0.3 * mid
    assert 0 < float((mu_law(x) - x).abs().max()) < 0.02  # 8-bit μ-law: small, non-zero error
    torch.manual_seed(0)
    room = RoomAndChannel(channel_probability=1.0, gain_db=(30.0, 30.0), codec_probability=0.0)
    assert float(room.channel(x).abs().max()) <= 1.0  # 30 dB of gain clips at full scale
    assert not RoomAndChannel().active


def test_vocal_tract_warp_moves_energy_along_the_mel_axis():
    from sciarch_keywords.augment import warp_mel

    features = torch.zeros(8, 40, 5)
    features[:, 20] = 1.0
    assert torch.equal(warp_mel(features, 0.0), features)
    torch.manual_seed(0)
    warped = warp_mel(features, 0.1)
    centre = (warped * torch.arange(40.0)[None, :, None]).sum(1) / warped.sum(1)
    assert float(centre.min()) >= 20 / 1.1 - 0.5 and float(centre.max()) <= 20 / 0.9 + 0.5
    assert float(centre.std()) > 0.3  # a factor per example
