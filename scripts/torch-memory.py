#!/usr/bin/env python3
"""torch-memory.py - what PyTorch allocates for one training step, measured.

For each shape below (GPT-2 and LLaMA family, fp32 and bf16 autocast, eager
and SDPA attention, about 125 M to 1.5 B parameters) this builds the
Hugging Face model from its config (no download, random weights), trains it
with AdamW (fused, or foreach where the shape says so) for three steps on
random tokens (use_cache=False: a training step keeps no KV cache) and
records, for the third step (the first two allocate the optimizer state and
warm the caching allocator):
  peak_allocated   torch.cuda.max_memory_allocated() over the step
  peak_reserved    torch.cuda.max_memory_reserved() over the step
  after_forward    memory_allocated() when the forward (with the loss) ends
  peak_forward     the peak up to then
  after_backward   memory_allocated() when the backward ends
  after_step       memory_allocated() after optimizer.step() and zero_grad()
  device_used      total - free of torch.cuda.mem_get_info() at the end (the
                   context, cuBLAS's workspace and the allocator's reserve)
  reserved_end     torch.cuda.memory_reserved() at the end (device_used less
                   it: the context and what lives outside the allocator)
  base_allocated   memory_allocated() as the step starts (parameters and
                   AdamW's moments; more: a workspace or buffers the model
                   keeps)
  blas_workspaces  what clearing PyTorch's cuBLAS workspaces frees after the
                   step (zplan's --blas-workspace: two of them)
  params           the parameter count
  param_dtype, attn_implementation, mlp_act, sdpa_backend
                   the code paths measured (the parameters' dtype, the
                   attention transformers chose, the MLP's activation module,
                   the SDPA kernel PyTorch's own choice function picks for
                   the shape: SDPBackend's name in lower case, flash_attention,
                   efficient_attention, math, cudnn_attention; "unknown
                   (...)" where the choice function fails; null for eager
                   attention)
and the config it used, as one JSON object a line, into
$OUT/torch-memory.jsonl (or ./torch-memory.jsonl).  It needs a GPU,
PyTorch and transformers (the GPU test machine has PyTorch 2.11 and
transformers 5.17, see ../shared/GPU.md) and a few minutes.  Each shape
runs in a process of its own (what one user's step sees: kernels loaded
and cuBLAS handles made for an earlier shape would count in its device
total); --same-process runs them all in this one.  The 16-bit SDPA shapes
run under sdpa_kernel(FLASH_ATTENTION), so that a fallback to another
kernel fails instead of measuring something else; an fp32 SDPA shape runs
what PyTorch picks (with grouped KV heads its math path).  The table it
writes is what zplan's --framework torch memory model is to be held to
(issue: real-framework memory); run it with scripts/gpu-check.

  python3 scripts/torch-memory.py [--only NAME] [--out FILE] [--same-process]
  python3 scripts/torch-memory.py --compare FILE [--zplan PATH] [--tap] [--all]

--compare needs neither a GPU nor PyTorch: for each shape measured in FILE
it asks zplan (--framework torch, the shape's layout pinned, --gpu the
preset of the GPU measured: h100-sxm for an H100, else h200) and
prints the measured and predicted tensor peak (max_memory_allocated against
zplan's classes without the overhead), device total (the device's used
memory at the end, the context and the allocator's reserve included,
against zplan's total) and step time (the third step's, against zplan's
with PyTorch eager's kernels), with the errors, a comment line a shape with the
SDPA kernel it ran (sdpa_backend) and the cuBLAS workspaces measured and
planned, and a last line with the
worst.  With --tap it prints TAP instead, a line a shape, holding the tensor
peak and the device total each within 5 % (the issue's bound; with every
block rebuilt the device total within 10 %, the allocator's spread there;
the time is shown, not held): tests/torch-memory.sh runs it on the
committed table.
With --all every shape of this script missing from FILE is a failure too
(scripts/gpu-check: a run cut short).
"""
import gc
import json
import os
import sys
import time


