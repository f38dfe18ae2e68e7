"""SpliceAI as published (context, units, receptive field) and the S4D layer (kernel = recurrence)."""

from __future__ import annotations

import pytest
import torch
from sciarch_splice.spliceai import SPLICEAI_UNITS, spliceai_2k, spliceai_10k, spliceai_80, spliceai_400
from sciarch_splice.ssm import S4DKernel, fft_convolution, next_fast_length, splice_ssm, splice_ssm_hybrid


@pytest.mark.parametrize("builder,context,units", [(spliceai_80, 80, 4), (spliceai_400, 400, 8),
                                                    (spliceai_2k, 2000, 12), (spliceai_10k, 10000, 16)])
def test_spliceai_variants_have_the_published_context_and_units(builder, context, units):
    model = builder()
    assert model.context == context and len(model.units) == units
    assert {u.conv1.out_channels for u in model.units} == {32}
    assert len(model.skips) == units // 4  # a 1x1 skip after every 4 units
    assert model(torch.zeros(1, 4, context + 7)).shape == (1, 3, 7)


@pytest.mark.parametrize("kernel,dilation,length", [(11, 4, 103), (41, 25, 1000), (21, 10, 7), (11, 1, 50)])
def test_space_to_batch_dilated_convolution_equals_conv1d(kernel, dilation, length):
    from sciarch_splice.spliceai import DilatedConv1d

    torch.manual_seed(0)
    conv = DilatedConv1d(3, 5, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
    x = torch.randn(2, 3, length, requires_grad=True)
    ours = conv(x)
    reference = torch.nn.functional.conv1d(x, conv.weight, conv.bias, dilation=dilation,
                                           padding=dilation * (kernel - 1) // 2)
    assert ours.shape == reference.shape and torch.allclose(ours, reference, atol=1e-5)
    grad_ours = torch.autograd.grad(ours.square().sum(), (x, conv.weight))
    grad_ref = torch.autograd.grad(reference.square().sum(), (x, conv.weight))
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(grad_ours, grad_ref, strict=True))


def test_spliceai_10k_units_are_11_1_11_4_21_10_41_25():
    pairs = [(u.kernel_size, u.dilation) for u in spliceai_10k().units]
    assert pairs == [(11, 1)] * 4 + [(11, 4)] * 4 + [(21, 10)] * 4 + [(41, 25)] * 4
    assert list(SPLICEAI_UNITS["10k"]) == pairs


@pytest.mark.parametrize("builder", [spliceai_80, spliceai_400])
def test_spliceai_output_sees_exactly_half_the_context_on_each_side(builder):
    torch.manual_seed(0)
    model = builder(channels=4).double().eval()
    for module in model.modules():  # keep every ReLU open so no path to the output is cut by chance
        if isinstance(module, torch.nn.BatchNorm1d):
            module.bias.data.fill_(100.0)
    context, out_len = model.context, 5
    x = torch.rand(1, 4, context + out_len, dtype=torch.float64, requires_grad=True)
    model(x)[0, 2, 0].backward()  # the first output sits at input position context/2
    reach = x.grad[0].abs().sum(0)
    assert reach[0] > 0 and reach[context] > 0
    assert (reach[context + 1:] == 0).all()


def test_s4d_kernel_is_the_zero_order_hold_recurrence():
    torch.manual_seed(0)
    layer = S4DKernel(channels=3, state=8, directions=1, dt_min=0.01, dt_max=0.5)
    length = 40
    kernel = layer(length)[0]  # (H, L)
    dt = torch.exp(layer.log_dt).double()[:, None]
    a = torch.complex(-torch.exp(layer.log_a_real.double()), layer.a_imag.double())
    c = torch.view_as_complex(layer.c.double().contiguous())[0]
    a_bar, b_bar = torch.exp(dt * a), (torch.exp(dt * a) - 1) / a
    u = torch.randn(3, length, dtype=torch.float64)
    state = torch.zeros(3, 4, dtype=torch.complex128)
    y = []
    for t in range(length):  # x_t = Ā x_{t-1} + B̄ u_t, y_t = 2 Re(C x_t)
        state = a_bar * state + b_bar * u[:, t:t + 1]
        y.append(2 * (c * state).sum(-1).real)
    recurrent = torch.stack(y, dim=-1)
    convolved = torch.stack([sum(kernel[:, s].double() * u[:, t - s] for s in range(t + 1)) for t in range(length)], -1)
    assert torch.allclose(convolved, recurrent, atol=1e-4)


def test_unit_energy_kernels_carry_the_same_energy_at_every_reach():
    # under zero-order hold a channel remembering ~1,000 bases (Δ 1e-3) has ~100× less kernel energy than
    # one remembering ~10 (Δ 0.1); unit_energy divides by sqrt(Δ), the same kernels otherwise
    torch.manual_seed(3)
    plain = S4DKernel(channels=2, state=8, directions=1, dt_min=1e-3, dt_max=1e-1)
    scaled = S4DKernel(channels=2, state=8, directions=1, dt_min=1e-3, dt_max=1e-1, unit_energy=True)
    scaled.load_state_dict(plain.state_dict())
    dt = torch.tensor([1e-3, 1e-1])
    with torch.no_grad():
        plain.log_dt.copy_(dt.log())
        scaled.log_dt.copy_(dt.log())
    k_plain, k_scaled = plain(20000)[0], scaled(20000)[0]
    energy_plain, energy_scaled = k_plain.square().sum(-1), k_scaled.square().sum(-1)
    assert energy_plain[1] / energy_plain[0] > 50
    assert 0.5 < energy_scaled[1] / energy_scaled[0] < 2
    assert torch.allclose(k_scaled, k_plain / dt.sqrt()[:, None], rtol=1e-4, atol=1e-7)


def test_bidirectional_fft_convolution_equals_direct_sums():
    torch.manual_seed(1)
    u, k = torch.randn(2, 3, 13), torch.randn(2, 3, 13)
    direct = torch.zeros_like(u)
    for t in range(13):
        for s in range(13):
            direct[..., t] += k[0, :, t - s] * u[..., s] if s <= t else k[1, :, s - t - 1] * u[..., s]
    assert torch.allclose(fft_convolution(u, k), direct, atol=1e-5)
    assert next_fast_length(30001) == 30375 and next_fast_length(64) == 64


def test_chunked_kernel_matches_whole_kernel_with_gradients():
    torch.manual_seed(2)
    layer = S4DKernel(channels=4, state=8, kernel_chunk=7)
    chunked = layer(30)
    chunked.square().sum().backward()
    grads = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    layer.kernel_chunk = 1000
    whole = layer(30)
    whole.square().sum().backward()
    assert torch.allclose(chunked, whole, atol=1e-6)
    assert all(torch.allclose(g, p.grad, atol=1e-5) for g, p in zip(grads, layer.parameters(), strict=True))


def test_ssm_reads_context_from_both_sides_and_crops_it():
    torch.manual_seed(3)
    model = splice_ssm(context=40, d_model=8, n_layers=2, state=8, dropout=0.0).eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 100)), 4).permute(0, 2, 1).float()
    out = model(x)
    assert out.shape == (1, 3, 60)
    for position in (0, 99):  # a base at either end changes the middle output: bidirectional, global reach
        y = x.clone()
        y[0, :, position] = torch.roll(y[0, :, position], 1)
        assert not torch.allclose(model(y)[0, :, 30], out[0, :, 30])
    hybrid = splice_ssm_hybrid(context=40, d_model=8, n_layers=1, state=8, front_units=2)
    assert hybrid(x).shape == (1, 3, 60) and len(hybrid.front) == 2


