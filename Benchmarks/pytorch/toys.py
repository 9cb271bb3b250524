"""PyTorch timings of the toy-model workloads that `make bench` times in Swift (ToyBenchmarks).

Not part of the build or the tests: run it by hand on the same machine to compare,
    python3 Benchmarks/pytorch/toys.py [--threads 2]
It needs torch (CPU build) and prints the median of several runs per workload, in the
same units as GlassboxBench. The workloads are the same shapes and optimiser as the Swift
ones: see docs/toy-models.md ("Performance") and docs/benchmarks.md.
"""
import argparse
import statistics
import time

import torch


def timed(fn, runs, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times)


def superposition(instances=10, features=20, hidden=5, batch=1024):
    """One AdamW step of the Toy Models of Superposition model: x -> ReLU(Wᵀ W x + b)."""
    g = torch.Generator().manual_seed(0)
    W = (torch.randn(instances, hidden, features, generator=g) * (2 / (hidden + features)) ** 0.5).requires_grad_()
    b = torch.zeros(instances, features, requires_grad=True)
    importance = 0.7 ** torch.arange(features, dtype=torch.float32)
    sparsity = torch.linspace(0, 0.99, instances)[:, None]
    opt = torch.optim.AdamW([W, b], lr=1e-3, weight_decay=0.01)

    def step():
        x = torch.rand(batch, instances, features, generator=g)
        keep = torch.rand(batch, instances, features, generator=g) >= sparsity
        x = x * keep
        h = torch.einsum("ihf,bif->bih", W, x)
        out = torch.relu(torch.einsum("ihf,bih->bif", W, h) + b)
        loss = (importance * (x - out) ** 2).mean(dim=(0, 2)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def modular_addition(p=113, d_model=128, heads=4, d_head=32, d_mlp=512, fraction=0.3):
    """One full-batch AdamW epoch of Nanda et al.'s one-layer transformer on a + b mod p."""
    g = torch.Generator().manual_seed(0)
    pairs = torch.cartesian_prod(torch.arange(p), torch.arange(p))
    pairs = pairs[torch.randperm(p * p, generator=g)][: int(fraction * p * p)]
    tokens = torch.cat([pairs, torch.full((len(pairs), 1), p)], dim=1)
    labels = (pairs[:, 0] + pairs[:, 1]) % p
    s = d_model ** -0.5
    params = {
        "W_E": torch.randn(p + 1, d_model, generator=g) * s,
        "W_pos": torch.randn(3, d_model, generator=g) * s,
        "W_Q": torch.randn(heads, d_model, d_head, generator=g) * s,
        "W_K": torch.randn(heads, d_model, d_head, generator=g) * s,
        "W_V": torch.randn(heads, d_model, d_head, generator=g) * s,
        "W_O": torch.randn(heads, d_head, d_model, generator=g) * s,
        "W_in": torch.randn(d_model, d_mlp, generator=g) * s,
        "b_in": torch.zeros(d_mlp),
        "W_out": torch.randn(d_mlp, d_model, generator=g) * s,
        "b_out": torch.zeros(d_model),
        "W_U": torch.randn(d_model, p, generator=g) * (p + 1) ** -0.5,
    }
    for t in params.values():
        t.requires_grad_()
    opt = torch.optim.AdamW(params.values(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
    mask = torch.tril(torch.ones(3, 3, dtype=torch.bool))

    def step():
        P = params
        x = P["W_E"][tokens] + P["W_pos"]
        q = torch.einsum("bpd,hde->bhpe", x, P["W_Q"])
        k = torch.einsum("bpd,hde->bhpe", x, P["W_K"])
        v = torch.einsum("bpd,hde->bhpe", x, P["W_V"])
        scores = (q @ k.transpose(-1, -2)) / d_head ** 0.5
        pattern = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        z = pattern @ v
        x = x + torch.einsum("bhpe,hed->bpd", z, P["W_O"])
        x = x + torch.relu(x @ P["W_in"] + P["b_in"]) @ P["W_out"] + P["b_out"]
        logits = x[:, -1] @ P["W_U"]
        loss = torch.nn.functional.cross_entropy(logits.double(), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def topk_sae(d_in=576, expansion=16, k=32, batch=4096, aux_k=256):
    """One Adam step of a TopK sparse autoencoder (Gao et al. 2024) on a batch of activations."""
    g = torch.Generator().manual_seed(0)
    latents = d_in * expansion
    W_enc = (torch.randn(d_in, latents, generator=g) * d_in ** -0.5).requires_grad_()
    b_enc = torch.zeros(latents, requires_grad=True)
    W_dec = W_enc.detach().t().clone().requires_grad_()
    b_dec = torch.zeros(d_in, requires_grad=True)
    opt = torch.optim.Adam([W_enc, b_enc, W_dec, b_dec], lr=1e-4)
    x = torch.randn(batch, d_in, generator=g)
    # The auxiliary loss (aux_k = 256, coefficient 1/32) on 10% of the latents marked dead,
    # as in the Swift workload.
    dead = torch.zeros(latents, dtype=torch.bool)
    dead[torch.randperm(latents, generator=g)[: latents // 10]] = True

    def step():
        pre = (x - b_dec) @ W_enc + b_enc
        values, indices = pre.topk(k, dim=-1)
        acts = torch.zeros_like(pre).scatter(-1, indices, torch.relu(values))
        recon = acts @ W_dec + b_dec
        error = x - recon
        loss = (error ** 2).sum(-1).mean()
        dead_pre = pre.masked_fill(~dead, float("-inf"))
        aux_values, aux_indices = dead_pre.topk(aux_k, dim=-1)
        aux_acts = torch.zeros_like(pre).scatter(-1, aux_indices, torch.relu(aux_values))
        aux_recon = aux_acts @ W_dec
        loss = loss + ((aux_recon - error.detach()) ** 2).sum(-1).mean() / 32
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = [
        ("superposition AdamW step (10 instances, n=20, m=5, batch 1024)", superposition(), 200),
        ("modular addition full-batch epoch (p=113, 3830 pairs)", modular_addition(), 20),
        ("TopK SAE step (576 -> 9216, k=32, batch 4096)", topk_sae(), 5),
    ]
    for name, fn, runs in rows:
        med, lo, hi = timed(fn, runs)
        print(f"{name:<66} median {med * 1e3:9.2f} ms  (min {lo * 1e3:.2f}, max {hi * 1e3:.2f}; {1 / med:.1f}/s)")


if __name__ == "__main__":
    main()