def shapes():
    gpt2 = {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "resid_pdrop": 0.0, "embd_pdrop": 0.0,
            "attn_pdrop": 0.0}
    llama = {"model_type": "llama", "vocab_size": 32000, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
             "tie_word_embeddings": False, "attention_bias": False, "mlp_bias": False}
    out = []

    def add(name, base, arch, dtype, attn, seq, mb, optimizer="fused", rebuilt=False):
        cfg = dict(base)
        cfg.update(arch)
        out.append({"name": name, "config": cfg, "dtype": dtype, "attn": attn, "seq": seq, "micro_batch": mb,
                    "optimizer": optimizer, "rebuilt": rebuilt})

    g125 = {"n_layer": 12, "n_embd": 768, "n_head": 12}
    g355 = {"n_layer": 24, "n_embd": 1024, "n_head": 16}
    g1558 = {"n_layer": 48, "n_embd": 1600, "n_head": 25}
    l125 = {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12, "num_key_value_heads": 4,
            "intermediate_size": 2048}
    l1b = {"num_hidden_layers": 16, "hidden_size": 2048, "num_attention_heads": 32, "num_key_value_heads": 8,
           "intermediate_size": 5632}
    add("gpt2-125m-fp32-eager", gpt2, g125, "fp32", "eager", 1024, 4)
    add("gpt2-125m-bf16-eager", gpt2, g125, "bf16", "eager", 1024, 4)
    add("gpt2-125m-bf16-sdpa", gpt2, g125, "bf16", "sdpa", 1024, 4)
    add("gpt2-355m-bf16-sdpa", gpt2, g355, "bf16", "sdpa", 1024, 4)
    add("gpt2-1.5b-bf16-sdpa", gpt2, g1558, "bf16", "sdpa", 1024, 2)
    add("llama-125m-fp32-eager", llama, l125, "fp32", "eager", 1024, 4)
    # fp32 SDPA with grouped KV heads: PyTorch's math path, not a fused kernel
    add("llama-125m-fp32-sdpa", llama, l125, "fp32", "sdpa", 1024, 4)
    add("llama-125m-bf16-sdpa", llama, l125, "bf16", "sdpa", 1024, 4)
    add("llama-1b-bf16-sdpa", llama, l1b, "bf16", "sdpa", 2048, 2)
    add("llama-1b-bf16-eager", llama, l1b, "bf16", "eager", 2048, 1)
    # torch.optim's default AdamW (foreach): sqrt(v) made at the step; with
    # few tokens the step is the peak (zplan's "step" moment)
    add("gpt2-355m-fp32-eager-foreach", gpt2, g355, "fp32", "eager", 256, 1, "foreach")
    add("llama-1b-bf16-sdpa-foreach", llama, l1b, "bf16", "sdpa", 512, 1, "foreach")
    # every block rebuilt (transformers' gradient checkpointing, reentrant):
    # the caching allocator's reserve with rebuilt blocks (zplan's 20 %,
    # from replayed CPU logs), and at one sequence the word embedding's
    # backward as the peak (a tied head's two gradients summed)
    add("gpt2-125m-bf16-sdpa-rebuilt", gpt2, g125, "bf16", "sdpa", 1024, 4, rebuilt=True)
    add("gpt2-125m-fp32-eager-rebuilt", gpt2, g125, "fp32", "eager", 1024, 1, rebuilt=True)
    # Qwen3's norms on each Q and K head (zplan's qk_norm), LLaMA 125M's
    # widths: their saved inputs and their fp32 output under autocast
    qwen3 = dict(llama, model_type="qwen3", head_dim=64, use_sliding_window=False)
    del qwen3["mlp_bias"]
    add("qwen3-125m-bf16-sdpa", qwen3, l125, "bf16", "sdpa", 1024, 4)
    return out


