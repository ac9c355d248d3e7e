#!/usr/bin/env python3
"""reference.py - zplan-engine's training step written a second time, apart.

Reads the directory a 1-rank `zplan-engine ... dump=DIR` run wrote (engine.c
says what is in it: config.json, params.f32, batches.i32), trains the same
GPT on the same batches with the same hyper-parameters, and prints one JSON
object on stdout:

  {"losses": [...], "grad_norms": [...], "clipped": N, "skipped": N,
   "loss_scale": S, "init_matches": true, "data_matches": true,
   "mutations": [...]}

Nothing here comes from the engine's code: the forward and backward of every
layer are derived by hand from the model's definition (no autograd library),
in NumPy float32 where the engine computes in fp32 (float64 where the C code
accumulates in double: the loss's mean, the gradient's sum of squares).  The
model, GPT-2 by default: token + position embeddings; L pre-LayerNorm blocks
(LN1, QKV with bias, causal attention scaled 1/sqrt(head size), output
projection, residual; LN2, fc to 4C, GELU tanh form, projection back,
residual); final LN; output head tied to the token embedding; cross-entropy
averaged over the tokens.  config.json's architecture keys turn it into the
LLaMA family (an absent key is the GPT-2 value in parentheses):
  kv_heads KV (heads)    grouped-query attention: query head h reads K/V
                         head h // (heads / KV); qkv is Q (C) | K | V (KV hs)
  ffn F (4 hidden)       the MLP's width
  norm (layernorm)       rmsnorm: x / sqrt(mean(x^2) + 1e-5) w, no bias
  mlp (gelu)             swiglu: fc gives gate | up (2F), silu(gate) up
  pos (learned)          rotary: no wpe; the (i, i + hs/2) pairs of every Q
                         and K head of token t rotated by t theta^(-2i/hs)
  rope_theta (10000)     theta
  tied (true)            false: an own output head [V][C] in the last unit
  bias (true)            false: no bias in any linear layer
  qkv_bias (false)       true (with bias false): a bias on the QKV product
                         alone, Qwen2's
  qk_norm (false)        true: each Q head and each K head of the QKV
                         product's output RMS-normalised over its hs values
                         (one weight of hs for the Q heads, qnw, one for the
                         K heads, knw; after qkv's bias, before the rotary
                         positions), Qwen3's q_norm and k_norm
  gemm_math (fp32)       bf16, fp16: the operands of every linear layer's
                         product (forward, both backward ones, the head's)
                         and of the attention's (Q K^T, P V; dY V^T, P^T dY,
                         dS K, dS^T Q) rounded to that type (nearest even)
                         before the float32 product; the bias's gradient,
                         the softmax and dS from float32 values
  flash_attention (false) true: the engine's flash attention, whose
                         products round the same operands under gemm_math,
                         the output's probabilities unnormalised, a tile of
                         64 keys at a time at the running maximum (flash_out),
                         where the head size is a multiple of 16 up to 128;
                         at another head size they stay float32

The step: gradients accumulated over the micro-batches, each scaled
by loss_scale / accum (the mean); gradient clipping to the global norm
`clip` after unscaling; AdamW (bias-corrected, decoupled weight decay) or
SGD with momentum; linear warm-up of the learning rate over the first
`warmup_steps` applied steps; with loss scaling (loss_scale > 0) a step whose
gradients overflow is skipped and halves the scale (not below 1), and
`scale_window` good steps double it.  16-bit storage (dtype, grad_dtype) is
emulated by rounding to nearest even.

Two checks of the dump itself, from the engine's documented rules rather
than its code: the initial parameters are the seeded generator's values
(init_matches) and the batches are the seeded Markov chain's sequences
(data_matches).

--mutate NAME (repeatable) breaks the reference on purpose, so that a test
can show that the comparison with the engine notices each kind of bug:
  beta2           AdamW's beta2 0.95 -> 0.5
  no-clip         no gradient clipping
  no-weight-decay weight decay not applied
  no-warmup       the learning rate warm-up removed
  no-accum-mean   the accumulated gradient not averaged over the micro-batches
  no-unscale      the loss scale not divided out of the gradients
  no-skip         an overflowing step applied instead of skipped
  rope-sign       rotary positions rotated by the opposite angle, -t theta^(-2i/hs)
                  (its backward consistent with it; pos rotary only)
  gqa-share       query head h reads K/V head h % KV instead of h // (heads / KV)
                  (matters only when 1 < kv_heads < heads)
  qk-whole        Q and K each normalised over all their heads at once (one
                  rstd a token, OLMo 2's norm) instead of head by head (qk_norm only)
"""
import argparse
import json
import math
import os
import sys

