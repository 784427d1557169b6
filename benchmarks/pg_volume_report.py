"""The pg-volume benchmark's report: each figure's ratio from the first size to the largest, one line per
measured batch as it is measured, and the table of them all."""

from __future__ import annotations

RATIO_FIGURES = {
    "load_s": lambda f: f["load"]["s"],
    "reload_s": lambda f: f["reload"]["s"],
    "erase_s": lambda f: f["erase"]["s"],
    "erase_vacuum_s": lambda f: f["erase"]["vacuum_s"],
    "dbt_s": lambda f: f["dbt"]["s"],
    "dbt_models_s": lambda f: f["dbt"]["models_s"],
    "dbt_tests_s": lambda f: f["dbt"]["tests_s"],
    "mart_scan_delete_s": lambda f: f["mart_scan_delete_s"],
}


def ratios(report: dict) -> dict:
    """Each figure at the largest size / at the first, per design."""
    out = {}
    for design, stages in report["designs"].items():
        if len(stages) >= 2:
            first, last = stages[0], stages[-1]
            out[design] = {
                name: round(get(last) / get(first), 2) if get(first) else None
                for name, get in RATIO_FIGURES.items()
            }
    return out


def format_figures(design: str, f: dict) -> str:
    return (
        f"{design:>11} {f['table_words']:>12,} words: load {f['load']['s']:6.2f} s "
        f"({f['load']['words_per_s']:,} words/s), reload {f['reload']['s']:6.2f} s, erase {f['erase']['s']:5.2f} s "
        f"+ vacuum {f['erase']['vacuum_s']:5.2f} s, dbt build {f['dbt']['s']:6.1f} s (models "
        f"{f['dbt']['models_s']:.1f}, tests {f['dbt']['tests_s']:.1f}), scan delete {f['mart_scan_delete_s']:.2f} s;"
        f" load avg {f['load_1min']:.1f}"
    )


def format_report(report: dict) -> str:
    lines = [
        f"{'design':>11} {'words':>12} {'load s':>7} {'words/s':>9} {'reload s':>9} {'erase s':>8} "
        f"{'vacuum s':>9} {'dbt s':>7} {'models s':>9} {'tests s':>8} {'scan s':>7} {'load avg':>8}"
    ]
    for design, stages in report["designs"].items():
        for f in stages:
            lines.append(
                f"{design:>11} {f['table_words']:>12,} {f['load']['s']:>7.2f} {f['load']['words_per_s']:>9,} "
                f"{f['reload']['s']:>9.2f} {f['erase']['s']:>8.2f} {f['erase']['vacuum_s']:>9.2f} "
                f"{f['dbt']['s']:>7.1f} {f['dbt']['models_s']:>9.1f} {f['dbt']['tests_s']:>8.1f} "
                f"{f['mart_scan_delete_s']:>7.2f} {f['load_1min']:>8.1f}"
            )
    for design, r in report.get("ratios", {}).items():
        lines.append(f"{design}: largest / first size: " + ", ".join(f"{k} {v}" for k, v in r.items()))
    if "upgrade" in report:
        u = report["upgrade"]
        lines.append(f"upgrade (migrations {u['migrations']}) of {u['table_words']:,} words: {u['s']} s")
    return "\n".join(lines)