def grad_sum(torch, autocast):
    """how this PyTorch adds a tied weight's two gradients (zplan's
    --grad-sum), the head's (waiting in the weight's input buffer) and the
    lookup's: "inplace" where autograd adds the second into the first
    (aten.add_.Tensor), "copy" where it makes their sum anew
    (aten.add.Tensor).  The head's gradient is the product's own (fp32) or
    autocast's cast's, so the probe runs the shape's path"""
    from torch.utils._python_dispatch import TorchDispatchMode
    ops = []

    class Ops(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            ops.append(str(func))
            return func(*args, **(kwargs or {}))
    E = torch.nn.Parameter(torch.randn(50, 8, device="cuda"))
    x = torch.nn.functional.embedding(torch.randint(0, 50, (2, 5), device="cuda"), E)
    if autocast:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            y = torch.nn.functional.linear(x, E)
    else:
        y = torch.nn.functional.linear(x, E)
    loss = y.float().sum()
    with Ops():
        loss.backward()
    inplace, copy = "aten.add_.Tensor" in ops, "aten.add.Tensor" in ops
    if inplace == copy:
        return "unknown (%s)" % ("both" if inplace else "neither")
    return "inplace" if inplace else "copy"


def measure(torch, transformers, s):
    cfg = transformers.AutoConfig.for_model(**s["config"])
    model = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation=s["attn"]).cuda()
    model.train()
    if s.get("rebuilt"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    params = sum(p.numel() for p in model.parameters())
    foreach = s.get("optimizer") == "foreach"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=not foreach, foreach=foreach)
    V = s["config"]["vocab_size"]
    gen = torch.Generator(device="cuda").manual_seed(1)
    x = torch.randint(0, V, (s["micro_batch"], s["seq"]), device="cuda", generator=gen)
    rec = {}
    import contextlib
    only_flash = contextlib.nullcontext
    if s["attn"] == "sdpa" and s["dtype"] == "bf16":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        def only_flash():
            return sdpa_kernel([SDPBackend.FLASH_ATTENTION])
    # which of SDPA's kernels PyTorch picks for this shape's attention (its
    # own choice function, inside the same backend restriction): the fp32
    # shapes' path depends on the version (grouped KV heads: the math path
    # in 2.11), and zplan plans each as what it saves
    sdpa_backend = None
    if s["attn"] == "sdpa":
        c = s["config"]
        heads = c.get("n_head") or c.get("num_attention_heads")
        kvh = c.get("num_key_value_heads") or heads
        hd = (c.get("n_embd") or c.get("hidden_size")) // heads
        dt = torch.bfloat16 if s["dtype"] == "bf16" else torch.float32
        q = torch.zeros(s["micro_batch"], heads, s["seq"], hd, device="cuda", dtype=dt)
        kv = torch.zeros(s["micro_batch"], kvh, s["seq"], hd, device="cuda", dtype=dt)
        try:
            with only_flash():
                # (scale and enable_gqa are keyword-only in its schema:
                # passed by position they raise TypeError)
                idx = torch._fused_sdp_choice(q, kv, kv, None, 0.0, True, scale=None, enable_gqa=kvh != heads)
            from torch.nn.attention import SDPBackend
            sdpa_backend = SDPBackend(idx).name.lower()
        except Exception as e:   # a PyTorch without the function, or none of the kernels
            sdpa_backend = "unknown (%s)" % type(e).__name__
        del q, kv
    mlp = [m for n, m in model.named_modules() if n.endswith(".mlp")]
    act = getattr(mlp[0], "act", None) or getattr(mlp[0], "act_fn", None) if mlp else None
    gsum = grad_sum(torch, s["dtype"] == "bf16")   # (before the steps: its few bytes are gone by the first's reset)
    for step in range(3):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        t0 = time.time()
        with only_flash():
            if s["dtype"] == "bf16":
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss = model(input_ids=x, labels=x, use_cache=False).loss
            else:
                loss = model(input_ids=x, labels=x, use_cache=False).loss
        torch.cuda.synchronize()
        after_fwd, peak_fwd = torch.cuda.memory_allocated(), torch.cuda.max_memory_allocated()
        with only_flash():
            loss.backward()
        torch.cuda.synchronize()
        after_bwd = torch.cuda.memory_allocated()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        free, total = torch.cuda.mem_get_info()
        rec = {"name": s["name"], "config": s["config"], "dtype": s["dtype"], "attn": s["attn"], "seq": s["seq"],
               "micro_batch": s["micro_batch"], "optimizer": s.get("optimizer", "fused"), "params": params,
               "rebuilt": bool(s.get("rebuilt")), "grad_sum": gsum,
               "step": step + 1,
               "peak_allocated": torch.cuda.max_memory_allocated(), "peak_reserved": torch.cuda.max_memory_reserved(),
               "after_forward": after_fwd, "peak_forward": peak_fwd, "after_backward": after_bwd,
               "after_step": torch.cuda.memory_allocated(), "device_used": total - free, "seconds": time.time() - t0,
               "reserved_end": torch.cuda.memory_reserved(), "base_allocated": base, "loss": float(loss),
               "param_dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
               "attn_implementation": getattr(model.config, "_attn_implementation", None),
               "mlp_act": type(act).__name__ if act is not None else None, "sdpa_backend": sdpa_backend}
    # the cuBLAS workspaces PyTorch's allocator holds (zplan counts two, the
    # forward's thread's and autograd's): what letting them go frees
    clear = getattr(torch._C, "_cuda_clearCublasWorkspaces", None)
    if clear is not None:
        torch.cuda.synchronize()
        held = torch.cuda.memory_allocated()
        clear()
        torch.cuda.synchronize()
        rec["blas_workspaces"] = held - torch.cuda.memory_allocated()
    del model, opt, loss, x
    gc.collect()
    torch.cuda.empty_cache()
    return rec


