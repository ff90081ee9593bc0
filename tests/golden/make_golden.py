#!/usr/bin/env python3
"""Write tests/golden/deltanet_tiny.bin: golden values for asiarch's DeltaNet model.

A self-contained float64 PyTorch reference of asiarch's fixed backbone
(embedding -> L x [RMSNorm -> mixer -> residual -> RMSNorm -> SwiGLU MLP -> residual]
-> RMSNorm -> tied LM head) with the DeltaNet mixer, the delta rule written as a
plain step loop.  It records the initial weights, the logits, the loss and every
parameter gradient of one batch, then the loss before each of ten AdamW steps
(torch.optim.AdamW semantics, gradient-norm clipping) on that same batch.

CI does not need PyTorch: the output file is committed.  Regenerate with

    python3 tests/golden/make_golden.py            # writes tests/golden/deltanet_tiny.bin
    python3 tests/golden/make_golden.py -o OTHER.bin

The output is deterministic for a given PyTorch version (seeded CPU RNG, float64).
File format: see tests/golden/README.md and tests/golden/golden_io.h.
"""

import argparse
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# configuration

V, DM, H, L, B, T, FF, CHUNK = 256, 64, 2, 2, 2, 80, 192, 64
HD = DM // H          # head dim for q, k and v
CONV_K = 4
SEED = 1234

LR, BETA1, BETA2, EPS, WD, CLIP = 1e-3, 0.9, 0.95, 1e-8, 0.1, 1.0
STEPS = 10

NORM_EPS = 1e-6       # rmsnorm and l2norm epsilon

# ---------------------------------------------------------------------------
# parameters (name -> shape), in file order


def param_shapes():
    shapes = [("embed.weight", (V, DM))]
    for i in range(L):
        p = f"layers.{i}."
        m = p + "mixer."
        shapes += [
            (p + "norm1.weight", (DM,)),
            (m + "q_proj.weight", (DM, DM)),
            (m + "k_proj.weight", (DM, DM)),
            (m + "v_proj.weight", (DM, DM)),
            (m + "q_conv.weight", (DM, CONV_K)),
            (m + "k_conv.weight", (DM, CONV_K)),
            (m + "v_conv.weight", (DM, CONV_K)),
            (m + "b_proj.weight", (H, DM)),
            (m + "o_norm.weight", (HD,)),
            (m + "o_proj.weight", (DM, DM)),
            (p + "norm2.weight", (DM,)),
            (p + "mlp.w_gate.weight", (FF, DM)),
            (p + "mlp.w_up.weight", (FF, DM)),
            (p + "mlp.w_down.weight", (DM, FF)),
        ]
    shapes.append(("norm_f.weight", (DM,)))
    return shapes


def init_params(gen):
    """Seeded init in float32 (the values stored in the file), returned as float64
    leaf tensors holding exactly those float32 values."""
    params = {}
    for name, shape in param_shapes():
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or \
                name.endswith("o_norm.weight") or name == "norm_f.weight":
            w = 1.0 + 0.1 * torch.randn(shape, generator=gen, dtype=torch.float32)
        elif "_conv." in name:
            w = torch.rand(shape, generator=gen, dtype=torch.float32) - 0.5
        elif name.endswith("b_proj.weight"):
            # wider so that beta = sigmoid(.) spreads over (0, 1)
            w = 0.5 * torch.randn(shape, generator=gen, dtype=torch.float32)
        else:
            w = 0.1 * torch.randn(shape, generator=gen, dtype=torch.float32)
        params[name] = w.to(torch.float64).requires_grad_(True)
    return params


# ---------------------------------------------------------------------------
# model (float64)


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * w


def l2norm(x):
    return x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + NORM_EPS)


def causal_conv(x, w):
    """x [B,T,C], w [C,K]: y[t,c] = sum_j w[c,j] x[t-K+1+j, c], zero before t=0."""
    Tn, C = x.shape[1], x.shape[2]
    K = w.shape[1]
    y = F.conv1d(x.transpose(1, 2), w[:, None, :], padding=K - 1, groups=C)
    return y[..., :Tn].transpose(1, 2)


