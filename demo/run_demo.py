"""`make demo`: the whole soilmetal workflow, headless through qgis_process, on the demo data.

Every step is a `qgis_process --json run soilmetal:<id>` call, exactly as a user's script on a
server would make it; every output lands under the output folder. At the end it prints where
the maps and reports are.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
QGIS_PROCESS = os.environ.get("QGIS_PROCESS", "/usr/bin/qgis_process.bin")
PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")
METALS = {"cu": ("cu_mg_kg", "Cu", 21.4, 43.6, "0,30,50,70,90,110"),
          "pb": ("pb_mg_kg", "Pb", 21.4, 34.5, "0,30,35,40,45,50")}
# The paper keeps aspect and altitude whatever their correlation (section 3.1.3), and removes
# the abnormal maxima before modelling (section 2.2.2): OUTLIERS=1 is the IQR rule.
ALWAYS_INCLUDE = "ASPECT,ELEVATION"
TRANSFER_SEEDS = 10


class Runner:
    """Runs qgis_process in a throwaway profile with the plugin from this checkout."""

    def __init__(self, output):
        self.output = output
        plugins = output / ".plugins"
        plugins.mkdir(parents=True, exist_ok=True)
        link = plugins / "soilmetal"
        if not link.exists():
            link.symlink_to(ROOT, target_is_directory=True)
        profile = output / ".qgis-profile"
        shutil.rmtree(profile, ignore_errors=True)
        profile.mkdir(parents=True)
        runtime = output / ".runtime"  # Qt wants a private runtime folder when headless
        runtime.mkdir(mode=0o700, exist_ok=True)
        self.env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(profile),
                        QGIS_PLUGINPATH=str(plugins), PYTHONDONTWRITEBYTECODE="1",
                        XDG_RUNTIME_DIR=str(runtime))
        self.call(["plugins", "enable", "soilmetal"])
        listing = self.call(["list"])
        self.available = {line.split()[0].split(":", 1)[1] for line in listing.splitlines()
                          if line.strip().startswith("soilmetal:")}
        self.log = []

    def call(self, args):
        """Run qgis_process with args; exit with its message when it fails."""
        result = subprocess.run([QGIS_PROCESS] + args, env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"qgis_process {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def has(self, algorithm):
        """True when the installed plugin provides the algorithm."""
        return algorithm in self.available

    def run(self, algorithm, label, **params):
        """`qgis_process --json run soilmetal:<algorithm> -- KEY=VALUE ...` -> results dict."""
        args = ["--json", "run", f"soilmetal:{algorithm}", "--"]
        for key, value in params.items():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                args.append(f"{key}={item}")
        started = time.time()
        print(f"  {label} ...", end="", flush=True)
        text = self.call(args)
        results = json.loads(text[text.find("{"):])["results"]
        seconds = time.time() - started
        print(f" {seconds:.1f} s")
        self.log.append({"step": label, "algorithm": algorithm, "seconds": round(seconds, 2),
                         "parameters": {k: str(v) for k, v in params.items()}, "results": results})
        return results


def map_error(predicted, truth):
    """RMSE, MRE, MAE, R2 of a content map against the true map, over pixels valid in both."""
    import numpy as np
    from osgeo import gdal
    sys.path.insert(0, str(ROOT))
    from core.metrics import regression_metrics

    def read(path):
        dataset = gdal.Open(str(path))  # keep the dataset alive while its band is used
        band = dataset.GetRasterBand(1)
        values = band.ReadAsArray().astype(float)
        nodata = band.GetNoDataValue()
        if nodata is not None:
            values[values == nodata] = np.nan
        return values
    pred, true = read(predicted), read(truth)
    valid = np.isfinite(pred) & np.isfinite(true)
    return regression_metrics(true[valid], pred[valid])


def table5(runner, out, data, samples, factors, metal, field, label, selected, seeds):
    """The paper's Table 5 on the demo data, repeated over seeds: GA-BP trained on the 16 target
    samples alone against Tr-GA-BP, at the held-out samples and against the true 2019 map."""
    import numpy as np
    folder = out / "table5" / metal
    folder.mkdir(parents=True, exist_ok=True)
    truth = data / f"true_{metal}_2019.tif"
    rows = []
    for seed in range(seeds):
        source = runner.run("traingabp", f"{label} seed {seed}: GA-BP 2017", POINTS=samples["2017"], FIELD=field,
                            FACTORS=factors["2017"], FACTOR_NAMES=selected, OUTLIERS=1, SEED=seed,
                            OUTPUT_MODEL=folder / f"gabp_2017_seed{seed}.json")
        transfer = runner.run("transfergabp", f"{label} seed {seed}: Tr-GA-BP 2019", SOURCE_MODEL=source["OUTPUT_MODEL"],
                              POINTS=samples["2019"], FIELD=field, FACTORS=factors["2019"], TRAIN_SAMPLES=16,
                              VALIDATION_FRACTION=1.0, OUTLIERS=1, SEED=seed,
                              OUTPUT_MODEL=folder / f"trgabp_2019_seed{seed}.json",
                              OUTPUT_BASELINE_MODEL=folder / f"gabp16_2019_seed{seed}.json")
        row = {"seed": seed, "beta": transfer["BETA"],
               "samples": {"GA-BP": (transfer["BASELINE_RMSE"], transfer["BASELINE_MRE"]),
                           "Tr-GA-BP": (transfer["RMSE"], transfer["MRE"]),
                           "2017 model as is": (transfer.get("SOURCE_RMSE"), transfer.get("SOURCE_MRE"))},
               "map": {}}
        for name, model in (("GA-BP", transfer["OUTPUT_BASELINE_MODEL"]), ("Tr-GA-BP", transfer["OUTPUT_MODEL"]),
                            ("2017 model as is", source["OUTPUT_MODEL"])):
            path = folder / f"map_{name.split()[0].lower()}_seed{seed}.tif"
            runner.run("predictcontent", f"{label} seed {seed}: map {name}", MODEL=model,
                       FACTORS=factors["2019"], OUTPUT=path)
            metrics = map_error(path, truth)
            row["map"][name] = (metrics["RMSE"], metrics["MRE"])
        rows.append(row)
    medians = {}
    for where in ("samples", "map"):
        for name in ("GA-BP", "Tr-GA-BP", "2017 model as is"):
            values = np.array([r[where][name] for r in rows], dtype=float)
            medians[f"{where}:{name}"] = {"RMSE": float(np.nanmedian(values[:, 0])),
                                          "MRE": float(np.nanmedian(values[:, 1]))}
    wins = {where: int(sum(r[where]["Tr-GA-BP"][0] < r[where]["GA-BP"][0] for r in rows))
            for where in ("samples", "map")}
    return {"seeds": seeds, "runs": rows, "medians": medians, "tr_wins": wins,
            "beta_median": float(np.median([r["beta"] for r in rows]))}


def table5_markdown(results):
    """Markdown of the Table 5 medians for both metals."""
    lines = ["| metal | where | error | GA-BP (16 samples only) | Tr-GA-BP (16 samples) | 2017 model as is |",
             "|---|---|---|---|---|---|"]
    for metal, result in results.items():
        seeds = result["seeds"]
        for where, text in (("samples", "held-out 2019 samples"), ("map", "true 2019 map")):
            for error in ("RMSE", "MRE"):
                cells = [result["medians"][f"{where}:{name}"][error] for name in ("GA-BP", "Tr-GA-BP", "2017 model as is")]
                fmt = "{:.2f}" if error == "RMSE" else "{:.3f}"
                lines.append(f"| {metal.capitalize()} | {text} | {error} | " + " | ".join(fmt.format(c) for c in cells) + " |")
        lines.append(f"| {metal.capitalize()} | | Tr-GA-BP better (of {seeds} seeds) | samples {result['tr_wins']['samples']}, "
                     f"map {result['tr_wins']['map']} | median beta {result['beta_median']:.2f} | |")
    return "\n".join(lines)


def main():
    """Run the workflow and print where everything is."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(ROOT / "demo" / "data"))
    parser.add_argument("--output", default=str(ROOT / "demo-output"))
    parser.add_argument("--seeds", type=int, default=TRANSFER_SEEDS,
                        help="seeds for the Table 5 comparison of Tr-GA-BP and GA-BP")
    args = parser.parse_args()
    data = pathlib.Path(args.data).resolve()
    out = pathlib.Path(args.output).resolve()
    for folder in ("factors", "models", "maps", "reports", "tables"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    runner = Runner(out)
    print(f"soilmetal demo: data {data}, outputs {out}")
    landsat = {"2017": data / "landsat8_20171215.tif", "2019": data / "landsat8_20191118.tif"}
    samples = {"2017": data / "samples_2017.gpkg", "2019": data / "samples_2019.gpkg"}
    factors = {}
    if runner.has("spectralindices") and runner.has("terrainfactors"):
        print("Factor preparation")
        terrain = runner.run("terrainfactors", "terrain factors (DEM on the Landsat grid)",
                             INPUT=data / "dem_1arcsec.tif", REFERENCE=landsat["2017"],
                             OUTPUT=out / "factors" / "terrain.tif")["OUTPUT"]
        for year, image in landsat.items():
            spectral = runner.run("spectralindices", f"spectral indices {year}", INPUT=image, SCALE=1,
                                  OUTPUT=out / "factors" / f"spectral_{year}.tif")["OUTPUT"]
            factors[year] = [spectral, terrain]
    summary = {"outputs": str(out), "metals": {}}
    for metal, (field, label, ref_mean, ref_max, breaks) in METALS.items():
        if not factors:
            break
        print(f"{label}")
        entry = summary["metals"][metal] = {}
        selected = ""
        if runner.has("selectfactors"):
            result = runner.run("selectfactors", f"{label}: factor selection on the 2017 samples",
                                POINTS=samples["2017"], FIELD=field, FACTORS=factors["2017"],
                                ALWAYS_INCLUDE=ALWAYS_INCLUDE, OUTLIERS=1,
                                OUTPUT_TABLE=out / "tables" / f"{metal}_factors_2017.csv",
                                OUTPUT_REPORT=out / "reports" / f"{metal}_factor_selection.html")
            selected = result["SELECTED"]
            entry["selected_factors"] = selected
        if not runner.has("traingabp"):
            continue
        source = runner.run("traingabp", f"{label}: GA-BP on the 2017 survey",
                            POINTS=samples["2017"], FIELD=field, FACTORS=factors["2017"],
                            FACTOR_NAMES=selected, ENSEMBLE=5, SEED=0, OUTLIERS=1,
                            OUTPUT_MODEL=out / "models" / f"{metal}_gabp_2017.json",
                            OUTPUT_REPORT=out / "reports" / f"{metal}_gabp_2017.html")
        entry["gabp_2017"] = {k: source[k] for k in ("RMSE", "MRE", "R2")}
        model_2019 = source["OUTPUT_MODEL"]
        if runner.has("transfergabp"):
            transfer = runner.run("transfergabp", f"{label}: Tr-GA-BP to 2019 with 16 samples",
                                  SOURCE_MODEL=source["OUTPUT_MODEL"], POINTS=samples["2019"], FIELD=field,
                                  FACTORS=factors["2019"], TRAIN_SAMPLES=16, SEED=0, OUTLIERS=1,
                                  OUTPUT_MODEL=out / "models" / f"{metal}_trgabp_2019.json",
                                  OUTPUT_REPORT=out / "reports" / f"{metal}_transfer_2019.html")
            entry["transfer_2019"] = {k: transfer[k] for k in ("RMSE", "MRE", "R2", "BETA",
                                                               "BASELINE_RMSE", "BASELINE_MRE")}
            model_2019 = transfer["OUTPUT_MODEL"]
        if runner.has("predictcontent"):
            content = runner.run("predictcontent", f"{label}: content map 2019",
                                 MODEL=model_2019, FACTORS=factors["2019"],
                                 OUTPUT=out / "maps" / f"{metal}_2019.tif",
                                 OUTPUT_UNCERTAINTY=out / "maps" / f"{metal}_2019_uncertainty.tif")
            entry["map"] = content["OUTPUT"]
            if runner.has("contentstatistics"):
                stats = runner.run("contentstatistics", f"{label}: content statistics 2019",
                                   INPUT=content["OUTPUT"], REFERENCE_MEAN=ref_mean, REFERENCE_MAX=ref_max,
                                   CLASS_BREAKS=breaks,
                                   OUTPUT_TABLE=out / "tables" / f"{metal}_statistics_2019.csv",
                                   OUTPUT_REPORT=out / "reports" / f"{metal}_statistics_2019.html",
                                   OUTPUT_INDEX=out / "maps" / f"{metal}_2019_igeo.tif")
                entry["statistics"] = {k: v for k, v in stats.items() if not str(v).endswith((".csv", ".html", ".tif"))}
            truth = data / f"true_{metal}_2019.tif"
            entry["map_error_vs_truth"] = map_error(content["OUTPUT"], truth)
            print(f"  {label}: map against the true 2019 map: RMSE {entry['map_error_vs_truth']['RMSE']:.2f} mg/kg, "
                  f"MRE {entry['map_error_vs_truth']['MRE']:.3f}")
    if args.seeds and runner.has("transfergabp") and factors:
        print(f"Table 5 over {args.seeds} seeds (GA-BP vs Tr-GA-BP with 16 samples of 2019)")
        results = {}
        for metal, (field, label, _, _, _) in METALS.items():
            results[metal] = table5(runner, out, data, samples, factors, metal, field, label,
                                    summary["metals"][metal].get("selected_factors", ""), args.seeds)
        summary["table5"] = results
        markdown = table5_markdown(results)
        (out / "tables" / "table5.md").write_text(markdown + "\n")
        print(markdown)
    model_id = "trgabpworkflow"
    if runner.has(model_id):
        print("The shipped workflow model, one command (Cu)")
        workflow = out / "workflow"
        workflow.mkdir(exist_ok=True)
        result = runner.run(model_id, "Tr-GA-BP workflow model for Cu",
                            LANDSAT_SOURCE=landsat["2017"], LANDSAT_TARGET=landsat["2019"], SCALE=1,
                            DEM=data / "dem_1arcsec.tif", POINTS_SOURCE=samples["2017"], FIELD_SOURCE="cu_mg_kg",
                            POINTS_TARGET=samples["2019"], FIELD_TARGET="cu_mg_kg", ALWAYS_INCLUDE=ALWAYS_INCLUDE,
                            TRAIN_SAMPLES=16, ENSEMBLE=5, SEED=0, REFERENCE_MEAN=21.4, REFERENCE_MAX=43.6,
                            CLASS_BREAKS="0,30,50,70,90,110",
                            **{"statistics:Content statistics report": workflow / "cu_statistics.html",
                               "predict:Content map": workflow / "cu_2019.tif",
                               "transfer:Tr-GA-BP model, second survey": workflow / "cu_trgabp.json"})
        summary["workflow_model"] = {k: str(v) for k, v in result.items()}
    (out / "demo_summary.json").write_text(json.dumps({"summary": summary, "steps": runner.log}, indent=2))
    if summary["metals"] and all("map" in e for e in summary["metals"].values()):
        print("Building the QGIS project ...")
        subprocess.run([PYTHON, str(ROOT / "demo" / "build_project.py"), "--output", str(out), "--data", str(data)],
                       env=runner.env, check=True)
    print("\nDone. Outputs:")
    for folder in ("factors", "models", "maps", "reports", "tables", "figures", "workflow"):
        if not (out / folder).is_dir():
            continue
        files = sorted(p.name for p in (out / folder).iterdir() if not p.name.startswith("."))
        print(f"  {out / folder}: {', '.join(files) if files else '(none)'}")
    print(f"  summary: {out / 'demo_summary.json'}")
    if (out / "soilmetal_demo.qgz").exists():
        print(f"  QGIS project (open it in QGIS): {out / 'soilmetal_demo.qgz'}")
    missing = [a for a in ("spectralindices", "terrainfactors", "selectfactors", "traingabp",
                           "transfergabp", "predictcontent", "contentstatistics") if not runner.has(a)]
    if missing:
        print(f"  (not yet available, skipped: {', '.join(missing)})")


if __name__ == "__main__":
    main()