def zplan_args(rec, cfg_path):
    """zplan's question for one measured shape: its model, one H200, the
    shape's micro-batch and sequence, PyTorch eager (--framework torch)"""
    mb = str(rec["micro_batch"])
    gpu = "h100-sxm" if "H100" in rec.get("gpu", "") else "h200"
    return ["--config", cfg_path, "--gpus", "1", "--gpu", gpu, "--seq", str(rec["seq"]), "--micro-batch", mb,
            "--global-batch", mb, "--dp", "1", "--tp", "1", "--pp", "1", "--zero", "0", "--offload", "none",
            "--ckpt", "full" if rec.get("rebuilt") else "none", "--dtype", rec["dtype"],
            "--flash-attn" if rec["attn"] == "sdpa" else "--no-flash-attn", "--framework", "torch",
            "--adam-impl", rec.get("optimizer", "fused"),
            "--grad-sum", rec["grad_sum"] if rec.get("grad_sum") in ("inplace", "copy") else "inplace",
            "--json", "--no-store"]


def compare(path, zp, tap=False, bound=0.05, every=False):
    import subprocess
    import tempfile
    worst = [0.0, 0.0, 0.0]
    n = 0

    def verdict(good, what):
        nonlocal n
        n += 1
        print("%s %d - %s" % ("ok" if good else "not ok", n, what))

    try:
        f = open(path)
    except OSError as e:
        sys.stderr.write("torch-memory: cannot read %s: %s\n" % (path, e.strerror))
        return 2
    if not tap:
        print("%-30s %11s %11s %7s %11s %11s %7s %9s %9s %7s" % ("shape", "allocated", "zplan", "error", "device",
                                                               "zplan", "error", "step", "zplan", "error"))
    with tempfile.TemporaryDirectory() as tmp, f:
        for line in f:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                sys.stderr.write("torch-memory: %s: a line that is not JSON (%s)\n" % (path, e))
                return 2
            if "peak_allocated" not in rec:
                if tap:
                    verdict(False, "%s: not measured (%s)" % (rec.get("name", "?"), rec.get("error", "no peak")))
                else:
                    print("%-30s %s" % (rec.get("name", "?"), rec.get("error", "not measured")))
                continue
            cfg = os.path.join(tmp, rec["name"] + ".json")
            with open(cfg, "w") as c:
                json.dump(rec["config"], c)
            try:
                o = subprocess.run([zp] + zplan_args(rec, cfg), capture_output=True, text=True)
            except OSError as e:
                sys.stderr.write("torch-memory: cannot run %s: %s\n" % (zp, e.strerror))
                return 2
            if o.returncode != 0:
                if tap:
                    verdict(False, "%s: %s" % (rec["name"], " | ".join(o.stderr.strip().splitlines())))
                else:
                    print("%-30s zplan: %s" % (rec["name"], o.stderr.strip()))
                continue
            ch = json.loads(o.stdout)["chosen"]
            mem = ch["memory_bytes"]
            tensors = mem["total"] - mem["overhead"]
            e1 = tensors / rec["peak_allocated"] - 1
            e2 = mem["total"] / rec["device_used"] - 1
            # the step's time (the third step: forward, backward, AdamW, each synchronised)
            e3 = ch["step_time_s"] / rec["seconds"] - 1
            worst = [max(worst[0], abs(e1)), max(worst[1], abs(e2)), max(worst[2], abs(e3))]
            if rec.get("sdpa_backend"):   # zplan plans 16-bit SDPA as flash, fp32 with grouped heads as math
                print("# %s: SDPA ran %s" % (rec["name"], rec["sdpa_backend"]))
            if "blas_workspaces" in rec:
                ws = 2 * json.loads(o.stdout)["conventions"].get("torch_blas_workspace_bytes", 0)
                print("# %s: cuBLAS workspaces %.3f MiB measured, zplan %.3f MiB" % (
                    rec["name"], rec["blas_workspaces"] / 2**20, ws / 2**20))
            if tap:
                # rebuilt blocks: the device total within twice the bound (the
                # caching allocator reserved 4-29 % over the tensors in CPU
                # replays, against zplan's one 20 %; eager-check.py --allocator)
                b2 = 2 * bound if rec.get("rebuilt") else bound
                verdict(abs(e1) <= bound and abs(e2) <= b2,
                        "%s: tensor peak %.1f MiB measured, zplan %+.1f %% (bound %.0f %%); device total %.1f MiB, "
                        "zplan %+.1f %% (bound %.0f %%); step %.1f ms, zplan %+.1f %% (not held)" % (
                            rec["name"], rec["peak_allocated"] / 2**20, 100 * e1, 100 * bound,
                            rec["device_used"] / 2**20, 100 * e2, 100 * b2, 1e3 * rec["seconds"], 100 * e3))
                continue
            print("%-30s %8.1f MiB %8.1f MiB %+6.1f%% %8.1f MiB %8.1f MiB %+6.1f%% %7.1f ms %7.1f ms %+6.1f%%" % (
                rec["name"], rec["peak_allocated"] / 2**20, tensors / 2**20, 100 * e1, rec["device_used"] / 2**20,
                mem["total"] / 2**20, 100 * e2, 1e3 * rec["seconds"], 1e3 * ch["step_time_s"], 100 * e3))
    if every:   # the shapes the table should hold and does not (a run cut short)
        with open(path) as f:
            have = {json.loads(line).get("name") for line in f if line.strip()}
        for s in shapes():
            if s["name"] not in have:
                if tap:
                    verdict(False, "%s: not measured (not in the table: the run ended before it)" % s["name"])
                else:
                    print("%-30s not in the table" % s["name"])
    if tap:
        print("1..%d" % n)
        print("# worst |error| %.1f %% (tensor peak), %.1f %% (device total), %.1f %% (step time)" %
              (100 * worst[0], 100 * worst[1], 100 * worst[2]))
        return 0
    print("torch-memory: worst |error| %.1f %% (tensor peak), %.1f %% (device total), %.1f %% (step time)" %
          (100 * worst[0], 100 * worst[1], 100 * worst[2]))
    return 0