def causal_conv_loop(x, w):
    """Direct form of causal_conv, used only to cross-check it."""
    Tn = x.shape[1]
    K = w.shape[1]
    y = torch.zeros_like(x)
    for t in range(Tn):
        for j in range(K):
            s = t - K + 1 + j
            if s >= 0:
                y[:, t, :] = y[:, t, :] + w[:, j] * x[:, s, :]
    return y


def split_heads(x):          # [B,T,H*D] -> [B,H,T,D], channel c = h*D + j
    b, t, _ = x.shape
    return x.view(b, t, H, HD).transpose(1, 2)


def merge_heads(x):          # [B,H,T,D] -> [B,T,H*D]
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


def delta_rule_loop(q, k, v, beta):
    """Reference delta rule.  q,k,v [B,H,T,D], beta [B,H,T].
    S_0 = 0;  S_t = S_{t-1} - beta_t k_t (k_t^T S_{t-1}) + beta_t k_t v_t^T;  o_t = S_t^T q_t."""
    b, h, t_len, dk = q.shape
    dv = v.shape[-1]
    S = q.new_zeros(b, h, dk, dv)
    outs = []
    for t in range(t_len):
        kt = k[:, :, t, :]                          # [B,H,Dk]
        vt = v[:, :, t, :]                          # [B,H,Dv]
        bt = beta[:, :, t][..., None, None]         # [B,H,1,1]
        ktS = torch.einsum("bhk,bhkv->bhv", kt, S)  # k_t^T S
        S = S - bt * kt[..., :, None] * ktS[..., None, :] + bt * kt[..., :, None] * vt[..., None, :]
        outs.append(torch.einsum("bhkv,bhk->bhv", S, q[:, :, t, :]))
    return torch.stack(outs, dim=2)


def mixer(x, P, i):
    m = f"layers.{i}.mixer."
    q = F.silu(causal_conv(x @ P[m + "q_proj.weight"].T, P[m + "q_conv.weight"]))
    k = F.silu(causal_conv(x @ P[m + "k_proj.weight"].T, P[m + "k_conv.weight"]))
    v = F.silu(causal_conv(x @ P[m + "v_proj.weight"].T, P[m + "v_conv.weight"]))
    beta = torch.sigmoid(x @ P[m + "b_proj.weight"].T)          # [B,T,H]
    q = l2norm(split_heads(q)) / math.sqrt(HD)
    k = l2norm(split_heads(k))
    v = split_heads(v)
    beta = beta.transpose(1, 2)                                 # [B,H,T]
    o = delta_rule_loop(q, k, v, beta)
    o = rmsnorm(o, P[m + "o_norm.weight"])
    return merge_heads(o) @ P[m + "o_proj.weight"].T


def mlp(x, P, i):
    p = f"layers.{i}.mlp."
    g = x @ P[p + "w_gate.weight"].T
    u = x @ P[p + "w_up.weight"].T
    return (F.silu(g) * u) @ P[p + "w_down.weight"].T


def forward(tokens, targets, P):
    h = P["embed.weight"][tokens]
    for i in range(L):
        h = h + mixer(rmsnorm(h, P[f"layers.{i}.norm1.weight"]), P, i)
        h = h + mlp(rmsnorm(h, P[f"layers.{i}.norm2.weight"]), P, i)
    logits = rmsnorm(h, P["norm_f.weight"]) @ P["embed.weight"].T
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1),
                           ignore_index=-1, reduction="mean")
    return logits, loss