import numpy as np

f32 = np.float32
MUTATIONS = ("beta2", "no-clip", "no-weight-decay", "no-warmup", "no-accum-mean", "no-unscale", "no-skip",
             "rope-sign", "gqa-share", "qk-whole")
LN_EPS = f32(1e-5)
GELU_K = f32(math.sqrt(2.0 / math.pi))
GELU_A = f32(0.044715)
M64 = (1 << 64) - 1


# ------------------------------------------------------------------ storage

def round16(x, dt):
    """float32 values rounded to a 16-bit type (nearest even) and back."""
    if dt == "fp32":
        return x
    if dt == "fp16":
        with np.errstate(over="ignore"):
            return x.astype(np.float16).astype(f32)
    u = np.ascontiguousarray(x, dtype=f32).view(np.uint32)
    r = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    nan = (u & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    r = np.where(nan, (u | np.uint32(0x00400000)) & np.uint32(0xFFFF0000), r)
    return r.astype(np.uint32).view(f32)


# ---------------------------------------------- the engine's documented rules

def mix(x):
    """splitmix-style finaliser on uint64 arrays (init.h's ze_mix)."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


def gauss(seed, unit, n):
    """N(0, 1) values 0..n-1 of a unit: Box-Muller in double, as float32."""
    i = np.arange(n, dtype=np.uint64)
    a = mix(np.uint64((seed << 40) & M64) ^ np.uint64(unit << 32) ^ (np.uint64(2) * i + np.uint64(1)))
    b = mix(a ^ np.uint64(0x9E3779B97F4A7C15))
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 0.5) / 9007199254740992.0
    u2 = (b >> np.uint64(11)).astype(np.float64) / 9007199254740992.0
    return (np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u2)).astype(f32)


def expected_init(cfg, shapes):
    """The initial parameters as the engine documents them: N(0, 0.02) for
    the embeddings, QKV, fc and untied head weights, 0.02/sqrt(2L) for the
    two residual projections, norm weights 1, every bias 0; unit k's
    segments (those the architecture has) take the generator's values of
    unit k in order."""
    L = cfg["layers"]
    out = []
    for k, unit in enumerate(shapes):
        n = sum(int(np.prod(s)) for _, s in unit)
        g = gauss(cfg["seed"], k, n)
        vals = np.empty(n, dtype=f32)
        o = 0
        for name, s in unit:
            m = int(np.prod(s))
            if name in ("wte", "wpe", "qkvw", "fcw", "headw"):
                vals[o:o + m] = f32(0.02) * g[o:o + m]
            elif name in ("projw", "fcpw"):
                vals[o:o + m] = (f32(0.02) / np.sqrt(f32(2.0) * f32(L))) * g[o:o + m]
            elif name in ("ln1w", "ln2w", "lnfw", "qnw", "knw"):
                vals[o:o + m] = 1.0
            else:
                vals[o:o + m] = 0.0
            o += m
        out.append(vals)
    return np.concatenate(out)


def expected_sequence(cfg, n):
    """Sequence n (T + 1 tokens) of the seeded Markov chain: each token
    goes to one of 4 likely successors, or to any token 1/8 of the time."""
    V, T = cfg["vocab"], cfg["seq"]

    def mx(x):
        x ^= x >> 33
        x = (x * 0xFF51AFD7ED558CCD) & M64
        x ^= x >> 33
        x = (x * 0xC4CEB9FE1A85EC53) & M64
        return x ^ (x >> 33)

    st = mx(((cfg["seed"] << 32) ^ ((n * 2654435761 + 1) & M64)) & M64)
    tok = st % V
    seq = []
    for _ in range(T + 1):
        seq.append(tok)
        st = mx((st + 0x9E3779B97F4A7C15) & M64)
        k = st % 4
        tok = (st >> 16) % V if (st >> 8) % 8 == 0 else (tok * 7 + 3 + k * 13) % V
    return seq


# ------------------------------------------------------------------ layers

def layernorm_fwd(x, w, b):
    C = x.shape[-1]
    mu = x.sum(-1, keepdims=True, dtype=f32) / f32(C)
    d = x - mu
    rs = f32(1.0) / np.sqrt((d * d).sum(-1, keepdims=True, dtype=f32) / f32(C) + LN_EPS)
    return d * rs * w + b, (d, rs)


def layernorm_bwd(dout, cache, w):
    """d(out)/d(x, w, b) of y = (x - mu) rstd w + b, by hand:
    dx = rstd (g - mean(g) - n mean(g n)), g = dout w, n = (x - mu) rstd."""
    d, rs = cache
    C = d.shape[-1]
    n = d * rs
    g = dout * w
    gmean = g.sum(-1, keepdims=True, dtype=f32) / f32(C)
    gnmean = (g * d).sum(-1, keepdims=True, dtype=f32) * rs / f32(C)
    dx = rs * (g - gmean - n * gnmean)
    return dx, (dout * n).sum(0, dtype=f32), dout.sum(0, dtype=f32)


def rmsnorm_fwd(x, w):
    """y = x rstd w, rstd = 1 / sqrt(mean(x^2) + eps): no centring, no bias"""
    C = x.shape[-1]
    rs = f32(1.0) / np.sqrt((x * x).sum(-1, keepdims=True, dtype=f32) / f32(C) + LN_EPS)
    return x * rs * w, (x, rs)


def rmsnorm_bwd(dout, cache, w):
    """with n = x rstd, g = dout w: d rstd / dx = -rstd^3 x / C, so
    dx = rstd g - x rstd^3 sum(g x) / C = rstd (g - n mean(g n)); dw = sum dout n"""
    x, rs = cache
    C = x.shape[-1]
    n = x * rs
    g = dout * w
    gnmean = (g * x).sum(-1, keepdims=True, dtype=f32) * rs / f32(C)
    return rs * (g - n * gnmean), (dout * n).sum(0, dtype=f32), None


def qk_norm_fwd(A, qkv, qw, kw):
    """qkv [N][C + 2 KV hs] with every Q head (the first C columns, NH heads
    of hs) RMS-normalised with weight qw and every K head (the next KV hs)
    with kw; V as it was"""
    N, C, hs, KV = qkv.shape[0], A.C, A.hs, A.KV
    hq, hk = (1, 1) if A.qk_whole else (A.NH, KV)   # rows a token (the mutation: one)
    q, cq = rmsnorm_fwd(qkv[:, :C].reshape(N * hq, -1), np.tile(qw, A.NH // hq))
    k, ck = rmsnorm_fwd(qkv[:, C:C + KV * hs].reshape(N * hk, -1), np.tile(kw, KV // hk))
    return np.concatenate([q.reshape(N, C), k.reshape(N, KV * hs), qkv[:, C + KV * hs:]], axis=1), (cq, ck)


def qk_norm_bwd(A, dqkv, cache, qw, kw):
    """the gradient before the head norms, and their weights'"""
    N, C, hs, KV = dqkv.shape[0], A.C, A.hs, A.KV
    cq, ck = cache
    hq, hk = (1, 1) if A.qk_whole else (A.NH, KV)
    dq, dqw, _ = rmsnorm_bwd(dqkv[:, :C].reshape(N * hq, -1), cq, np.tile(qw, A.NH // hq))
    dk, dkw, _ = rmsnorm_bwd(dqkv[:, C:C + KV * hs].reshape(N * hk, -1), ck, np.tile(kw, KV // hk))
    dqw = dqw.reshape(-1, hs).sum(0, dtype=f32)   # the tiles' gradients summed (one tile head by head)
    dkw = dkw.reshape(-1, hs).sum(0, dtype=f32)
    return np.concatenate([dq.reshape(N, C), dk.reshape(N, KV * hs), dqkv[:, C + KV * hs:]], axis=1), dqw, dkw


def norm_fwd(A, x, w, b):
    return layernorm_fwd(x, w, b) if A.layernorm else rmsnorm_fwd(x, w)


def norm_bwd(A, dout, cache, w):
    return layernorm_bwd(dout, cache, w) if A.layernorm else rmsnorm_bwd(dout, cache, w)


# config.json's gemm_math: the linear layers' operands rounded to it before
# each float32 product (the sums stay float32), and the attention's (flash
# attention's too: its forward rounds each key tile's unnormalised
# probabilities, flash_out below); main() sets it
GEMM_MATH = ["fp32"]
FLASH = [False]
FA_TILE = 64    # the engine's flash tiles (cpu/kernels.c's ZK_FA_TILE, the CUDA row's key tiles)


def flash_rounds(A):
    """whether flash attention rounds its operands under gemm_math: for the
    head sizes the tensor-core kernels take (a multiple of 16 up to 128,
    cpu/kernels.c's zk_flash_round_heads); another stays float32"""
    return GEMM_MATH[0] != "fp32" and A.hs % 16 == 0 and A.hs <= 128


def att_rounder(A):
    """an attention product's operand under gemm_math: rounded, but for
    flash attention at a head size that stays float32"""
    if FLASH[0] and not flash_rounds(A):
        return lambda x: x
    return lambda x: round16(x, GEMM_MATH[0])


def flash_out(qr, kr, vr, scale, T):
    """flash attention's output from rounded Q, K, V [B][NH][T][hs]: key
    tiles of FA_TILE in order, a running row maximum m and sum l (of the
    unrounded e^(S - m)), the output rescaled by e^(m_old - m_new) as m
    grows and each tile's e^(S - m) rounded before its product with V"""
    B, NH, _, hs = qr.shape
    o = np.zeros((B, NH, T, hs), dtype=f32)
    m = np.full((B, NH, T), -np.inf, dtype=f32)
    l = np.zeros((B, NH, T), dtype=f32)
    for c0 in range(0, T, FA_TILE):
        c1 = min(c0 + FA_TILE, T)
        s = (qr @ kr[:, :, c0:c1].transpose(0, 1, 3, 2)) * scale
        s = np.where(np.arange(c0, c1)[None, :] > np.arange(T)[:, None], f32(-np.inf), s)
        mn = np.maximum(m, s.max(-1))
        with np.errstate(invalid="ignore"):
            a = np.where(m == -np.inf, f32(0.0), np.exp(m - mn)).astype(f32)
            e = np.where(s == -np.inf, f32(0.0), np.exp(s - mn[..., None])).astype(f32)
        l = l * a + e.sum(-1, dtype=f32)
        o = o * a[..., None] + round16(e, GEMM_MATH[0]) @ vr[:, :, c0:c1]
        m = mn
    return o * (f32(1.0) / l)[..., None]


def linear_fwd(x, w, b=None):
    """x [N][in], w [out][in] -> [N][out]"""
    y = round16(x, GEMM_MATH[0]) @ round16(w, GEMM_MATH[0]).T
    return y + b if b is not None else y


def linear_bwd(dy, x, w):
    """the input's and the weight's gradients from the rounded operands;
    the bias's is a sum of dy as it is"""
    r = GEMM_MATH[0]
    return round16(dy, r) @ round16(w, r), round16(dy, r).T @ round16(x, r), dy.sum(0, dtype=f32)


def gelu_fwd(x):
    """0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), written as
    x sigmoid(2u)"""
    return x / (f32(1.0) + np.exp(f32(-2.0) * GELU_K * (x + GELU_A * x * x * x)))


def gelu_grad(x):
    """d/dx [x s(2u)] = s + 2 x s (1 - s) u', u' = sqrt(2/pi) (1 + 3 0.044715 x^2)"""
    x2 = x * x
    s = f32(1.0) / (f32(1.0) + np.exp(f32(-2.0) * GELU_K * x * (f32(1.0) + GELU_A * x2)))
    return s + f32(2.0) * x * s * (f32(1.0) - s) * GELU_K * (f32(1.0) + f32(3.0) * GELU_A * x2)


def sigmoid(x):
    with np.errstate(over="ignore"):     # exp(-x) = inf for a very negative x: sigmoid 0, as it should
        return f32(1.0) / (f32(1.0) + np.exp(-x))


def swiglu_fwd(h, F):
    """h [N][2F] = gate | up -> silu(gate) up, silu(g) = g sigmoid(g)"""
    g, u = h[:, :F], h[:, F:]
    return g * sigmoid(g) * u


def swiglu_bwd(da, h, F):
    """d silu(g)/dg = s + g s (1 - s) = s (1 + g (1 - s)), s = sigmoid(g);
    d(silu(g) u)/du = silu(g)"""
    g, u = h[:, :F], h[:, F:]
    s = sigmoid(g)
    return np.concatenate([da * u * s * (f32(1.0) + g * (f32(1.0) - s)), da * g * s], axis=1)


def rope_tables(A, T, sign):
    """cos and sin [T][hs/2] of the angles sign t theta^(-2i/hs), computed in
    double and stored as float32"""
    hs = A.hs
    i = np.arange(hs // 2, dtype=np.float64)
    ang = sign * np.arange(T, dtype=np.float64)[:, None] * np.power(A.theta, -2.0 * i / hs)[None, :]
    return np.cos(ang).astype(f32), np.sin(ang).astype(f32)


def rope_apply(A, qkv, B, T, cs, sn):
    """rotate the (i, i + hs/2) pairs of every Q and K head of each token by
    the angle of its position (the tables' row t): x1' = x1 cos - x2 sin,
    x2' = x2 cos + x1 sin; V untouched.  Returns a new array."""
    hs, half, nqk = A.hs, A.hs // 2, A.NH + A.KV
    out = qkv.copy()
    qk = out[:, :nqk * hs].reshape(B, T, nqk, hs)
    x1, x2 = qk[..., :half].copy(), qk[..., half:].copy()
    c, s = cs[None, :, None, :], sn[None, :, None, :]
    qk[..., :half] = x1 * c - x2 * s
    qk[..., half:] = x2 * c + x1 * s
    return out


def attention_fwd(A, qkv, B, T):
    """causal attention with grouped K/V heads; qkv [B*T][C + 2 KV hs]
    (Q heads, then K heads, then V heads, side by side in each row) ->
    y [B*T][C], and what backward needs"""
    hs, NH, KV, C = A.hs, A.NH, A.KV, A.C
    r = qkv.reshape(B, T, -1)
    q = r[:, :, :C].reshape(B, T, NH, hs).transpose(0, 2, 1, 3)
    k = r[:, :, C:C + KV * hs].reshape(B, T, KV, hs).transpose(0, 2, 1, 3)
    v = r[:, :, C + KV * hs:].reshape(B, T, KV, hs).transpose(0, 2, 1, 3)
    ke, ve = k[:, A.kvmap], v[:, A.kvmap]           # [B][NH][T][hs]: each query head's K and V
    scale = f32(1.0) / np.sqrt(f32(hs))
    R = att_rounder(A)
    s = (R(q) @ R(ke).transpose(0, 1, 3, 2)) * scale
    mask = np.triu(np.ones((T, T), dtype=bool), 1)
    s = np.where(mask, f32(-np.inf), s)
    e = np.exp(s - s.max(-1, keepdims=True))
    p = e * (f32(1.0) / e.sum(-1, keepdims=True, dtype=f32))
    y = flash_out(R(q), R(ke), R(ve), scale, T) if FLASH[0] and flash_rounds(A) else R(p) @ R(ve)
    return y.transpose(0, 2, 1, 3).reshape(B * T, C), (q, ke, ve, p, scale, y)


def attention_bwd(A, dy, cache, B, T):
    """P = softmax(S), S = scale Q K^T, Y = P V:
    dP = dY V^T, dV = P^T dY, dS = P (dP - rowsum(P dP)), dQ = scale dS K,
    dK = scale dS^T Q; a K/V head shared by several query heads gets the sum
    of their dK, dV"""
    q, ke, ve, p, scale, y = cache
    hs, NH, KV = A.hs, A.NH, A.KV
    R = att_rounder(A)
    dy = dy.reshape(B, T, NH, hs).transpose(0, 2, 1, 3)
    dp = R(dy) @ R(ve).transpose(0, 1, 3, 2)
    dve = R(p).transpose(0, 1, 3, 2) @ R(dy)
    # flash attention's row sums are D = dO . O (the unrounded dO and its output)
    d = (dy * y).sum(-1, keepdims=True, dtype=f32) if FLASH[0] else (p * dp).sum(-1, keepdims=True, dtype=f32)
    ds = scale * p * (dp - d)
    dq = R(ds) @ R(ke)
    dke = R(ds).transpose(0, 1, 3, 2) @ R(q)
    dk = np.zeros((B, KV, T, hs), dtype=dq.dtype)
    dv = np.zeros((B, KV, T, hs), dtype=dq.dtype)
    for h in range(NH):
        dk[:, A.kvmap[h]] += dke[:, h]
        dv[:, A.kvmap[h]] += dve[:, h]
    return np.concatenate([x.transpose(0, 2, 1, 3).reshape(B * T, -1) for x in (dq, dk, dv)], axis=1)


# ------------------------------------------------------------------ model

class Arch:
    """config.json's architecture keys, absent ones the GPT-2 defaults"""

    def __init__(self, cfg, mutations=()):
        self.C, self.NH, self.V, self.T, self.L = cfg["hidden"], cfg["heads"], cfg["vocab"], cfg["seq"], cfg["layers"]
        self.KV = int(cfg.get("kv_heads", self.NH))
        self.F = int(cfg.get("ffn", 4 * self.C))
        norm, mlp, pos = cfg.get("norm", "layernorm"), cfg.get("mlp", "gelu"), cfg.get("pos", "learned")
        for key, val, ok in (("norm", norm, ("layernorm", "rmsnorm")), ("mlp", mlp, ("gelu", "swiglu")),
                             ("pos", pos, ("learned", "rotary"))):
            if val not in ok:
                sys.exit("reference.py: unknown %s %r in config.json" % (key, val))
        self.layernorm, self.swiglu, self.rotary = norm == "layernorm", mlp == "swiglu", pos == "rotary"
        self.theta = float(f32(cfg.get("rope_theta", 10000.0)))   # a float in the engine
        self.tied, self.bias = bool(cfg.get("tied", True)), bool(cfg.get("bias", True))
        self.qk_norm = bool(cfg.get("qk_norm", False))
        self.qkv_bias = self.bias or bool(cfg.get("qkv_bias", False))
        self.qk_whole = "qk-whole" in mutations
        if self.NH <= 0 or self.C % self.NH or self.KV <= 0 or self.NH % self.KV or self.F <= 0:
            sys.exit("reference.py: hidden %d, heads %d, kv_heads %d, ffn %d do not make a model"
                     % (self.C, self.NH, self.KV, self.F))
        self.hs = self.C // self.NH
        if self.rotary and self.hs % 2:
            sys.exit("reference.py: rotary positions need an even head size, not %d" % self.hs)
        grp = self.NH // self.KV
        self.kvmap = np.array([h % self.KV if "gqa-share" in mutations else h // grp for h in range(self.NH)])
        self.rope_sign = -1.0 if "rope-sign" in mutations else 1.0


def unit_shapes(cfg):
    A = Arch(cfg)
    V, T, C, L, F, hs, KV = A.V, A.T, A.C, A.L, A.F, A.hs, A.KV
    Fm = 2 * F if A.swiglu else F
    QKV = C + 2 * KV * hs
    ln, bias = A.layernorm, A.bias
    block = [("ln1w", (C,))] + [("ln1b", (C,))] * ln + [("qkvw", (QKV, C))] + [("qkvb", (QKV,))] * A.qkv_bias + \
        [("qnw", (hs,)), ("knw", (hs,))] * A.qk_norm + [("projw", (C, C))] + [("projb", (C,))] * bias + [("ln2w", (C,))] + [("ln2b", (C,))] * ln + \
        [("fcw", (Fm, C))] + [("fcb", (Fm,))] * bias + [("fcpw", (C, F))] + [("fcpb", (C,))] * bias
    emb = [("wte", (V, C))] + [("wpe", (T, C))] * (not A.rotary)
    last = [("lnfw", (C,))] + [("lnfb", (C,))] * ln + [("headw", (V, C))] * (not A.tied)
    return [emb] + [block] * L + [last]


def views(flat, shapes):
    """[unit][name] -> views into the flat array, in the dump's order"""
    out, o = [], 0
    for unit in shapes:
        d = {}
        for name, s in unit:
            m = int(np.prod(s))
            d[name] = flat[o:o + m].reshape(s)
            o += m
        out.append(d)
    return out


def micro_batch(cfg, W, G, tok, tgt, dscale, mutations=()):
    """forward and backward of one micro-batch with the parameters W (views);
    adds d(loss * dscale)/d(parameters) into G (views); returns the loss"""
    A = Arch(cfg, mutations)
    B, T, C, L, F = cfg["micro_batch"], cfg["seq"], A.C, A.L, A.F
    N = B * T
    emb, fin = W[0], W[L + 1]
    tok = tok.reshape(-1)
    tgt = tgt.reshape(-1)
    x = emb["wte"][tok]
    if not A.rotary:
        x = (x.reshape(B, T, C) + emb["wpe"][None, :T]).reshape(N, C)
    if A.rotary:
        cs, sn = rope_tables(A, T, A.rope_sign)
    caches = []
    for l in range(L):
        w = W[1 + l]
        ln1, c1 = norm_fwd(A, x, w["ln1w"], w.get("ln1b"))
        qkv = linear_fwd(ln1, w["qkvw"], w.get("qkvb"))
        cq = None
        if A.qk_norm:
            qkv, cq = qk_norm_fwd(A, qkv, w["qnw"], w["knw"])
        if A.rotary:
            qkv = rope_apply(A, qkv, B, T, cs, sn)
        y, ca = attention_fwd(A, qkv, B, T)
        xmid = linear_fwd(y, w["projw"], w.get("projb")) + x
        ln2, c2 = norm_fwd(A, xmid, w["ln2w"], w.get("ln2b"))
        h = linear_fwd(ln2, w["fcw"], w.get("fcb"))
        a = swiglu_fwd(h, F) if A.swiglu else gelu_fwd(h)
        xout = linear_fwd(a, w["fcpw"], w.get("fcpb")) + xmid
        caches.append((ln1, c1, ca, y, c2, ln2, h, a, cq))
        x = xout
    lnf, cf = norm_fwd(A, x, fin["lnfw"], fin.get("lnfb"))
    head = emb["wte"] if A.tied else fin["headw"]
    logits = linear_fwd(lnf, head)
    # cross-entropy: mean over the tokens of log sum e^z - z[target]
    mx = logits.max(-1, keepdims=True)
    e = np.exp(logits - mx)
    s = e.sum(-1, keepdims=True, dtype=f32)
    rows = np.arange(N)
    loss = float(np.mean(np.log(s[:, 0].astype(np.float64)) + mx[:, 0].astype(np.float64) -
                         logits[rows, tgt].astype(np.float64)))
    dn = f32(dscale) / f32(N)
    dlogits = e * (dn / s)
    dlogits[rows, tgt] -= dn
    # backward
    ge, gf = G[0], G[L + 1]

    def acc(g, name, d):
        if name in g:       # a bias the architecture lacks has no gradient
            g[name] += d

    dlnf, dhead, _ = linear_bwd(dlogits, lnf, head)
    acc(ge if A.tied else gf, "wte" if A.tied else "headw", dhead)
    dx, dw, db = norm_bwd(A, dlnf, cf, fin["lnfw"])
    gf["lnfw"] += dw
    acc(gf, "lnfb", db)
    if A.rotary:
        cb, sb = rope_tables(A, T, -A.rope_sign)   # the transpose of a rotation: the opposite angle
    for l in reversed(range(L)):
        w, g = W[1 + l], G[1 + l]
        ln1, c1, ca, y, c2, ln2, h, a, cq = caches[l]
        da, dw, db = linear_bwd(dx, a, w["fcpw"])
        g["fcpw"] += dw
        acc(g, "fcpb", db)
        dh = swiglu_bwd(da, h, F) if A.swiglu else gelu_grad(h) * da
        dln2, dw, db = linear_bwd(dh, ln2, w["fcw"])
        g["fcw"] += dw
        acc(g, "fcb", db)
        dxm, dw, db = norm_bwd(A, dln2, c2, w["ln2w"])
        g["ln2w"] += dw
        acc(g, "ln2b", db)
        dxmid = dx + dxm
        dy, dw, db = linear_bwd(dxmid, y, w["projw"])
        g["projw"] += dw
        acc(g, "projb", db)
        dqkv = attention_bwd(A, dy, ca, B, T)
        if A.rotary:
            dqkv = rope_apply(A, dqkv, B, T, cb, sb)
        if A.qk_norm:
            dqkv, dqw, dkw = qk_norm_bwd(A, dqkv, cq, w["qnw"], w["knw"])
            g["qnw"] += dqw
            g["knw"] += dkw
        dln1, dw, db = linear_bwd(dqkv, ln1, w["qkvw"])
        g["qkvw"] += dw
        acc(g, "qkvb", db)
        dx1, dw, db = norm_bwd(A, dln1, c1, w["ln1w"])
        g["ln1w"] += dw
        acc(g, "ln1b", db)
        dx = dxmid + dx1
    np.add.at(ge["wte"], tok, dx)
    if not A.rotary:
        ge["wpe"][:T] += dx.reshape(B, T, C).sum(0, dtype=f32)
    return loss


# ------------------------------------------------------------------ training

def train(cfg, params, batches, mutations):
    M = cfg["accum"]
    shapes = unit_shapes(cfg)
    pdt, gdt = cfg["dtype"], cfg["grad_dtype"]
    master = params.copy()                  # what the optimizer updates (fp32)
    work = round16(master, pdt)             # what the step computes with
    grads = np.zeros_like(master)           # the stored gradients (values of gdt)
    mom = np.zeros_like(master)
    var = np.zeros_like(master)
    sgd = cfg["optimizer"] == "sgd"
    beta1, beta2, eps = f32(cfg["beta1"]), f32(cfg["beta2"]), f32(cfg["eps"])
    momentum = f32(cfg["momentum"])
    wd = f32(0.0 if "no-weight-decay" in mutations else cfg["weight_decay"])
    clip = 0.0 if "no-clip" in mutations else float(f32(cfg["clip"]))
    if "beta2" in mutations:
        beta2 = f32(0.5)
    lr0, warm = f32(cfg["lr"]), cfg["warmup_steps"]
    scaling = cfg["loss_scale"] > 0
    scale = float(cfg["loss_scale"]) if scaling else 1.0
    good = applied = skipped = clipped = 0
    losses, norms = [], []
    for s in range(cfg["steps"]):
        W = views(work, shapes)
        loss = 0.0
        dscale = f32(scale) / f32(1 if "no-accum-mean" in mutations else M)
        for j in range(M):
            tok, tgt = batches[s, j, 0], batches[s, j, 1]
            mb = np.zeros_like(master)
            loss += micro_batch(cfg, W, views(mb, shapes), tok, tgt, dscale, mutations)
            with np.errstate(invalid="ignore", over="ignore"):   # an overflow stays inf: the step is skipped
                if gdt == "fp32":
                    grads += mb
                elif cfg["zero"] <= 1:     # the sum in fp32, rounded into gdt
                    grads = round16(grads + mb, gdt)
                elif cfg["offload"]:       # reduce-scattered in gdt, summed into the host's fp32 shard
                    grads = grads + round16(mb, gdt)
                else:                      # reduce-scattered in gdt, summed into the gdt shard
                    grads = round16(grads + round16(mb, gdt), gdt)
        losses.append(loss / M)
        ss = float(np.sum(np.square(grads.astype(np.float64))))
        skip = scaling and not math.isfinite(ss) and "no-skip" not in mutations
        norm = math.sqrt(ss) / scale
        norms.append(norm if math.isfinite(norm) else None)
        gscale = f32(clip / norm) if clip > 0 and norm > clip else f32(1.0)
        if not skip and gscale != f32(1.0):
            clipped += 1
        if scale != 1.0 and "no-unscale" not in mutations:
            gscale = f32(float(gscale) / scale)
        t = applied + 1
        lr = lr0 * (f32(t) / f32(warm) if t < warm and "no-warmup" not in mutations else f32(1.0))
        if not skip:
            with np.errstate(invalid="ignore", over="ignore"):   # (no-skip applies inf)
                g = grads * gscale if gscale != f32(1.0) else grads
                if sgd:
                    u = momentum * mom + g + wd * master
                    mom = u
                    master = master - lr * u
                else:
                    bc1 = f32(1.0 - float(beta1) ** t)
                    bc2 = f32(1.0 - float(beta2) ** t)
                    step = lr / bc1
                    inv_sqrt_bc2 = f32(1.0) / np.sqrt(bc2)
                    decay = f32(1.0) - lr * wd
                    mom = beta1 * mom + (f32(1.0) - beta1) * g
                    var = beta2 * var + (f32(1.0) - beta2) * g * g
                    master = master * decay - step * mom / (np.sqrt(var) * inv_sqrt_bc2 + eps)
            work = round16(master, pdt)
        grads = np.zeros_like(master)
        if skip:
            scale = scale / 2.0 if scale > 2.0 else 1.0
            good = 0
            skipped += 1
            continue
        applied += 1
        if scaling:
            good += 1
            if good >= cfg["scale_window"]:
                scale *= 2.0
                good = 0
    return losses, norms, clipped, skipped, scale


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump", help="the directory of a zplan-engine dump=DIR run")
    ap.add_argument("--mutate", action="append", default=[], choices=MUTATIONS,
                    help="break the reference on purpose (see the module's doc)")
    a = ap.parse_args()
    with open(os.path.join(a.dump, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("format") != 1:
        sys.exit("reference.py: unknown dump format %r" % cfg.get("format"))
    GEMM_MATH[0] = cfg.get("gemm_math", "fp32")
    FLASH[0] = bool(cfg.get("flash_attention", False))
    if GEMM_MATH[0] not in ("fp32", "bf16", "fp16"):
        sys.exit("reference.py: unknown gemm_math %r in config.json" % GEMM_MATH[0])
    if cfg["ranks"] != 1:
        sys.exit("reference.py: the dump of a %d-rank run holds rank 0's batches only; dump a 1-rank run"
                 % cfg["ranks"])
    bo = "<" if cfg["byte_order"] == "little" else ">"
    shapes = unit_shapes(cfg)
    n = sum(int(np.prod(s)) for unit in shapes for _, s in unit)
    params = np.fromfile(os.path.join(a.dump, cfg["files"]["params"]), dtype=bo + "f4").astype(f32)
    if params.size != n:
        sys.exit("reference.py: params.f32 holds %d values, the shape needs %d" % (params.size, n))
    S, M, B, T = cfg["steps"], cfg["accum"], cfg["micro_batch"], cfg["seq"]
    batches = np.fromfile(os.path.join(a.dump, cfg["files"]["batches"]), dtype=bo + "i4").astype(np.int64)
    if batches.size != S * M * 2 * B * T:
        sys.exit("reference.py: batches.i32 holds %d values, %d steps need %d" % (batches.size, S, S * M * 2 * B * T))
    batches = batches.reshape(S, M, 2, B, T)
    init = expected_init(cfg, shapes)
    init_ok = bool(np.allclose(params, init, rtol=1e-6, atol=1e-9))
    data_ok = True
    for s in range(S):
        for j in range(M):
            for b in range(B):
                seq = expected_sequence(cfg, (s * M + j) * B + b)
                data_ok &= batches[s, j, 0, b].tolist() == seq[:T] and batches[s, j, 1, b].tolist() == seq[1:]
    losses, norms, clipped, skipped, scale = train(cfg, params, batches, set(a.mutate))
    out = {"losses": [x if math.isfinite(x) else None for x in losses], "grad_norms": norms, "clipped": clipped,
           "skipped": skipped, "loss_scale": scale, "init_matches": init_ok, "data_matches": bool(data_ok),
           "mutations": a.mutate}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