def test_hybrid_front_400_is_spliceai_400s_dilated_stack_reaching_200_bases_a_side():
    torch.manual_seed(5)
    model = splice_ssm_hybrid(context=500, d_model=8, n_layers=1, state=8, front="400").eval()
    assert [(u.kernel_size, u.dilation) for u in model.front] == [(11, 1)] * 4 + [(11, 4)] * 4
    assert model.front_reach == 200 and model.front_units == 8
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 900)), 4).permute(0, 2, 1).float()
    assert model(x).shape == (1, 3, 400)
    offsets = torch.arange(-300, 301)
    y = x.repeat(len(offsets), 1, 1)  # one copy per offset, with the base at 450 + offset changed
    y[torch.arange(len(offsets)), :, 450 + offsets] = y[torch.arange(len(offsets)), :, 450 + offsets].roll(1, -1)
    with torch.no_grad():  # the unchanged window in the same batch: the same kernels, bit for bit
        out = model.front(model.embed(torch.cat([x, y])))[:, :, 450]
        changed = (out[1:] != out[0]).any(dim=1)
    seen = offsets[changed]
    # the convolutions stop at ±200 (ReLUs may close the outermost paths of random weights); the S4D blocks
    # then reach the whole window; an 11/1 x4 front would stop at ±40
    assert seen.abs().max() <= 200 and seen.min() < -150 and seen.max() > 150
    assert model.describe().startswith("SpliceSSM: 8 residual units (±200)")
    pairs = splice_ssm_hybrid(context=40, d_model=8, n_layers=1, state=8, front=[[11, 1], [5, 2]])
    assert [(u.kernel_size, u.dilation) for u in pairs.front] == [(11, 1), (5, 2)] and pairs.front_reach == 18
    assert splice_ssm_hybrid(context=40, d_model=8, n_layers=1, state=8, front=80).front_reach == 40  # --set 80
    assert splice_ssm_hybrid(context=40, d_model=8, n_layers=1, state=8).front_reach == 40  # default 11/1 x4
    with pytest.raises(ValueError, match="front must be one of"):
        splice_ssm_hybrid(context=40, d_model=8, n_layers=1, state=8, front="300")