def fd_check(tokens, targets, P, grads, eps=1e-6):
    """Central finite differences on a few entries of every parameter."""
    worst = 0.0
    with torch.no_grad():
        for n, _ in param_shapes():
            flat = P[n].view(-1)
            for idx in sorted({0, flat.numel() // 2, flat.numel() - 1}):
                old = flat[idx].item()
                flat[idx] = old + eps
                lp = forward(tokens, targets, P)[1].item()
                flat[idx] = old - eps
                lm = forward(tokens, targets, P)[1].item()
                flat[idx] = old
                err = abs((lp - lm) / (2 * eps) - grads[n].view(-1)[idx].item())
                worst = max(worst, err)
    print(f"finite-difference check: max abs error {worst:.3e}")
    assert worst < 1e-7, worst


# ---------------------------------------------------------------------------
# file writer


def rec(name, dtype, shape, data):
    """One record: int32 name_len, name, int32 dtype, int32 rank, int32 dims[rank], data."""
    nb = name.encode("ascii")
    t = torch.as_tensor(data)
    if dtype == 0:
        arr = t.detach().to(torch.float32).contiguous()
    else:
        arr = t.detach().to(torch.int32).contiguous()
    assert tuple(arr.shape) == tuple(shape), (name, tuple(arr.shape), shape)
    raw = arr.numpy().astype("<f4" if dtype == 0 else "<i4").tobytes()
    head = struct.pack("<i", len(nb)) + nb + struct.pack("<ii", dtype, len(shape))
    head += struct.pack("<%di" % len(shape), *shape)
    return head + raw


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out",
                    default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "deltanet_tiny.bin"))
    ap.add_argument("--check", action="store_true",
                    help="also compare some gradients with central finite differences")
    args = ap.parse_args()

    torch.set_default_dtype(torch.float64)
    gen = torch.Generator().manual_seed(SEED)

    P = init_params(gen)
    init_f32 = {n: p.detach().to(torch.float32).clone() for n, p in P.items()}

    tokens = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64)
    targets = torch.full((B, T), -1, dtype=torch.int64)
    targets[:, :-1] = tokens[:, 1:]
    n_scatter = 5
    for b in range(B):
        pos = torch.randperm(T - 1, generator=gen)[:n_scatter]
        targets[b, pos] = -1
    assert (targets >= 0).sum().item() == B * (T - 1 - n_scatter)

    # sanity: the conv1d form equals the written-out definition
    xt = torch.randn(B, 7, 5, generator=gen)
    wt = torch.randn(5, CONV_K, generator=gen)
    assert torch.allclose(causal_conv(xt, wt), causal_conv_loop(xt, wt), atol=1e-14)

    # ---- forward + backward at the initial weights
    names = [n for n, _ in param_shapes()]
    logits, loss = forward(tokens, targets, P)
    grads = torch.autograd.grad(loss, [P[n] for n in names])
    grads = {n: g.detach().clone() for n, g in zip(names, grads)}
    logits0 = logits.detach().clone()
    loss0 = loss.item()

    if args.check:
        fd_check(tokens, targets, P, grads)

    # ---- ten AdamW steps on the same batch
    decay = [P[n] for n in names if P[n].dim() >= 2]
    no_decay = [P[n] for n in names if P[n].dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
        lr=LR, betas=(BETA1, BETA2), eps=EPS, foreach=False)
    losses = []
    for step in range(STEPS):
        opt.zero_grad(set_to_none=True)
        _, loss = forward(tokens, targets, P)
        loss.backward()
        losses.append(loss.item())
        torch.nn.utils.clip_grad_norm_([P[n] for n in names], CLIP, foreach=False)
        opt.step()
    assert losses[0] == loss0, (losses[0], loss0)

    # ---- write
    records = [
        rec("config", 1, (8,), [V, DM, H, L, B, T, FF, CHUNK]),
        rec("adamw", 0, (6,), [LR, BETA1, BETA2, EPS, WD, CLIP]),
        rec("tokens", 1, (B, T), tokens),
        rec("targets", 1, (B, T), targets),
    ]
    shapes = dict(param_shapes())
    for n in names:
        records.append(rec(n, 0, shapes[n], init_f32[n]))
    records.append(rec("logits", 0, (B, T, V), logits0))
    records.append(rec("loss", 0, (1,), [loss0]))
    for n in names:
        records.append(rec("grad." + n, 0, shapes[n], grads[n]))
    records.append(rec("losses", 0, (STEPS,), losses))

    blob = b"AAGOLD01" + struct.pack("<i", len(records)) + b"".join(records)
    with open(args.out, "wb") as f:
        f.write(blob)

    gnorm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
    print(f"wrote {args.out}: {len(records)} records, {len(blob)} bytes")
    print(f"torch {torch.__version__}")
    print(f"loss {loss0:.10f}  grad-norm {gnorm:.6f}")
    print("losses " + " ".join(f"{x:.10f}" for x in losses))


if __name__ == "__main__":
    sys.exit(main())
