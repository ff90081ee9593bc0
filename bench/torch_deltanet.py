#!/usr/bin/env python3
"""PyTorch peer for asiarch's training benchmark: the DeltaNet model, eager mode.

It is the same model as asiarch's backbone with the DeltaNet mixer (see
tests/golden/make_golden.py for the float64 step-loop reference), in float32
PyTorch eager mode (no torch.compile, no custom kernels). The delta rule uses its
chunkwise WY/UT form (chunk 64), in plain PyTorch like flash-linear-attention's
naive `chunk_delta_rule`. The model trains with AdamW (lr 1e-3, betas (0.9, 0.95),
eps 1e-8, weight decay 0.1 on rank >= 2 parameters) and global gradient-norm
clipping at 1.0.

    python3 bench/torch_deltanet.py --scale small             # one JSON line on stdout
    python3 bench/torch_deltanet.py --scale tiny --threads 2
    python3 bench/torch_deltanet.py --data train.bin          # llm.c token shard
    python3 bench/torch_deltanet.py --check                   # chunkwise == step loop (float64)
    python3 bench/torch_deltanet.py --scale 20m --device cuda --fla             # GPU peer
    python3 bench/torch_deltanet.py --scale 20m --device cuda --fla --mixer gated_delta_net

With --fla the delta rule runs on flash-linear-attention's Triton kernels
(chunk_delta_rule / chunk_gated_delta_rule), the GPU peer of bench/gpu_train_vs_fla.sh.
--mixer gated_delta_net (Gated DeltaNet, as arch/gated_delta_net.c: scalar forget gate
-exp(A_log) softplus(a + dt_bias), gated RMSNorm on the output) needs --fla.

The JSON has tokens_per_s = B*T*steps / time over the timed steps, and step_ms. Each
timed step is batch sampling, forward, backward, clipping and the AdamW update. The
--warmup steps before them are not timed.
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SCALES = {
    #          d_model layers heads  T     B   ff
    "tiny":  dict(d=64,  L=2, H=2, T=128,  B=8,  ff=192),
    "small": dict(d=128, L=4, H=4, T=256,  B=16, ff=352),
    "20m":   dict(d=256, L=8, H=8, T=2048, B=8,  ff=704),
}
CHUNK = 64
CONV_K = 4
NORM_EPS = 1e-6
LR, BETAS, EPS, WD, CLIP = 1e-3, (0.9, 0.95), 1e-8, 0.1, 1.0

# ---------------------------------------------------------------------------
# delta rule


def delta_rule_recurrent(q, k, v, beta):
    """Step-loop reference. q,k [B,H,T,Dk], v [B,H,T,Dv], beta [B,H,T].
    S_0 = 0;  S_t = S_{t-1} - beta_t k_t (k_t^T S_{t-1}) + beta_t k_t v_t^T;  o_t = S_t^T q_t."""
    b, h, t_len, dk = q.shape
    S = q.new_zeros(b, h, dk, v.shape[-1])
    outs = []
    for t in range(t_len):
        kt, vt, bt = k[:, :, t], v[:, :, t], beta[:, :, t, None]
        u = bt * (vt - torch.einsum("bhk,bhkv->bhv", kt, S))     # beta_t (v_t - S^T k_t)
        S = S + kt[..., :, None] * u[..., None, :]
        outs.append(torch.einsum("bhkv,bhk->bhv", S, q[:, :, t]))
    return torch.stack(outs, dim=2)


def delta_rule_chunkwise(q, k, v, beta, chunk=CHUNK):
    """The same recurrence in chunkwise WY/UT form.

    Inside a chunk that starts from state S0, S_t = S0 + sum_{i<=t} k_i u_i^T with
    u_t = beta_t (v_t - S_{t-1}^T k_t). Stacking the rows gives (I + A) U = diag(beta) V
    - diag(beta) K S0, where A = strict_tril(diag(beta) K K^T). With the UT transform
    T = (I + A)^{-1}, W = T diag(beta) K and U' = T diag(beta) V:
        U  = U' - W S0
        O  = Q S0 + tril(Q K^T) U          (diagonal included)
        S1 = S0 + K^T U
    Time is zero-padded to a multiple of the chunk. A padded step has k = 0 and
    beta = 0, so it leaves the state alone, and its outputs are discarded."""
    b, h, t_len, dk = q.shape
    dv = v.shape[-1]
    pad = (-t_len) % chunk
    if pad:
        q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
        beta = F.pad(beta, (0, pad))
    n = (t_len + pad) // chunk
    q = q.reshape(b, h, n, chunk, dk)
    k = k.reshape(b, h, n, chunk, dk)
    v = v.reshape(b, h, n, chunk, dv)
    beta = beta.reshape(b, h, n, chunk, 1)

    kb = k * beta
    vb = v * beta
    eye = torch.eye(chunk, dtype=q.dtype, device=q.device)
    A = torch.tril(kb @ k.transpose(-1, -2), diagonal=-1)
    # one unit-lower-triangular solve for both right-hand sides: [W | U'] = T [Kb | Vb]
    WU = torch.linalg.solve_triangular(A + eye, torch.cat([kb, vb], dim=-1),
                                       upper=False, unitriangular=True)
    W, U = WU[..., :dk], WU[..., dk:]
    QK = torch.tril(q @ k.transpose(-1, -2))                   # [b,h,n,C,C]

    S = q.new_zeros(b, h, dk, dv)
    outs = []
    for i in range(n):
        u = U[:, :, i] - W[:, :, i] @ S
        outs.append(q[:, :, i] @ S + QK[:, :, i] @ u)
        S = S + k[:, :, i].transpose(-1, -2) @ u
    o = torch.stack(outs, dim=2).reshape(b, h, n * chunk, dv)
    return o[:, :, :t_len]


# ---------------------------------------------------------------------------
# model


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * w


def l2norm(x):
    return x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + NORM_EPS)


class Norm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return rmsnorm(x, self.weight)


class ShortConv(nn.Module):
    """Causal depthwise conv along time; weight [C, K]."""

    def __init__(self, c, k=CONV_K):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(c, k))

    def forward(self, x):                                       # x [B,T,C]
        t_len, c = x.shape[1], x.shape[2]
        k = self.weight.shape[1]
        y = F.conv1d(x.transpose(1, 2), self.weight[:, None, :], padding=k - 1, groups=c)
        return y[..., :t_len].transpose(1, 2)


class DeltaNet(nn.Module):
    def __init__(self, d, h, rule):
        super().__init__()
        self.h, self.hd, self.rule = h, d // h, rule
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.q_conv, self.k_conv, self.v_conv = ShortConv(d), ShortConv(d), ShortConv(d)
        self.b_proj = nn.Linear(d, h, bias=False)
        self.o_norm = Norm(self.hd)
        self.o_proj = nn.Linear(d, d, bias=False)

    def heads(self, x):                                         # [B,T,H*D] -> [B,H,T,D]
        b, t, _ = x.shape
        return x.view(b, t, self.h, self.hd).transpose(1, 2)

    def forward(self, x):
        q = F.silu(self.q_conv(self.q_proj(x)))
        k = F.silu(self.k_conv(self.k_proj(x)))
        v = F.silu(self.v_conv(self.v_proj(x)))
        beta = torch.sigmoid(self.b_proj(x)).transpose(1, 2)    # [B,H,T]
        q = l2norm(self.heads(q)) / math.sqrt(self.hd)
        k = l2norm(self.heads(k))
        v = self.heads(v)
        rule = {"chunk": delta_rule_chunkwise, "loop": delta_rule_recurrent, "fla": fla_delta_rule}[self.rule]
        o = self.o_norm(rule(q, k, v, beta))
        b, h, t, dd = o.shape
        return self.o_proj(o.transpose(1, 2).reshape(b, t, h * dd))


def fla_delta_rule(q, k, v, beta, g=None):
    """flash-linear-attention's chunked kernels; they take [B,T,H,D]. q is already
    scaled (scale=1), k already l2-normalised."""
    if g is None:
        from fla.ops.delta_rule import chunk_delta_rule
        o, _ = chunk_delta_rule(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                beta.transpose(1, 2), scale=1.0)
    else:
        from fla.ops.gated_delta_rule import chunk_gated_delta_rule
        o, _ = chunk_gated_delta_rule(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                      g.transpose(1, 2), beta.transpose(1, 2), scale=1.0)
    return o.transpose(1, 2)


class GatedDeltaNet(DeltaNet):
    """arch/gated_delta_net.c: DeltaNet plus a per-head log decay
    g = -exp(A_log) * softplus(a_proj(x) + dt_bias) and o = rmsnorm(o) * w * silu(g_proj(x))."""

    def __init__(self, d, h, rule):
        super().__init__(d, h, rule)
        self.a_proj = nn.Linear(d, h, bias=False)
        self.dt_bias = nn.Parameter(torch.zeros(h))
        self.A_log = nn.Parameter(torch.zeros(h))
        self.g_proj = nn.Linear(d, d, bias=False)

    def forward(self, x):
        q = F.silu(self.q_conv(self.q_proj(x)))
        k = F.silu(self.k_conv(self.k_proj(x)))
        v = F.silu(self.v_conv(self.v_proj(x)))
        beta = torch.sigmoid(self.b_proj(x)).transpose(1, 2)
        gate = (-torch.exp(self.A_log) * F.softplus(self.a_proj(x) + self.dt_bias)).transpose(1, 2)
        q = l2norm(self.heads(q)) / math.sqrt(self.hd)
        k = l2norm(self.heads(k))
        o = fla_delta_rule(q, k, self.heads(v), beta, gate)
        g = self.heads(self.g_proj(x))
        o = self.o_norm(o) * F.silu(g)
        b, h, t, dd = o.shape
        return self.o_proj(o.transpose(1, 2).reshape(b, t, h * dd))


class MLP(nn.Module):
    def __init__(self, d, ff):
        super().__init__()
        self.w_gate = nn.Linear(d, ff, bias=False)
        self.w_up = nn.Linear(d, ff, bias=False)
        self.w_down = nn.Linear(ff, d, bias=False)

    def forward(self, x):
        return self.w_down(F.silu(self.w_gate(x)) * self.w_up(x))


class Block(nn.Module):
    def __init__(self, d, h, ff, rule, mixer="delta_net"):
        super().__init__()
        self.norm1 = Norm(d)
        self.mixer = (GatedDeltaNet if mixer == "gated_delta_net" else DeltaNet)(d, h, rule)
        self.norm2 = Norm(d)
        self.mlp = MLP(d, ff)

    def forward(self, x):
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Model(nn.Module):
    """Parameter names match tests/golden (embed.weight, layers.i.mixer.q_proj.weight, ...)."""

    def __init__(self, vocab, d, L, h, ff, rule="chunk", mixer="delta_net"):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(Block(d, h, ff, rule, mixer) for _ in range(L))
        self.norm_f = Norm(d)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self):
        for name, p in self.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            elif "_conv." in name:
                p.uniform_(-0.5, 0.5)
            else:
                p.normal_(0.0, 0.02)

    def forward(self, tokens, targets):
        x = self.embed(tokens)
        for layer in self.layers:
            x = layer(x)
        logits = self.norm_f(x) @ self.embed.weight.T          # tied head
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=-1)


def make_optimizer(model):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=LR, betas=BETAS, eps=EPS)


# ---------------------------------------------------------------------------
# data


class RandomBytes:
    def __init__(self, vocab, B, T, seed, device):
        self.g = torch.Generator().manual_seed(seed)
        self.vocab, self.B, self.T, self.device = vocab, B, T, device

    def batch(self):
        x = torch.randint(0, self.vocab, (self.B, self.T + 1), generator=self.g)
        return x[:, :-1].to(self.device), x[:, 1:].to(self.device)


class Shard:
    """llm.c token shard: 256 int32 header (magic 20240520, version 1, token count),
    then uint16 tokens. Batches are random windows of T+1 tokens."""

    def __init__(self, path, B, T, seed, device):
        import numpy as np
        header = np.fromfile(path, dtype="<i4", count=256)
        if header.size != 256 or header[0] != 20240520:
            sys.exit(f"{path}: not an llm.c token shard (bad magic)")
        if header[1] != 1:
            sys.exit(f"{path}: unsupported shard version {header[1]} (expected 1, uint16)")
        n = int(header[2])
        self.tok = np.memmap(path, dtype="<u2", mode="r", offset=256 * 4, shape=(n,))
        if n < T + 2:
            sys.exit(f"{path}: {n} tokens, need at least {T + 2}")
        self.max_token = int(self.tok.max())
        self.B, self.T, self.device = B, T, device
        self.rng = np.random.default_rng(seed)

    def batch(self):
        import numpy as np
        starts = self.rng.integers(0, len(self.tok) - self.T - 1, size=self.B)
        x = np.stack([self.tok[s:s + self.T + 1] for s in starts]).astype(np.int64)
        x = torch.from_numpy(x)
        return x[:, :-1].to(self.device), x[:, 1:].to(self.device)


# ---------------------------------------------------------------------------
# check


def check():
    """The chunkwise form against the step loop in float64: outputs and input gradients
    for several lengths (some not a multiple of 64), then a whole tiny model."""
    torch.manual_seed(0)
    dt = torch.float64
    worst = 0.0
    for (b, h, t, dk, dv) in [(2, 2, 64, 16, 16), (2, 3, 80, 32, 32), (1, 2, 130, 16, 24),
                              (1, 1, 1, 8, 8), (2, 2, 200, 32, 32)]:
        q = torch.randn(b, h, t, dk, dtype=dt)
        k = l2norm(torch.randn(b, h, t, dk, dtype=dt))
        v = torch.randn(b, h, t, dv, dtype=dt)
        beta = torch.rand(b, h, t, dtype=dt)
        ins = [x.requires_grad_(True) for x in (q, k, v, beta)]
        go = torch.randn(b, h, t, dv, dtype=dt)
        o_ref = delta_rule_recurrent(*ins)
        g_ref = torch.autograd.grad(o_ref, ins, go)
        o_chk = delta_rule_chunkwise(*ins)
        g_chk = torch.autograd.grad(o_chk, ins, go)
        err_o = (o_ref - o_chk).abs().max().item() / max(1.0, o_ref.abs().max().item())
        err_g = max((a - c).abs().max().item() / max(1.0, a.abs().max().item())
                    for a, c in zip(g_ref, g_chk))
        worst = max(worst, err_o, err_g)
        print(f"delta rule B={b} H={h} T={t:4d} Dk={dk} Dv={dv}: "
              f"out err {err_o:.2e}, grad err {err_g:.2e}", file=sys.stderr)

    for t in (80, 128):
        torch.manual_seed(1)
        m_ref = Model(256, 64, 2, 2, 192, rule="loop").to(dt)
        with torch.no_grad():                  # a less degenerate point than the init
            for p in m_ref.parameters():
                p.add_(0.05 * torch.randn_like(p))
        m_chk = Model(256, 64, 2, 2, 192, rule="chunk").to(dt)
        m_chk.load_state_dict(m_ref.state_dict())
        tok = torch.randint(0, 256, (2, t + 1))
        l_ref = m_ref(tok[:, :-1], tok[:, 1:])
        l_ref.backward()
        l_chk = m_chk(tok[:, :-1], tok[:, 1:])
        l_chk.backward()
        err_l = abs(l_ref.item() - l_chk.item())
        err_g = max((a.grad - c.grad).abs().max().item() / max(1e-30, a.grad.abs().max().item())
                    for a, c in zip(m_ref.parameters(), m_chk.parameters()))
        worst = max(worst, err_l, err_g)
        print(f"model T={t}: loss {l_ref.item():.12f} err {err_l:.2e}, "
              f"grad err (rel. to max) {err_g:.2e}", file=sys.stderr)

    ok = worst < 1e-10
    print(f"check {'passed' if ok else 'FAILED'}: worst error {worst:.2e} (limit 1e-10)",
          file=sys.stderr)
    return 0 if ok else 1


# ---------------------------------------------------------------------------
# benchmark


def main():
    ap = argparse.ArgumentParser(description="PyTorch eager DeltaNet training benchmark")
    ap.add_argument("--scale", choices=sorted(SCALES), default="small")
    ap.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="torch intra-op threads (default: all CPUs)")
    ap.add_argument("--data", metavar="FILE", help="llm.c token shard (default: random bytes)")
    ap.add_argument("--vocab", type=int, default=None,
                    help="vocabulary (default 256, or 50257 when a shard has tokens >= 256)")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fla", action="store_true",
                    help="the delta rule on flash-linear-attention's kernels (GPU)")
    ap.add_argument("--mixer", choices=["delta_net", "gated_delta_net"], default="delta_net")
    ap.add_argument("--allow-tf32", action="store_true", help="TF32 matmuls on the GPU (default: FP32)")
    ap.add_argument("--check", action="store_true",
                    help="check chunkwise == step loop in float64 and exit")
    args = ap.parse_args()

    torch.set_num_threads(max(1, args.threads))
    if args.check:
        return check()
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")

    if args.mixer == "gated_delta_net" and not args.fla:
        ap.error("--mixer gated_delta_net needs --fla")
    torch.backends.cuda.matmul.allow_tf32 = args.allow_tf32
    cfg = SCALES[args.scale]
    B, T = cfg["B"], cfg["T"]
    dev = torch.device(args.device)
    torch.manual_seed(args.seed)

    if args.data:
        data = Shard(args.data, B, T, args.seed, dev)
        vocab = args.vocab or (256 if data.max_token < 256 else 50257)
        if data.max_token >= vocab:
            sys.exit(f"{args.data}: token {data.max_token} >= vocab {vocab}; pass --vocab")
    else:
        vocab = args.vocab or 256
        data = RandomBytes(vocab, B, T, args.seed, dev)

    model = Model(vocab, cfg["d"], cfg["L"], cfg["H"], cfg["ff"], rule="fla" if args.fla else "chunk",
                  mixer=args.mixer).to(dev)
    opt = make_optimizer(model)
    params = list(model.parameters())

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def step():
        x, y = data.batch()
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync()
    dt = time.perf_counter() - t0
    final = loss.item()
    if not math.isfinite(final):
        sys.exit(f"loss is not finite: {final}")

    print(f"scale {args.scale}: {sum(p.numel() for p in params)} params, vocab {vocab}, "
          f"B={B} T={T}, final loss {final:.4f}", file=sys.stderr)
    print(json.dumps({
        "impl": "pytorch+fla" if args.fla else "pytorch-eager",
        "mixer": args.mixer,
        "scale": args.scale,
        "tokens_per_s": round(B * T * args.steps / dt, 1),
        "step_ms": round(1000.0 * dt / args.steps, 3),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