def test_hybrid_front_2k_reaches_1000_bases_and_zero_init_blocks_start_as_the_identity():
    torch.manual_seed(7)
    model = splice_ssm_hybrid(context=2200, d_model=8, n_layers=2, state=8, front="2k", zero_init=True)
    assert [(u.kernel_size, u.dilation) for u in model.front] == [(11, 1)] * 4 + [(11, 4)] * 4 + [(21, 10)] * 4
    assert model.front_reach == 1000 and model.front_units == 12
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 2300)), 4).permute(0, 2, 1).float()
    model.eval()
    with torch.no_grad():  # every S4D block adds zero at first: the front, the norm and the head alone
        h = model.front(model.embed(x))[..., 1100:-1100]
        alone = model.head(model.norm(h.transpose(1, 2)).transpose(1, 2))
        assert torch.equal(model(x), alone)
    model.train()
    model(x).square().mean().backward()  # the zeroed projections still learn, and through them the SSMs do
    assert all(b.output.weight.grad.abs().sum() > 0 for b in model.blocks)
    assert all(b.kernel.log_dt.grad is None or not b.kernel.log_dt.grad.any() for b in model.blocks)
    model.zero_grad()
    with torch.no_grad():
        for b in model.blocks:
            b.output.weight.normal_(0.0, 0.1)
    model(x).square().mean().backward()
    assert all(b.kernel.log_dt.grad.abs().sum() > 0 for b in model.blocks)
    plain = splice_ssm_hybrid(context=40, d_model=8, n_layers=1, state=8)
    assert plain.blocks[0].output.weight.abs().sum() > 0  # off by default


def test_ssm_lr_puts_delta_and_a_in_their_own_optimizer_group_without_weight_decay():
    from sciarch.optim import param_groups

    model = splice_ssm_hybrid(context=40, d_model=8, n_layers=2, state=8, front_units=1, ssm_lr=1e-3)
    groups = param_groups([p for p in model.parameters()])
    special = {id(p) for b in model.blocks for p in (b.kernel.log_dt, b.kernel.log_a_real, b.kernel.a_imag)}
    assert len(groups) == 2 and {id(p) for p in groups[1]["params"]} == special
    optimizer = torch.optim.AdamW(groups, lr=4e-3, weight_decay=0.05)
    assert [(g["lr"], g["weight_decay"]) for g in optimizer.param_groups] == [(4e-3, 0.05), (1e-3, 0.0)]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    plain = list(splice_ssm(context=40, d_model=8, n_layers=1, state=8).parameters())
    assert param_groups(plain) == plain  # no ssm_lr: one group with the recipe's settings