def isolated(out, per_shape_s=90):
    """each shape in a process of its own, forked from this one after
    PyTorch and transformers are imported (once; CUDA is first touched in
    the child), its line appended to out as it ends; a shape whose process
    fails or outlasts per_shape_s gets a line saying so"""
    import signal
    import tempfile
    import traceback
    try:
        import torch
        import transformers
    except ImportError as e:
        sys.stderr.write("torch-memory: %s (needs PyTorch and transformers)\n" % e)
        return 2
    if torch.cuda.is_initialized():
        # a CUDA context made before the fork is unusable in the children:
        # every shape would fail, and say so only as a CUDA error
        sys.stderr.write("torch-memory: CUDA was initialised before the shapes' processes were forked\n")
        return 1
    n = measured = 0
    with open(out, "w") as f, tempfile.TemporaryDirectory() as tmp:
        for s in shapes():
            one = os.path.join(tmp, s["name"] + ".jsonl")
            t0 = time.time()
            pid = os.fork()
            if pid == 0:   # the child: one shape, its line in `one`, then gone
                code = 0
                try:
                    rc = main_one(torch, transformers, s["name"], one)
                    code = rc if isinstance(rc, int) else 0
                except BaseException:
                    traceback.print_exc()
                    code = 1
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
            status = None
            while time.time() - t0 < per_shape_s:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.2)
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                status = "timed out after %d s" % per_shape_s
            lines = open(one).read().splitlines() if os.path.exists(one) else []
            if status != 0 or len(lines) != 1:
                why = (status if isinstance(status, str) else "exit %d" % os.WEXITSTATUS(status)
                       if os.WIFEXITED(status) else "killed by signal %d" % os.WTERMSIG(status))
                lines = [json.dumps({"name": s["name"], "error": "its process: %s" % why})] if len(lines) != 1 else lines
                print("torch-memory: %-30s %s" % (s["name"], why), flush=True)
            f.write(lines[0] + "\n")
            f.flush()
            n += 1
            try:   # (a record, not an error whose traceback quotes the key)
                measured += "peak_allocated" in json.loads(lines[0])
            except ValueError:
                pass
            print("torch-memory: %-30s %.1f s" % (s["name"], time.time() - t0), flush=True)
    print("torch-memory: %d shapes into %s" % (n, out), flush=True)
    # none measured (no GPU): a failure, as --only says it
    return 0 if measured else 1


