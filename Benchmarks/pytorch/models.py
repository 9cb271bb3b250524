"""Hugging Face transformers / Captum timings of the model workloads that `make bench` times in Swift.

Not part of the build or the tests: run it by hand on the same machine to compare,
    python3 Benchmarks/pytorch/models.py --gguf PATH/SmolLM2-135M-Instruct.Q4_1.gguf [--threads 2]
It needs torch (CPU build), transformers, gguf, accelerate (transformers loads GGUF through it)
and captum; docs/benchmarks.md has the set-up. The workloads match
ModelBenchmarks, PatchingBenchmarks and AttributionBenchmarks: the same GGUF (dequantized to
float32 by transformers), the same token ids, the same shapes. Prints the median of the runs.
"""
import argparse
import os
import statistics
import time

import torch


def timed(fn, runs, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times)


def report(name, stats, extra=""):
    median, low, high = stats
    print(f"{name:<46} median {median:8.3f} s  (min {low:.3f}, max {high:.3f}) {extra}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf", required=True, help="SmolLM2-135M-Instruct.Q4_1.gguf")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--attn", default="eager", help="attn_implementation (eager or sdpa)")
    parser.add_argument("--only", default="load,forward,patching,ig")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    only = set(args.only.split(","))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, attention {args.attn}")

    from transformers import AutoModelForCausalLM

    folder, name = os.path.split(os.path.abspath(args.gguf))

    def load():
        return AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                                    attn_implementation=args.attn).eval()

    if "load" in only:
        report("load GGUF (dequantize to float32)", timed(load, runs=1, warmup=0))
    model = load()
    n_layers = model.config.num_hidden_layers
    gen = torch.Generator().manual_seed(0)

    if "forward" in only:
        for batch in (1, 8):
            ids = torch.randint(0, model.config.vocab_size, (batch, 128), generator=gen)
            with torch.inference_mode():
                stats = timed(lambda: model(ids), runs=5 if batch == 1 else 3)
            report(f"forward {batch}x128", stats, f"{batch * 128 / stats[0]:.0f} tok/s")

    if "patching" in only:
        clean = torch.tensor([[2427, 5099, 284, 2322, 3514, 288, 260, 4249, 28, 2322, 4502, 253, 5968, 288]])
        corrupt = torch.tensor([[2427, 5099, 284, 2322, 3514, 288, 260, 4249, 28, 5099, 4502, 253, 5968, 288]])
        answer, wrong = 5099, 2322
        T = clean.shape[1]
        with torch.inference_mode():
            hidden = model(clean, output_hidden_states=True).hidden_states   # hidden[l] = resid_pre of layer l

        def patch_hook(layer, rows):
            # rows: list of (batch row, position) to overwrite with the clean resid_pre of `layer`
            def hook(module, positional, kwargs):
                h = positional[0] if positional else kwargs["hidden_states"]
                h = h.clone()
                for b, p in rows:
                    h[b, p] = hidden[layer][0, p]
                if positional:
                    return (h,) + tuple(positional[1:]), kwargs
                kwargs["hidden_states"] = h
                return positional, kwargs
            return hook

        def sweep_batched():
            grid = torch.zeros(n_layers, T)
            for layer in range(n_layers):
                handle = model.model.layers[layer].register_forward_pre_hook(
                    patch_hook(layer, [(p, p) for p in range(T)]), with_kwargs=True)
                with torch.inference_mode():
                    logits = model(corrupt.repeat(T, 1)).logits[:, -1]
                handle.remove()
                grid[layer] = logits[:, answer] - logits[:, wrong]
            return grid

        def sweep_cells():
            grid = torch.zeros(n_layers, T)
            for layer in range(n_layers):
                for p in range(T):
                    handle = model.model.layers[layer].register_forward_pre_hook(
                        patch_hook(layer, [(0, p)]), with_kwargs=True)
                    with torch.inference_mode():
                        logits = model(corrupt).logits[0, -1]
                    handle.remove()
                    grid[layer, p] = logits[answer] - logits[wrong]
            return grid

        report("patching resid_pre 30x14, one layer per batch", timed(sweep_batched, runs=2, warmup=0))
        report("patching resid_pre 30x14, one forward per cell", timed(sweep_cells, runs=1, warmup=0))

    if "ig" in only:
        from captum.attr import IntegratedGradients

        ids = torch.tensor([[2427, 5099, 284, 2322, 3514, 288, 260, 4249, 28, 2322, 4502, 253]])
        embed = model.get_input_embeddings()
        with torch.no_grad():
            x = embed(ids)
            target = int(model(inputs_embeds=x).logits[0, -1].argmax())

        def forward(e):
            return model(inputs_embeds=e).logits[:, -1, target]

        ig = IntegratedGradients(forward)

        def run(batch):
            return ig.attribute(x, baselines=torch.zeros_like(x), n_steps=50, method="gausslegendre",
                                internal_batch_size=batch)

        for batch in (50, 25, 10):
            report(f"ig 12 tokens 50 steps batch {batch} (captum)", timed(lambda: run(batch), runs=3))


if __name__ == "__main__":
    main()
