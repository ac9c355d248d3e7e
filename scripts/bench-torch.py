#!/usr/bin/env python3
"""bench-torch.py - PyTorch eager's training speed at a shape, for scripts/bench-gpu.sh.

Builds the Hugging Face model of the shape from its config (no download,
random weights): GPT-2 (GPT2LMHeadModel) or the LLaMA family
(LlamaForCausalLM), SDPA attention, fp32 parameters trained under bf16
autocast with fused AdamW, as the issue's baseline says (PyTorch 2.11 eager
with transformers); --compile runs torch.compile on the model first (the
issue's goal).  Times STEPS training steps on random tokens
(use_cache=False) with CUDA synchronisation around each and prints one JSON
object: the median step time from the third step (the first two allocate
the optimizer state and warm the caching allocator and the autotuner), the
tokens a second, the parameter count.

  python3 scripts/bench-torch.py --arch gpt2|llama --layers L --hidden H --heads A
      [--kv-heads G] [--ffn F] [--vocab V] --seq S --micro-batch B [--steps N]
      [--rope-theta X] [--tied 0|1] [--compile]

Needs a GPU, PyTorch and transformers (the GPU test machine has PyTorch 2.11
and transformers 5.17, ../shared/GPU.md); exits 3 when they are missing.
"""
import argparse
import json
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description="PyTorch eager's training speed at a shape")
    ap.add_argument("--arch", choices=["gpt2", "llama"], required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--hidden", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--kv-heads", type=int, default=0)
    ap.add_argument("--ffn", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--micro-batch", type=int, required=True)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--tied", type=int, choices=[0, 1], default=0, help="the LLaMA's head tied to its embedding")
    ap.add_argument("--compile", action="store_true")
    a = ap.parse_args()
    if a.steps < 3:
        ap.error("--steps must be at least 3 (the first two are warm-up)")
    try:
        import torch
        import transformers
    except ImportError as e:
        print(f"bench-torch.py: {e} (needs PyTorch and transformers)", file=sys.stderr)
        return 3
    if not torch.cuda.is_available():
        print("bench-torch.py: no CUDA device visible", file=sys.stderr)
        return 3
    dev = torch.device("cuda")
    if a.arch == "gpt2":
        cfg = {"model_type": "gpt2", "n_layer": a.layers, "n_embd": a.hidden, "n_head": a.heads, "n_positions": a.seq,
               "vocab_size": a.vocab, "n_inner": a.ffn or None, "resid_pdrop": 0.0, "embd_pdrop": 0.0,
               "attn_pdrop": 0.0}
    else:
        cfg = {"model_type": "llama", "num_hidden_layers": a.layers, "hidden_size": a.hidden,
               "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads or a.heads,
               "intermediate_size": a.ffn or 4 * a.hidden, "vocab_size": a.vocab, "max_position_embeddings": a.seq,
               "rope_theta": a.rope_theta, "rms_norm_eps": 1e-5, "tie_word_embeddings": bool(a.tied),
               "attention_bias": False, "mlp_bias": False}
    model = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model(**cfg),
                                                          attn_implementation="sdpa")
    model.to(dev).train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    step_model = torch.compile(model) if a.compile else model
    g = torch.Generator(device=dev).manual_seed(1234)
    times = []
    for _ in range(a.steps):
        tok = torch.randint(0, a.vocab, (a.micro_batch, a.seq), device=dev, generator=g)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = step_model(input_ids=tok, labels=tok, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    step = statistics.median(times[2:])
    print(json.dumps({"arch": a.arch, "compiled": a.compile, "params": params, "seq": a.seq,
                      "micro_batch": a.micro_batch, "step_s": step,
                      "tokens_per_s": a.micro_batch * a.seq / step, "steps": a.steps,
                      "torch": torch.__version__, "transformers": transformers.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
