"""Does the topographic correction lower the CV error of the demo's content maps? (issue 13)

The Tr-GA-BP chain of the demo (demo/run_demo.py) twice on the same data: once on the images as
they are, once with both images C-corrected first (topographiccorrection METHOD 1 with each
image's sun, as the shipped model's TOPOGRAPHIC_CORRECTION=2 runs it: bands scaled to 0-1
reflectance, corrected, indices from the corrected bands). Factors are selected again on each
variant. Each row gives, per outlier fence and seed: the 2017 GA-BP and MLR spatial 5-fold CV RMSE,
the 2019 Tr-GA-BP CV RMSE with the transfer verdict, and the 2019 map's RMSE against the demo's
true map. Prints a markdown table; every step is a processing.run call in one QGIS process.

Usage: /usr/bin/python3 bench/demo_topographic_cv.py [--thresholds 1.5 3] [--seeds 0 1 2]
"""

import argparse
import json
import pathlib
import statistics
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.generate_demo_data import main as generate_demo_data  # noqa: E402
from demo.run_demo import ALWAYS_INCLUDE, METALS, Runner, map_error  # noqa: E402

DAYS = {"2017": "20171215", "2019": "20191118"}
C_CORRECTION = 1
SPECTRAL_BANDS = [0, 1, 2, 3, 4, 5]  # B2..B7 as reflectance: spectralindices FACTORS indices


def images(runner, data, out):
    """{variant: ({year: image path}, SCALE)} for the plain and the C-corrected images."""
    sun = json.loads((data / "demo_metadata.json").read_text())["landsat"]
    plain = {year: data / f"landsat8_{day}.tif" for year, day in DAYS.items()}
    corrected = {}
    for year in DAYS:
        bands = runner.run("spectralindices", f"reflectance {year}", quiet=True, INPUT=plain[year], SCALE=1,
                           FACTORS=SPECTRAL_BANDS, OUTPUT=out / f"bands_{year}.tif")["OUTPUT"]
        corrected[year] = runner.run(
            "topographiccorrection", f"C-correction {year}", quiet=True, INPUT=bands,
            DEM=data / "dem_1arcsec.tif", METHOD=C_CORRECTION, SUN_AZIMUTH=sun[year]["sun_azimuth_deg"],
            SUN_ELEVATION=sun[year]["sun_elevation_deg"], OUTPUT=out / f"corrected_{year}.tif")["OUTPUT"]
    return {"plain": (plain, 1), "corrected": (corrected, 0)}


def chain(runner, data, out, name, spectral, terrain, metal, threshold, seed):
    """Select, train (spatial CV), transfer (spatial CV) and map one metal -> one result row."""
    field = METALS[metal][0]
    samples = {"OUTLIERS": 1, "OUTLIERS_THRESHOLD": threshold}
    source, target = [spectral["2017"], terrain], [spectral["2019"], terrain]
    selected = runner.run("selectfactors", "select", quiet=True, POINTS=data / "samples_2017.gpkg", FIELD=field,
                          FACTORS=source, MIN_ABS_R=0.3, MAX_VIF=10.0, ALWAYS_INCLUDE=ALWAYS_INCLUDE,
                          **samples)["SELECTED"]
    train = runner.run("traingabp", "train", quiet=True, POINTS=data / "samples_2017.gpkg", FIELD=field,
                       FACTORS=source, FACTOR_NAMES=selected, ENSEMBLE=5, SEED=seed, CV=2,
                       OUTPUT_MODEL=out / f"{name}_src.json", **samples)
    transfer = runner.run("transfergabp", "transfer", quiet=True, SOURCE_MODEL=train["OUTPUT_MODEL"],
                          POINTS=data / "samples_2019.gpkg", FIELD=field, FACTORS=target, TRAIN_SAMPLES=16,
                          SEED=seed, CV=2, OUTPUT_MODEL=out / f"{name}_tr.json", **samples)
    content = runner.run("predictcontent", "map", quiet=True, MODEL=transfer["OUTPUT_MODEL"], FACTORS=target,
                         OUTPUT=out / f"{name}_2019.tif")["OUTPUT"]
    map_rmse = map_error(content, data / f"true_{metal}_2019.tif")["RMSE"]
    return {"selected": selected, "gabp": train["CV_RMSE"], "mlr": train["MLR_CV_RMSE"],
            "tr": transfer["CV_RMSE"], "verdict": transfer["VERDICT"], "map": map_rmse}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "demo" / "data"))
    parser.add_argument("--thresholds", type=float, nargs="+", default=[1.5, 3.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    options = parser.parse_args()
    data = pathlib.Path(options.data)
    generate_demo_data([str(data)])  # as make demo-data: nothing to do when the data are complete
    out = pathlib.Path(tempfile.mkdtemp(prefix="soilmetal-topo-cv-"))
    runner = Runner(out)
    try:
        variants = images(runner, data, out)
        terrain = runner.run("terrainfactors", "terrain", quiet=True, INPUT=data / "dem_1arcsec.tif", BAND=1,
                             REFERENCE=data / "landsat8_20171215.tif", OUTPUT=out / "terrain.tif")["OUTPUT"]
        spectral = {variant: {year: runner.run("spectralindices", "indices", quiet=True, INPUT=paths[year], SCALE=scale,
                                               OUTPUT=out / f"{variant}_spectral_{year}.tif")["OUTPUT"]
                              for year in DAYS}
                    for variant, (paths, scale) in variants.items()}
        print("| metal | IQR k | images | seed | factors | GA-BP 2017 CV RMSE | MLR 2017 CV RMSE "
              "| Tr-GA-BP 2019 CV RMSE (verdict) | 2019 map RMSE |")
        print("|---|---|---|---|---|---|---|---|---|")
        summary = {}
        for metal in METALS:
            for threshold in options.thresholds:
                for variant in variants:
                    for seed in options.seeds:
                        name = f"{variant}_{metal}_{threshold:g}_{seed}"
                        row = chain(runner, data, out, name, spectral[variant], terrain, metal, threshold, seed)
                        summary.setdefault((metal, threshold, variant), []).append(row)
                        print(f"| {METALS[metal][1]} | {threshold:g} | {variant} | {seed} | {row['selected']} "
                              f"| {row['gabp']:.2f} | {row['mlr']:.2f} | {row['tr']:.2f} ({row['verdict']}) "
                              f"| {row['map']:.2f} |", flush=True)
        print("\nMedians over the seeds:\n")
        print("| metal | IQR k | images | GA-BP 2017 CV RMSE | MLR 2017 CV RMSE | Tr-GA-BP 2019 CV RMSE "
              "| 2019 map RMSE |")
        print("|---|---|---|---|---|---|---|")
        for (metal, threshold, variant), rows in summary.items():
            medians = [statistics.median(r[key] for r in rows) for key in ("gabp", "mlr", "tr", "map")]
            print(f"| {METALS[metal][1]} | {threshold:g} | {variant} | " + " | ".join(f"{v:.2f}" for v in medians)
                  + " |")
    finally:
        runner.close()


if __name__ == "__main__":
    main()
