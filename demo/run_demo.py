"""`make demo`: the whole soilmetal workflow, headless, on the demo data, in one QGIS process.

Every step is a `processing.run("soilmetal:<id>", ...)` call inside one QgsApplication (starting
QGIS once instead of once per step: about 2.3 s saved per step); two steps go through
`qgis_process run soilmetal:<id> -- KEY=VALUE ...`, exactly as a user's script on a server would,
and print their command line. Every output lands under the output folder; at the end it says
what to open first.
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
    """Runs the steps with processing.run inside this one QGIS process; `command_line=True` runs a
    step through qgis_process instead, exactly as a user's script on a server would."""

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
        os.environ.update({k: self.env[k] for k in ("QT_QPA_PLATFORM", "QGIS_CUSTOM_CONFIG_PATH",
                                                    "XDG_RUNTIME_DIR")})
        sys.path.insert(0, str(plugins))
        sys.path.append("/usr/share/qgis/python/plugins")
        from qgis.core import QgsApplication
        QgsApplication.setPrefixPath("/usr", True)
        self.app = QgsApplication([], False)
        self.app.initQgis()
        import processing
        from processing.core.Processing import Processing
        Processing.initialize()
        import soilmetal
        self.plugin = soilmetal.classFactory(None)
        self.plugin.initProcessing()
        self.processing = processing
        self.available = {a.name() for a in self.plugin.provider.algorithms()}
        self.cli_enabled = False
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

    def execute(self, algorithm, params, command_line=False):
        """One step -> its results dict, in this process or through qgis_process."""
        if not command_line:
            from qgis.core import QgsProcessingContext, QgsProcessingFeedback
            values = {k: ([str(v) for v in value] if isinstance(value, (list, tuple))
                          else str(value) if isinstance(value, pathlib.Path) else value)
                      for k, value in params.items()}
            return self.processing.run(f"soilmetal:{algorithm}", values, context=QgsProcessingContext(),
                                       feedback=QgsProcessingFeedback())
        if not self.cli_enabled:
            self.call(["plugins", "enable", "soilmetal"])
            self.cli_enabled = True
        args = ["--json", "run", f"soilmetal:{algorithm}", "--"]
        for key, value in params.items():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                args.append(f"{key}={item}")
        text = self.call(args)
        return json.loads(text[text.find("{"):])["results"]

    def run(self, algorithm, label, command_line=False, quiet=False, **params):
        """Run one step, print one progress line (unless quiet), log it -> results dict."""
        started = time.time()
        if not quiet:
            print(f"  {label} ...", end="", flush=True)
        results = self.execute(algorithm, params, command_line)
        seconds = time.time() - started
        if not quiet:
            print(f" {seconds:.1f} s")
            if command_line:
                print("    " + command_text(algorithm, params, self.output))
        self.log.append({"step": label, "algorithm": algorithm, "seconds": round(seconds, 2),
                         "via": "qgis_process" if command_line else "processing.run",
                         "parameters": {k: str(v) for k, v in params.items()},
                         "results": {k: v if isinstance(v, (int, float, str, type(None))) else str(v)
                                     for k, v in results.items()}})
        return results

    def close(self):
        """Shut QGIS down."""
        self.app.exitQgis()


