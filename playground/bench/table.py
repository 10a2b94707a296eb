"""The benchmark's results as the plain-text table the command prints."""

from __future__ import annotations

from collections.abc import Callable

from .learning import quarters


# ---------------------------------------------------------------------- the table
def format_table(results: dict) -> str:
    m = results["machine"]
    load = m.get("load_average")
    lines = [
        f"GAN Playground benchmark ({results['mode']}, {results['seconds']} s)",
        f"machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, "
        f"{m['torch_threads']} thread(s), {m['device']}"
        + (
            f"; load average {load[0]} at start, {results.get('load_average_end')} at end"
            if load
            else ""
        ),
    ]

    def table(title: str, columns: list[tuple[str, Callable[[dict], object]]], rows) -> None:
        cells = [[name for name, _ in columns]]
        cells += [[_cell(get(row)) for _, get in columns] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
        lines.extend(["", title])
        for r in cells:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))

    def key(name: str) -> Callable[[dict], object]:
        return lambda row: row.get(name, "-")

    if "overhead" in results:
        table(
            "1. Overhead (steps/s; Run = background thread + snapshot() polled every 1 s; "
            "eager = the engine without its GPU fast paths; ratios: median of paired rounds)",
            [
                ("config", key("config")),
                ("device", key("device")),
                ("plain", key("plain_steps_per_s")),
                ("trainer", key("trainer_steps_per_s")),
                ("Run", key("run_steps_per_s")),
                ("eager", key("eager_steps_per_s")),
                ("trainer/plain", key("ratio_trainer_vs_plain")),
                ("trainer/eager", key("ratio_trainer_vs_eager")),
                ("Run/plain", key("ratio_run_vs_plain")),
                ("Run/trainer", key("ratio_run_vs_trainer")),
                ("Run/plain range", lambda r: "-".join(map(str, r["ratio_run_vs_plain_range"]))),
                ("by CPU time: trainer/plain", key("cpu_ratio_trainer_vs_plain")),
                ("Run/plain", key("cpu_ratio_run_vs_plain")),
                ("trainer roofline", key("roofline_share_trainer")),
            ],
            results["overhead"],
        )
    if "images" in results:
        table(
            "2. Image throughput (images/s; plain = the classic DCGAN example's step, eager fp32)",
            [
                ("config", key("config")),
                ("device", key("device")),
                ("batch", key("batch_size")),
                ("plain", key("plain_images_per_s")),
                ("engine", key("engine_images_per_s")),
                ("engine eager fp32", key("engine_eager_images_per_s")),
                ("engine/plain", key("ratio_engine_vs_plain")),
                ("engine eager/plain", key("ratio_engine_eager_vs_plain")),
                ("by CPU time", key("cpu_ratio_engine_vs_plain")),
                ("engine roofline", key("roofline_share_engine")),
            ],
            results["images"],
        )
    if "learning" in results:
        learned = results["learning"]
        a = learned["agreement"]
        rows = [
            ("distance, fast run to eager run (median)", f"{a['fast_vs_eager_median']:.3f}", ""),
            ("distance, eager run to eager run (largest)", f"{a['eager_vs_eager_max']:.3f}", ""),
        ]
        for name, curve in learned["curves"].items():
            d_q, g_q = quarters(curve["d_loss"]), quarters(curve["g_loss"])
            for i in range(4):
                rows.append(
                    (
                        f"seed 0, quarter {i + 1} mean ± sd: {name}",
                        f"D {d_q[i][0]:.3f} ± {d_q[i][1]:.3f}",
                        f"G {g_q[i][0]:.3f} ± {g_q[i][1]:.3f}",
                    )
                )
        rows += [(f"seconds: {name}", f"{v:.1f}", "") for name, v in learned["seconds"].items()]
        table(
            f"2b. Learning outcome ({learned['config']}, {learned['steps']} steps, "
            f"{learned['seeds']} seeds per engine way; curves of {learned['bin_steps']}-step "
            "means; distance: see bench.curve_distance)",
            [(n, lambda r, i=i: r[i]) for i, n in enumerate(("what", "figure", ""))],
            rows,
        )
    if "multirun" in results:
        table(
            "3. Many runs at once (one run = 1/n of n separate Trainers)",
            [
                ("members", key("config")),
                ("device", key("device")),
                ("CUDA graph", key("cuda_graphs")),
                ("one run steps/s", key("one_run_steps_per_s")),
                ("batched steps/s", key("batched_steps_per_s")),
                ("batched time / one", key("time_ratio_batched_vs_one")),
                ("by CPU time", key("cpu_time_ratio_batched_vs_one")),
                ("speed-up vs separate", key("speedup_vs_separate")),
                ("batched roofline", key("roofline_share_batched")),
            ],
            results["multirun"],
        )
    if "classroom" in results:
        room = results["classroom"]
        table(
            f"3b. Classroom: students in one shared pool ({room['config']}, one seed each, CPU) "
            f"against a lone run, {room['lone_steps_per_s']} steps/s (roofline "
            f"{room['lone_roofline_share']}); ratios: median of paired rounds",
            [
                ("students", key("students")),
                ("largest stack", key("largest_stack")),
                ("member-steps/s", key("member_steps_per_s")),
                ("per student", key("per_student_steps_per_s")),
                ("per student/lone", key("per_student_vs_lone")),
                ("total/lone", key("total_vs_lone")),
                ("by CPU time", key("cpu_total_vs_lone")),
                ("roofline", key("roofline_share")),
                ("rejoin round ms", key("rejoin_round_ms")),
            ],
            room["rows"],
        )
    if "matmul" in results:
        lines.extend(
            [
                "",
                "Roofline: a row's steps/s x its FLOPs a step (training.cost) over the machine's "
                "fp32 matmul rate: "
                + "; ".join(
                    f"{m['device']} {m['gflop_per_s']} GFLOP/s ({m['size']}x{m['size']}, "
                    f"{m['threads']} thread(s), best of {m['repeats']})"
                    for m in results["matmul"].values()
                ),
            ]
        )
    if "ui" in results:
        ui = results["ui"]
        rows = [
            (
                f"first update {r['config']} ({r['when']})",
                f"{r['seconds']:.3f} s",
                f"page shows it by {r['shown_by_page_s']:.0f} s",
            )
            for r in ui["first_update"]
        ]
        rows += [
            (
                f"first picture {r['config']} ({r['when']})",
                f"{r['seconds']:.3f} s",
                f"median of {r['repeats']}, at most {r['max_s']:.3f} s",
            )
            for r in ui.get("first_picture", [])
        ]
        if "slider" in ui:
            m = ui["slider"]
            note = f"generate {m['generate_ms']:.2f} ms; {m['model']}"
            rows.append(("slider move: generate + PNG", f"{m['total_ms']:.2f} ms", note))
        if "figures" in ui:
            f = ui["figures"]
            rows += [
                (
                    "train page figures: build",
                    f"{f['build_ms']:.1f} ms",
                    f"{f['figures']} figures, {f['history_points']} history points",
                ),
                (
                    "  build + serialise",
                    f"{f['build_and_serialise_ms']:.1f} ms",
                    "what st.plotly_chart sends",
                ),
                ("image grid 64x32px + PNG", f"{f['image_grid_png_ms']:.2f} ms", ""),
                (
                    "curve charts: one redraw sends",
                    f"{f['curve_redraw_bytes'] / 1e3:.1f} kB",
                    f"{f['curve_redraw_bytes_unthinned'] / 1e3:.1f} kB with every point",
                ),
            ]
        if "live_measures" in ui:
            m = ui["live_measures"]
            rows += [
                (
                    f"live measures, {m['samples']} digits samples",
                    f"{m['all_ms']:.0f} ms",
                    f"every eval_every={m['eval_every']} steps: {m['slowdown_pct']:.1f}% of "
                    f"training time ({m['step_ms']:.0f} ms a step)",
                ),
                ("  of which FID + KID + IS", f"{m['fid_ms']:.0f} ms", "torchmetrics, classifier"),
            ]
        table(
            "4. UI costs (CPU)",
            [(n, lambda r, i=i: r[i]) for i, n in enumerate(("what", "time", "note"))],
            rows,
        )
    if "memory" in results:
        table(
            "5. Memory over a long Run (ring8, log every step, sample every 20 steps; MB RSS)",
            [
                ("steps", key("steps")),
                ("history points", key("history_points")),
                ("cap", key("history_capacity")),
                ("frames", key("frames")),
                ("cap", key("max_frames")),
                ("RSS start", key("rss_start_mb")),
                ("warm", key("rss_warm_mb")),
                ("end", key("rss_end_mb")),
                ("max", key("rss_max_mb")),
                ("growth after warm-up", key("growth_after_warmup_mb")),
            ],
            [results["memory"]],
        )
    if "ray" in results:
        table(
            "Ray backend: a ring8-stable run in an actor, polled once a second or not",
            [
                (n, key(n))
                for n in (
                    "quiet_steps_per_s",
                    "polled_steps_per_s",
                    "ratio_polled_vs_quiet",
                    "ratio_range",
                    "cpu_ratio_polled_vs_quiet",
                    "cpu_ratio_range",
                    "snapshot_ms",
                    "blocks",
                    "block_s",
                )
            ],
            [results["ray"]],
        )
    if results.get("skipped"):
        lines.extend(["", "Skipped (past --quick's deadline): " + "; ".join(results["skipped"])])
    table(
        "Targets (speed targets must hold by both clocks)",
        [
            ("target", key("target")),
            ("measured", key("measured")),
            ("status", lambda t: t["status"] + (f" ({t['why']})" if t["why"] else "")),
        ],
        results["targets"],
    )
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)