def test_spliceai_batchnorm_epsilon_and_activation_are_model_arguments():
    model = spliceai_80(eps=1e-3, negative_slope=0.1).eval()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(norms) == 8 and {m.eps for m in norms} == {1e-3}
    assert {m.eps for m in spliceai_80().modules() if isinstance(m, torch.nn.BatchNorm1d)} == {1e-5}
    unit = model.units[0]
    x = torch.randn(2, 32, 30)
    h = torch.nn.functional.leaky_relu(unit.norm1(x), 0.1)
    h = unit.conv2(torch.nn.functional.leaky_relu(unit.norm2(unit.conv1(h)), 0.1))
    assert torch.allclose(unit(x), x + h, atol=1e-6)
    # BatchNorm in eval: (x - mean) / sqrt(var + eps): a small variance makes eps matter
    norm = norms[0]
    norm.running_var.fill_(1e-3)
    y = norm(torch.ones(1, 32, 1))
    assert torch.allclose(y, torch.full_like(y, (1 - 0.0) / (1e-3 + 1e-3) ** 0.5), rtol=1e-5)


def test_spliceai_temperature_divides_the_logits():
    torch.manual_seed(0)
    plain = spliceai_80(channels=4).eval()
    scaled = spliceai_80(channels=4, temperature=[1.0, 2.0, 0.5]).eval()
    scaled.load_state_dict(plain.state_dict())
    x = torch.rand(1, 4, 90)
    assert torch.allclose(scaled(x), plain(x) / torch.tensor([1.0, 2.0, 0.5]).view(1, 3, 1), atol=1e-6)


def test_spliceai_inference_and_training_paths_agree():
    """Eval runs the trimmed channels-last graph, training on the CPU the padded graph with
    space-to-batch convolutions, without gradients the padded graph with plain ones: same numbers."""
    torch.manual_seed(0)
    model = spliceai_400(channels=8, negative_slope=0.1, temperature=[1.0, 1.3, 0.8])
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_(0, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.2)
    x = torch.rand(2, 4, 400 + 57)
    model.eval()
    with torch.no_grad():
        trimmed = model(x)
    model.train()
    for module in model.modules():  # the padded graph with BatchNorm's running statistics
        if isinstance(module, torch.nn.BatchNorm1d):
            module.eval()
    with torch.no_grad():
        plain = model(x)
    folded = model(x.requires_grad_())
    assert trimmed.shape == plain.shape == (2, 3, 57)
    assert torch.allclose(trimmed, plain, atol=1e-5) and torch.allclose(plain, folded.detach(), atol=1e-5)
    assert plain.abs().max() > 0.1  # not a comparison of zeros


def test_skip_delta_reads_only_what_the_s4d_blocks_add():
    torch.manual_seed(4)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 700)), 4).permute(0, 2, 1).float()
    outs = {}
    for delta in (False, True):
        torch.manual_seed(5)
        model = splice_ssm_hybrid(context=600, d_model=8, n_layers=2, state=8, front="400", skip_sum=True,
                                  skip_delta=delta, zero_init=True).eval()
        with torch.no_grad():
            model.ssm_out.weight.normal_(0.0, 0.5)
            outs[delta] = model(x)
            for block in model.blocks:  # the blocks now add something
                block.output.weight.normal_(0.0, 0.5)
            outs[delta, "blocks"] = model(x)
    # identity blocks (zero_init): with skip_delta the 1×1 into the skip sum sees zeros, without it the front
    with torch.no_grad():
        model.ssm_out.weight.zero_()
        plain = model(x)
    assert torch.allclose(outs[True], plain, atol=1e-5) and not torch.allclose(outs[False], plain, atol=1e-3)
    assert not torch.allclose(outs[True, "blocks"], plain, atol=1e-3)  # what the blocks add does reach the output
    with pytest.raises(ValueError, match="skip_delta and ssm_reads_skip are options of skip_sum"):
        splice_ssm_hybrid(context=40, d_model=8, n_layers=1, state=8, skip_delta=True)


