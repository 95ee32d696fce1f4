"""The SBD predictor's numpy training against torch: same loss, same gradients, same schedule,
and weights files that each side reads."""

import numpy as np
import pytest
import torch
from torch import nn

from vidskill.boundaries.inference import LOGVAR_RANGE, NumpyPredictor, PredictorConfig
from vidskill.boundaries.predictor import _AdamW, init_weights, loss_and_grads
from vidskill.statedict import read_state_dict, write_state_dict


class TorchPredictor(nn.Module):
    """The network in torch, by the state_dict names the numpy code uses."""

    def __init__(self, c: PredictorConfig):
        super().__init__()
        self.c = c
        self.inp = nn.Sequential(nn.Linear(c.dim + c.n_actions, c.hidden), nn.GELU())
        self.gru = nn.GRU(c.hidden, c.hidden, batch_first=True)
        self.head = nn.Linear(c.hidden, 2 * c.dim)
        self.action_head = nn.Linear(c.hidden, c.n_actions) if c.n_actions else None

    def loss(self, z: torch.Tensor, actions: torch.Tensor | None) -> torch.Tensor:
        h, a = self.c.horizon, self.c.n_actions
        x = z[:, :-h]
        if a:
            prev = actions[:, :-h]
            onehot = nn.functional.one_hot(prev.clamp(min=0), a).to(z.dtype)
            x = torch.cat([x, onehot * (prev >= 0).unsqueeze(-1)], -1)
        out, _ = self.gru(self.inp(x))
        mu, logvar = self.head(out).chunk(2, -1)
        logvar = logvar.clamp(*LOGVAR_RANGE)
        nll = 0.5 * (np.log(2 * np.pi) + logvar + (z[:, h:] - mu) ** 2 * torch.exp(-logvar)).sum(-1)
        if a:
            nxt = actions[:, h:]
            logp = torch.log_softmax(self.action_head(out), -1)
            nll = nll - logp.gather(-1, nxt.clamp(min=0).unsqueeze(-1)).squeeze(-1) * (nxt >= 0)
        return nll.mean() / self.c.dim


@pytest.mark.parametrize("n_actions", [0, 3])
def test_numpy_gradients_equal_torch_autograd(n_actions):
    config = PredictorConfig(dim=5, hidden=8, n_actions=n_actions, horizon=2)
    w = {k: v.astype(np.float64) for k, v in
         init_weights(config, np.random.default_rng(1)).items()}
    w["head.bias"][5:7] += [6.0, -6.0]   # two log-variances outside the clamp: no gradient
    rng = np.random.default_rng(2)
    z = rng.normal(size=(4, 9, 5)) * 2
    acts = rng.integers(-1, n_actions, size=(4, 9)) if n_actions else None
    net = TorchPredictor(config).double()
    net.load_state_dict({k: torch.tensor(v) for k, v in w.items()})
    expected = net.loss(torch.tensor(z), None if acts is None else torch.tensor(acts))
    expected.backward()
    loss, grads = loss_and_grads(w, config, z, acts)
    assert loss == pytest.approx(float(expected.detach()), rel=1e-6)
    assert set(grads) == {k for k, _ in net.named_parameters()}
    for name, p in net.named_parameters():
        ref = p.grad.numpy()
        assert np.abs(grads[name] - ref).max() <= 1e-6 * np.abs(ref).max(), name
    assert not grads["head.bias"][5:7].any()


def test_the_optimiser_follows_torchs_adamw_under_one_cycle():
    """Five steps of AdamW + OneCycleLR in torch and in numpy, from the same weights with the
    same gradients, land on the same weights (the rate and beta1 cycle as torch's)."""
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(5)]
    p = torch.tensor(start, requires_grad=True)
    opt = torch.optim.AdamW([p], lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=5)
    ours = {"w": start.copy()}
    mine = _AdamW(ours, lr=2e-3, steps=5)
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        sched.step()
        mine.step({"w": g.copy()})
    assert ours["w"] == pytest.approx(p.detach().numpy(), rel=1e-9, abs=1e-12)
    assert not np.allclose(ours["w"], start)


def test_numpy_inference_reads_what_training_wrote_as_torch_does(tmp_path):
    config = PredictorConfig(dim=4, hidden=6, n_actions=0, horizon=1)
    w = init_weights(config, np.random.default_rng(3))
    w["mean"], w["scale"] = np.zeros(4, np.float32), np.ones(4, np.float32)
    write_state_dict(tmp_path / "p.pt", w)
    loaded = torch.load(tmp_path / "p.pt", weights_only=True)   # torch reads our file
    assert set(loaded) == set(w)
    assert all(np.array_equal(loaded[k].numpy(), w[k]) for k in w)
    net = TorchPredictor(config)
    net.load_state_dict({k: v for k, v in loaded.items() if k not in ("mean", "scale")})
    z = np.random.default_rng(4).normal(size=(1, 12, 4)).astype(np.float32)
    with torch.no_grad():
        ref = float(net.loss(torch.tensor(z), None))
    nll, _, _ = NumpyPredictor(config, read_state_dict(tmp_path / "p.pt")).step_errors(z[0])
    assert float(nll.mean()) / 4 == pytest.approx(ref, rel=1e-5)


def test_state_dicts_round_trip_between_torch_and_numpy(tmp_path):
    tensors = {"w": torch.arange(12, dtype=torch.float32).reshape(3, 4).t(),
               "n": torch.arange(5), "s": torch.tensor(2.5, dtype=torch.float64),
               "empty": torch.zeros(0, 3), "flags": torch.tensor([True, False])}
    torch.save(tensors, tmp_path / "t.pt")
    read = read_state_dict(tmp_path / "t.pt")
    assert all(np.array_equal(read[k], v.numpy()) and read[k].shape == tuple(v.shape)
               for k, v in tensors.items())
    write_state_dict(tmp_path / "n.pt", tensors)   # tensors are written as arrays
    back = torch.load(tmp_path / "n.pt", weights_only=True)
    assert all(torch.equal(back[k], v) for k, v in tensors.items())
    with pytest.raises(ValueError, match="no torch storage"):
        write_state_dict(tmp_path / "x.pt", {"c": np.zeros(2, np.complex64)})