def main_one(torch, transformers, only, out):
    """the shape `only` measured into out (a line), in this process"""
    import traceback
    if not torch.cuda.is_available():
        sys.stderr.write("torch-memory: no GPU\n")
        return 2
    meta = {"torch": torch.__version__, "transformers": transformers.__version__,
            "gpu": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
            # the caching allocator's settings change the reserved bytes
            "alloc_conf": {k: os.environ[k] for k in ("PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_ALLOC_CONF")
                           if k in os.environ}}
    with open(out, "w") as f:
        for s in shapes():
            if s["name"] != only:
                continue
            try:
                rec = measure(torch, transformers, s)
            except Exception as e:   # the traceback's last frames, to find the line without another GPU run
                tb = traceback.format_exc().strip().splitlines()
                rec = {"name": s["name"], "error": "%s: %s" % (type(e).__name__, e), "traceback": tb[-8:]}
            rec.update(meta)
            f.write(json.dumps(rec) + "\n")
            print("torch-memory: %-30s %s" % (rec["name"], "peak %.1f MiB" % (rec["peak_allocated"] / 2**20)
                                               if "peak_allocated" in rec else rec["error"]), flush=True)
    return 0


def main(argv):
    only, out = None, os.path.join(os.environ.get("OUT", "."), "torch-memory.jsonl")
    cmp, zp, tap = None, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "zplan"), False
    same = every = False
    i = 0
    while i < len(argv):
        if argv[i] in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        if argv[i] in ("--only", "--out", "--compare", "--zplan") and i + 1 >= len(argv):
            sys.stderr.write("torch-memory: %s needs a value\n" % argv[i])
            return 2
        if argv[i] == "--only" and i + 1 < len(argv):
            only = argv[i + 1]; i += 2
        elif argv[i] == "--out" and i + 1 < len(argv):
            out = argv[i + 1]; i += 2
        elif argv[i] == "--compare" and i + 1 < len(argv):
            cmp = argv[i + 1]; i += 2
        elif argv[i] == "--zplan" and i + 1 < len(argv):
            zp = argv[i + 1]; i += 2
        elif argv[i] == "--tap":
            tap = True; i += 1
        elif argv[i] == "--same-process":
            same = True; i += 1
        elif argv[i] == "--all":
            every = True; i += 1
        else:
            sys.stderr.write("torch-memory: unknown argument %s (allowed: --only NAME, --out FILE, "
                             "--same-process, --compare FILE, --zplan PATH, --tap, --all, --help)\n" % argv[i])
            return 2
    if only is not None and only not in [s["name"] for s in shapes()]:
        sys.stderr.write("torch-memory: --only %s: no such shape (allowed: %s)\n" % (
            only, ", ".join(s["name"] for s in shapes())))
        return 2
    if tap and not cmp:
        sys.stderr.write("torch-memory: --tap goes with --compare FILE\n")
        return 2
    if cmp:
        return compare(cmp, zp, tap, every=every)
    if only is None and not same:
        return isolated(out)
    try:
        import torch
        import transformers
    except ImportError as e:
        sys.stderr.write("torch-memory: %s (needs PyTorch and transformers)\n" % e)
        return 2
    if only is not None:
        return main_one(torch, transformers, only, out)
    # --same-process: every shape in this one
    if not torch.cuda.is_available():
        sys.stderr.write("torch-memory: no GPU\n")
        return 2
    n = 0
    with open(out, "w") as f:
        for s in shapes():
            one = out + "." + s["name"]
            main_one(torch, transformers, s["name"], one)
            gc.collect()
            torch.cuda.empty_cache()
            f.write(open(one).read())
            os.remove(one)
            f.flush()
            n += 1
    print("torch-memory: %d shapes into %s" % (n, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