def test_ssm_out_init_default_lets_the_s4d_blocks_reach_the_output_from_the_start():
    torch.manual_seed(7)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 300)), 4).permute(0, 2, 1).float()
    zero = splice_ssm_hybrid(context=200, d_model=8, n_layers=1, state=8, front="80", skip_sum=True).eval()
    assert zero.ssm_out.weight.abs().sum() == 0
    conv = splice_ssm_hybrid(context=200, d_model=8, n_layers=1, state=8, front="80", skip_sum=True,
                             ssm_out_init="default").eval()
    assert conv.ssm_out.weight.std() > 0.05
    conv.blocks[0].kernel.c.register_hook(lambda g: seen.append(g))
    seen = []
    conv(x).square().mean().backward()  # the S4D kernels get gradient at the first step
    assert seen and seen[0].abs().sum() > 0
    with pytest.raises(ValueError, match="ssm_out_init must be"):
        splice_ssm_hybrid(context=40, d_model=8, n_layers=1, state=8, front="80", skip_sum=True, ssm_out_init="small")


def test_block_lr_puts_the_s4d_blocks_and_their_way_into_the_skip_sum_in_their_own_group():
    from sciarch.optim import param_groups

    model = splice_ssm_hybrid(context=40, d_model=8, n_layers=2, state=8, front_units=1, skip_sum=True,
                              ssm_lr=1e-3, block_lr=1e-2)
    groups = {g.get("lr"): {id(p) for p in g["params"]} for g in param_groups(list(model.parameters()))}
    assert set(groups) == {None, 1e-3, 1e-2}
    block = model.blocks[0]
    assert {id(block.kernel.log_dt), id(block.kernel.a_imag)} <= groups[1e-3]  # ssm_lr stays theirs
    assert {id(block.kernel.c), id(block.output.weight), id(model.ssm_out.weight), id(block.norm.weight)} <= groups[1e-2]
    assert {id(model.embed.weight), id(model.output.weight), id(model.skips[0].weight)} <= groups[None]


def test_ssm_reads_skip_feeds_the_skip_sum_to_the_s4d_blocks():
    torch.manual_seed(6)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 300)), 4).permute(0, 2, 1).float()
    seen = {}
    for reads in (False, True):
        model = splice_ssm_hybrid(context=200, d_model=8, n_layers=1, state=8, front="80", skip_sum=True,
                                  ssm_reads_skip=reads).eval()
        model.blocks[0].register_forward_pre_hook(lambda module, args, reads=reads: seen.update({reads: args[0]}))
        with torch.no_grad():
            model(x)
            h = model.embed(x)
            skip = model.skip_in(h)
            for i, unit in enumerate(model.front):
                h = unit(h)
                if i in model.skip_taps:
                    skip = skip + model.skips[model.skip_taps.index(i)](h)
        assert torch.allclose(seen[reads], h + skip if reads else h, atol=1e-6)
    assert not torch.allclose(skip, torch.zeros_like(skip))
    with pytest.raises(ValueError, match="skip_delta and ssm_reads_skip are options of skip_sum"):
        splice_ssm_hybrid(context=40, d_model=8, n_layers=1, state=8, ssm_reads_skip=True)


def test_hybrid_with_skip_sum_starts_as_the_spliceai_network_of_its_front_units():
    from sciarch_splice.spliceai import SpliceAI

    torch.manual_seed(3)
    model = splice_ssm_hybrid(context=2200, d_model=8, n_layers=2, state=8, front="2k", skip_sum=True).eval()
    reference = SpliceAI([(u.kernel_size, u.dilation) for u in model.front], channels=8).eval()
    reference.input.load_state_dict(model.embed.state_dict())
    reference.skip_in.load_state_dict(model.skip_in.state_dict())
    reference.units.load_state_dict(model.front.state_dict())
    reference.skips.load_state_dict(model.skips.state_dict())
    reference.output.load_state_dict(model.output.state_dict())
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 2300)), 4).permute(0, 2, 1).float()
    with torch.no_grad():  # the S4D blocks enter through a 1×1 convolution that starts at zero
        assert torch.allclose(model(x), reference(x)[..., 100:-100], atol=1e-5)
    model.train()
    model(x).square().mean().backward()
    assert model.ssm_out.weight.grad.abs().sum() > 0  # it learns, and through it the blocks will
    with torch.no_grad():
        model.ssm_out.weight.normal_(0.0, 0.1)
    model.zero_grad()
    model(x).square().mean().backward()
    assert all(b.kernel.log_dt.grad.abs().sum() > 0 for b in model.blocks)
    with pytest.raises(ValueError, match="skip_sum needs a convolutional front"):
        splice_ssm_hybrid(context=40, d_model=8, n_layers=1, state=8, front_units=0, skip_sum=True)