def command_text(algorithm, params, output):
    """The qgis_process command line of a step, paths relative to where the demo runs."""
    def short(value):
        text = str(value)
        for base in (pathlib.Path.cwd(),):
            try:
                return str(pathlib.Path(text).relative_to(base))
            except ValueError:
                continue
        return text
    parts = []
    for key, value in params.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            parts.append(f"{key}={short(item)}")
    return f"$ qgis_process run soilmetal:{algorithm} -- " + " ".join(parts)


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
    started = time.time()
    print(f"  {label}: {seeds} seeds x (GA-BP 2017, Tr-GA-BP 2019, 3 maps) ...", end="", flush=True)
    for seed in range(seeds):
        print(f" {seed + 1}" if seed % 3 == 2 or seed == seeds - 1 else "", end="", flush=True)
        source = runner.run("traingabp", f"{label} seed {seed}: GA-BP 2017", quiet=True, POINTS=samples["2017"], FIELD=field,
                            FACTORS=factors["2017"], FACTOR_NAMES=selected, OUTLIERS=1, SEED=seed,
                            OUTPUT_MODEL=folder / f"gabp_2017_seed{seed}.json")
        transfer = runner.run("transfergabp", f"{label} seed {seed}: Tr-GA-BP 2019", quiet=True, SOURCE_MODEL=source["OUTPUT_MODEL"],
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
            runner.run("predictcontent", f"{label} seed {seed}: map {name}", quiet=True, MODEL=model,
                       FACTORS=factors["2019"], OUTPUT=path)
            metrics = map_error(path, truth)
            row["map"][name] = (metrics["RMSE"], metrics["MRE"])
        rows.append(row)
    print(f" {time.time() - started:.1f} s")
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


def shown(path):
    """A path as the user typed it: relative to the current folder when inside it."""
    try:
        return str(pathlib.Path(path).resolve().relative_to(pathlib.Path.cwd()))
    except ValueError:
        return str(path)


def main():
    """Run the workflow in one QGIS process, one progress line per step, then say what to open."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(ROOT / "demo" / "data"))
    parser.add_argument("--output", default=str(ROOT / "demo-output"))
    parser.add_argument("--seeds", type=int, default=TRANSFER_SEEDS,
                        help="seeds for the Table 5 comparison of Tr-GA-BP and GA-BP (0 skips it)")
    args = parser.parse_args()
    began = time.time()
    data = pathlib.Path(args.data).resolve()
    out = pathlib.Path(args.output).resolve()
    for folder in ("factors", "models", "maps", "reports", "tables"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    print(f"soilmetal demo: data {shown(data)}, outputs {shown(out)}")
    print("Starting QGIS (one process for the whole demo; two steps go through qgis_process to "
          "show the command line) ...", flush=True)
    runner = Runner(out)
    landsat = {"2017": data / "landsat8_20171215.tif", "2019": data / "landsat8_20191118.tif"}
    samples = {"2017": data / "samples_2017.gpkg", "2019": data / "samples_2019.gpkg"}
    factors = {}
    print("Factor preparation")
    spectral = {}
    for year, image in landsat.items():
        spectral[year] = runner.run("spectralindices", f"spectral indices {year}", command_line=year == "2017",
                                    INPUT=image, SCALE=1, OUTPUT=out / "factors" / f"spectral_{year}.tif")["OUTPUT"]
    terrain = runner.run("terrainfactors", "terrain factors (DEM on the Landsat grid)",
                         INPUT=data / "dem_1arcsec.tif", REFERENCE=landsat["2017"],
                         OUTPUT=out / "factors" / "terrain.tif")["OUTPUT"]
    factors = {year: [spectral[year], terrain] for year in landsat}
    summary = {"outputs": str(out), "metals": {}}
    for metal, (field, label, ref_mean, ref_max, breaks) in METALS.items():
        print(f"{label}")
        entry = summary["metals"][metal] = {}
        result = runner.run("selectfactors", f"{label}: factor selection on the 2017 samples",
                            POINTS=samples["2017"], FIELD=field, FACTORS=factors["2017"],
                            ALWAYS_INCLUDE=ALWAYS_INCLUDE, OUTLIERS=1,
                            OUTPUT_TABLE=out / "tables" / f"{metal}_factors_2017.csv",
                            OUTPUT_REPORT=out / "reports" / f"{metal}_factor_selection.html")
        selected = entry["selected_factors"] = result["SELECTED"]
        source = runner.run("traingabp", f"{label}: GA-BP on the 2017 survey",
                            POINTS=samples["2017"], FIELD=field, FACTORS=factors["2017"],
                            FACTOR_NAMES=selected, ENSEMBLE=5, SEED=0, OUTLIERS=1,
                            OUTPUT_MODEL=out / "models" / f"{metal}_gabp_2017.json",
                            OUTPUT_REPORT=out / "reports" / f"{metal}_gabp_2017.html")
        entry["gabp_2017"] = {k: source[k] for k in ("RMSE", "MRE", "R2")}
        transfer = runner.run("transfergabp", f"{label}: Tr-GA-BP to 2019 with 16 samples",
                              SOURCE_MODEL=source["OUTPUT_MODEL"], POINTS=samples["2019"], FIELD=field,
                              FACTORS=factors["2019"], TRAIN_SAMPLES=16, SEED=0, OUTLIERS=1,
                              OUTPUT_MODEL=out / "models" / f"{metal}_trgabp_2019.json",
                              OUTPUT_REPORT=out / "reports" / f"{metal}_transfer_2019.html")
        entry["transfer_2019"] = {k: transfer[k] for k in ("RMSE", "MRE", "R2", "BETA",
                                                           "BASELINE_RMSE", "BASELINE_MRE")}
        content = runner.run("predictcontent", f"{label}: content map 2019",
                             MODEL=transfer["OUTPUT_MODEL"], FACTORS=factors["2019"],
                             OUTPUT=out / "maps" / f"{metal}_2019.tif",
                             OUTPUT_UNCERTAINTY=out / "maps" / f"{metal}_2019_uncertainty.tif")
        entry["map"] = content["OUTPUT"]
        stats = runner.run("contentstatistics", f"{label}: content statistics 2019", command_line=metal == "cu",
                           INPUT=content["OUTPUT"], REFERENCE_MEAN=ref_mean, REFERENCE_MAX=ref_max,
                           CLASS_BREAKS=breaks,
                           OUTPUT_TABLE=out / "tables" / f"{metal}_statistics_2019.csv",
                           OUTPUT_REPORT=out / "reports" / f"{metal}_statistics_2019.html",
                           OUTPUT_INDEX=out / "maps" / f"{metal}_2019_igeo.tif")
        entry["statistics"] = {k: v for k, v in stats.items() if not str(v).endswith((".csv", ".html", ".tif"))}
        entry["map_error_vs_truth"] = map_error(content["OUTPUT"], data / f"true_{metal}_2019.tif")
        print(f"  {label}: map against the true 2019 map: RMSE {entry['map_error_vs_truth']['RMSE']:.3g} mg/kg, "
              f"MRE {entry['map_error_vs_truth']['MRE']:.3g}")
    if args.seeds:
        print(f"Table 5 over {args.seeds} seeds (GA-BP vs Tr-GA-BP with 16 samples of 2019)")
        results = {}
        for metal, (field, label, _, _, _) in METALS.items():
            results[metal] = table5(runner, out, data, samples, factors, metal, field, label,
                                    summary["metals"][metal]["selected_factors"], args.seeds)
        summary["table5"] = results
        (out / "tables" / "table5.md").write_text(table5_markdown(results) + "\n")
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
    print("QGIS project and README figures ...", end="", flush=True)
    started = time.time()
    from build_project import build_project
    project = build_project(out, data, summary)
    print(f" {time.time() - started:.1f} s")
    runner.close()
    minutes, seconds = divmod(round(time.time() - began), 60)
    print(f"\nDone in {minutes} min {seconds:02d} s.")
    print(f"Open {shown(project)} in QGIS")
    print("Read first:")
    for name, what in (("cu_transfer_2019.html", "does the transfer to 2019 help, and how sure is it"),
                       ("cu_statistics_2019.html", "the Cu map's statistics, classes and Igeo (Tables 6, 7)"),
                       ("cu_factor_selection.html", "which factors the model uses and why")):
        print(f"  {shown(out / 'reports' / name)}  ({what})")
    if args.seeds:
        print(f"Table 5: {shown(out / 'tables' / 'table5.md')}; every step and number: "
              f"{shown(out / 'demo_summary.json')}")


if __name__ == "__main__":
    main()
