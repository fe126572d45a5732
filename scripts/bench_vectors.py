#!/usr/bin/env python3
"""Vector index benchmark: Vitrine's HNSW (usearch, int8) against FAISS HNSW on the same vectors, the same
parameters (M=16, efConstruction=128, efSearch 16..128)
and hnsw_rs (the other maintained Rust HNSW, measured inside `vitrine bench vectors`) and one thread each, in one run.

Usage: python3 scripts/bench_vectors.py   (needs the models; installs faiss-cpu and numpy into .bench-venv)
It runs `vitrine bench vectors`, which embeds the Home Depot titles and 1,000 queries (cached between runs),
computes exact neighbours, measures usearch, and writes the vectors for FAISS.
"""
import json, os, subprocess, sys, time, venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench-venv"
OUT = ROOT / "target" / "bench-vectors"


def ensure_venv():
    py = VENV / "bin" / "python"
    if not py.exists():
        venv.create(VENV, with_pip=True)
    try:
        subprocess.run([py, "-c", "import faiss, numpy"], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        subprocess.run([py, "-m", "pip", "install", "-q", "faiss-cpu==1.15.1", "numpy"], check=True)
    return py


def faiss_part():
    import numpy as np, faiss
    faiss.omp_set_num_threads(1)
    d = 384
    base = np.fromfile(OUT / "base.f32", dtype="<f4").reshape(-1, d)
    queries = np.fromfile(OUT / "queries.f32", dtype="<f4").reshape(-1, d)
    truth = np.fromfile(OUT / "truth.u32", dtype="<u4").reshape(-1, 10)
    rows = []
    for name, make in [
        ("faiss HNSWFlat (f32)", lambda: faiss.IndexHNSWFlat(d, 16, faiss.METRIC_INNER_PRODUCT)),
        ("faiss HNSWSQ (int8)", lambda: faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, 16, faiss.METRIC_INNER_PRODUCT)),
    ]:
        index = make()
        index.hnsw.efConstruction = 128
        if not index.is_trained:
            index.train(base)
        t = time.perf_counter()
        index.add(base)
        build = time.perf_counter() - t
        for ef in [16, 24, 32, 40, 48, 56, 64, 80, 96, 128]:
            index.hnsw.efSearch = ef
            t = time.perf_counter()
            for q in queries:
                index.search(q[None, :], 10)
            secs = time.perf_counter() - t
            _, ids = index.search(queries, 10)
            recall = np.mean([len(set(ids[i]) & set(truth[i])) / 10 for i in range(len(queries))])
            rows.append({"engine": name, "ef_search": ef, "recall_at_10": float(recall),
                         "qps_single_thread": len(queries) / secs, "build_s": build})
    return rows


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--faiss":
        print(json.dumps(faiss_part()))
        return
    py = ensure_venv()
    exe = ROOT / "target" / "release" / "vitrine"
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    out = subprocess.run([exe, "bench", "vectors", "--out", OUT], cwd=ROOT, check=True, capture_output=True, text=True,
                         env={**os.environ, "VITRINE_LOG__LEVEL": "warn"})
    ours = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    theirs = json.loads(subprocess.run([py, __file__, "--faiss"], check=True, capture_output=True, text=True).stdout)
    print(f"{len(ours) and ours[0]['vectors']} vectors (MiniLM, Home Depot titles), 1 thread, M=16, efConstruction=128\n")
    print("| index | efSearch | recall@10 | queries/s | build s |")
    print("|---|---|---|---|---|")
    label = {"usearch": "vitrine usearch (int8)", "hnsw_rs": "hnsw_rs (f32)"}
    for r in ours:
        print(f"| {label.get(r['engine'], r['engine'])} | {r['ef_search']} | {r['recall_at_10']:.4f} | {r['qps_single_thread']:.0f} | {r['build_s']:.1f} |")
    for r in theirs:
        print(f"| {r['engine']} | {r['ef_search']} | {r['recall_at_10']:.4f} | {r['qps_single_thread']:.0f} | {r['build_s']:.1f} |")
    print("\nRatio at the smallest efSearch reaching recall@10 >= 0.95 (queries/s, ours / FAISS):")
    def at95(rows):
        ok = [r for r in rows if r["recall_at_10"] >= 0.95]
        return min(ok, key=lambda r: r["ef_search"]) if ok else None
    for mine_engine in ["usearch", "hnsw_rs"]:
        mine = at95([r for r in ours if r["engine"] == mine_engine])
        for engine in sorted({r["engine"] for r in theirs}):
            other = at95([r for r in theirs if r["engine"] == engine])
            if mine and other:
                print(f"  {label[mine_engine]} vs {engine}: {mine['qps_single_thread'] / other['qps_single_thread']:.2f}x "
                      f"(ours ef={mine['ef_search']} recall {mine['recall_at_10']:.3f}; theirs ef={other['ef_search']} recall {other['recall_at_10']:.3f})")
            else:
                print(f"  {label[mine_engine]} vs {engine}: one side never reached 0.95")

if __name__ == "__main__":
    main()
